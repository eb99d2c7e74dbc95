"""The query parameters a V1 signature covers: those that are part of its canonical resource. The list is
oss2's (``oss2.auth.ProviderAuth._subresource_key_set``) plus those the v2 SDK's V1 signer adds per operation; the
dispatcher also uses it to tell a sub-resource request from a plain one."""

from __future__ import annotations

#: Query parameters that are part of the V1 canonical resource (``oss2.auth.ProviderAuth._subresource_key_set``).
V1_SUBRESOURCES = frozenset(
    """response-content-type response-content-language response-cache-control logging response-content-encoding
    acl uploadId uploads partNumber group link delete website location objectInfo objectMeta response-expires
    response-content-disposition cors lifecycle restore qos referer stat bucketInfo append position security-token
    live comp status vod startTime endTime x-oss-process symlink callback callback-var tagging encryption versions
    versioning versionId policy requestPayment x-oss-traffic-limit qosInfo asyncFetch x-oss-request-payer
    sequential inventory inventoryId continuation-token worm wormId wormExtend replication replicationLocation
    replicationProgress transferAcceleration cname metaQuery x-oss-ac-source-ip x-oss-ac-subnet-mask
    x-oss-ac-vpc-id x-oss-ac-forward-allow resourceGroup style styleName x-oss-async-process regionList
    x-oss-write-get-object-response bucketArchiveDirectRead httpsConfig redundancyTransition
    x-oss-target-redundancy-type x-oss-redundancy-transition-taskid accessPoint accessPointPolicy
    publicAccessBlock x-oss-access-point-name requesterQosInfo qosRequester resourcePoolInfo resourcePool
    resourcePoolBuckets""".split()
) | frozenset(
    # ... and those the v2 SDK's V1 signer adds per operation (its ``sub_resource`` lists).
    """cloudboxes seal cleanRestoredObject action dataPipeline legalHold metadataConfiguration metadataInventoryTable
    metadataJournalTable objectWorm overwriteConfig policyStatus quota retention rtc userDefinedLogFieldsConfig
    MetaQuery""".split()
)
