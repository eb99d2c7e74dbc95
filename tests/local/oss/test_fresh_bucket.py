"""Issue 21 point 1: what the local OSS does not model answers as a fresh OSS bucket answers — empty lists, OSS's own
404 codes, default documents — and descriptive configurations round-trip (Put, Get, Delete) with their shape
checked; what would change data stays 501. With oss2 (its own iterators) and the v2 SDK, over HTTP.

Each expected status and code is the one model/subresources.py's table cites (API reference, or oss2's own
integration tests run against OSS where the reference is silent)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import alibabacloud_oss_v2 as oss_v2
import oss2
import pytest
from oss2.models import (
    BucketLifecycle,
    BucketLogging,
    BucketReferer,
    BucketWebsite,
    LifecycleExpiration,
    LifecycleRule,
    ServerSideEncryptionRule,
    Tagging,
    TaggingRule,
)

from osscallback.local.oss import LocalOSS


def _oss2_error(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(oss2.exceptions.OssError) as exc:
        call()
    return exc.value.status, exc.value.code


def _v2_error(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        call()
    err = exc.value.unwrap()
    return int(err.status_code), str(err.code)


# --- a fresh bucket, read ------------------------------------------------------------------------------------------


def test_oss2_reads_of_a_fresh_bucket(bucket: oss2.Bucket) -> None:
    assert _oss2_error(bucket.get_bucket_lifecycle) == (404, "NoSuchLifecycle")
    assert _oss2_error(bucket.get_bucket_website) == (404, "NoSuchWebsiteConfiguration")
    assert _oss2_error(bucket.get_bucket_policy) == (404, "NoSuchBucketPolicy")
    assert _oss2_error(bucket.get_bucket_encryption) == (404, "NoSuchServerSideEncryptionRule")
    assert _oss2_error(bucket.list_bucket_inventory_configurations) == (404, "NoSuchInventory")
    assert _oss2_error(lambda: bucket.get_bucket_inventory_configuration("none")) == (404, "NoSuchInventory")
    assert _oss2_error(bucket.get_bucket_worm) == (404, "NoSuchWORMConfiguration")
    assert _oss2_error(bucket.get_bucket_transfer_acceleration) == (404, "NoSuchTransferAccelerationConfiguration")
    assert _oss2_error(bucket.get_bucket_callback_policy) == (404, "BucketCallbackPolicyNotExist")
    assert _oss2_error(lambda: bucket.get_live_channel("channel")) == (404, "NoSuchLiveChannel")
    assert bucket.get_bucket_versioning().status is None
    assert bucket.get_bucket_tagging().tag_set.tagging_rule == {}
    logging = bucket.get_bucket_logging()
    assert (logging.target_bucket, logging.target_prefix) == ("", "")
    referer = bucket.get_bucket_referer()
    assert referer.allow_empty_referer is True and referer.referers == []
    assert bucket.get_bucket_request_payment().payer == "BucketOwner"
    assert bucket.get_bucket_access_monitor().access_monitor.status == "Disabled"
    assert bucket.get_bucket_archive_direct_read().enabled is False
    assert bucket.get_bucket_https_config().tls_enabled is False
    assert bucket.get_bucket_public_access_block().block_public_access is False
    assert bucket.list_bucket_cname().cname == []
    assert list(oss2.LiveChannelIterator(bucket)) == []
    assert bucket.list_live_channel(prefix="p", max_keys=5).channels == []


def test_oss2_cleanup_helper_lists_everything_then_deletes_the_bucket(local_oss: LocalOSS, bucket: oss2.Bucket) -> None:
    """The bucket clean-up helper every test suite has, written for OSS, works here unchanged."""
    service = oss2.Service(bucket.auth, local_oss.endpoint, region="cn-hangzhou")
    service_bucket = oss2.Bucket(bucket.auth, local_oss.endpoint, "cleanme", region="cn-hangzhou")
    service_bucket.create_bucket()
    for n in range(3):
        service_bucket.put_object(f"obj/{n}\x0c", b"x")
    service_bucket.init_multipart_upload("upload")
    service_bucket.init_multipart_upload("upload")
    for upload in list(oss2.MultipartUploadIterator(service_bucket)):
        service_bucket.abort_multipart_upload(upload.key, upload.upload_id)
    for channel in oss2.LiveChannelIterator(service_bucket):
        service_bucket.delete_live_channel(channel.name)
    keys = [o.key for o in oss2.ObjectIterator(service_bucket)]
    assert sorted(service_bucket.batch_delete_objects(keys).deleted_keys) == sorted(keys)
    service_bucket.delete_bucket()
    assert "cleanme" not in [b.name for b in oss2.BucketIterator(service)]


def test_v2_reads_of_a_fresh_bucket(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    missing = {
        "NoSuchLifecycle": lambda: v2client.get_bucket_lifecycle(oss_v2.GetBucketLifecycleRequest(bucket=b)),
        "NoSuchWebsiteConfiguration": lambda: v2client.get_bucket_website(oss_v2.GetBucketWebsiteRequest(bucket=b)),
        "NoSuchBucketPolicy": lambda: v2client.get_bucket_policy(oss_v2.GetBucketPolicyRequest(bucket=b)),
        "NoSuchServerSideEncryptionRule": lambda: v2client.get_bucket_encryption(
            oss_v2.GetBucketEncryptionRequest(bucket=b)
        ),
        "NoSuchInventory": lambda: v2client.list_bucket_inventory(oss_v2.ListBucketInventoryRequest(bucket=b)),
        "NoSuchWORMConfiguration": lambda: v2client.get_bucket_worm(oss_v2.GetBucketWormRequest(bucket=b)),
        "NoSuchTransferAccelerationConfiguration": lambda: v2client.get_bucket_transfer_acceleration(
            oss_v2.GetBucketTransferAccelerationRequest(bucket=b)
        ),
    }
    for code, call in missing.items():
        assert _v2_error(call) == (404, code), code
    assert v2client.get_bucket_versioning(oss_v2.GetBucketVersioningRequest(bucket=b)).version_status is None
    tagging = v2client.get_bucket_tags(oss_v2.GetBucketTagsRequest(bucket=b)).tagging
    assert tagging is None or tagging.tag_set is None or not tagging.tag_set.tags
    logging = v2client.get_bucket_logging(oss_v2.GetBucketLoggingRequest(bucket=b)).bucket_logging_status
    assert logging is None or logging.logging_enabled is None
    referer = v2client.get_bucket_referer(oss_v2.GetBucketRefererRequest(bucket=b)).referer_configuration
    assert referer.allow_empty_referer is True
    payment = v2client.get_bucket_request_payment(oss_v2.GetBucketRequestPaymentRequest(bucket=b))
    assert payment.request_payment_configuration.payer == "BucketOwner"
    monitor = v2client.get_bucket_access_monitor(oss_v2.GetBucketAccessMonitorRequest(bucket=b))
    assert monitor.access_monitor_configuration.status == "Disabled"
    block = v2client.get_bucket_public_access_block(oss_v2.GetBucketPublicAccessBlockRequest(bucket=b))
    assert block.public_access_block_configuration.block_public_access is False
    cnames = v2client.list_cname(oss_v2.ListCnameRequest(bucket=b))
    assert cnames.bucket == b and not cnames.cnames


def test_bucket_stat_counts_what_the_bucket_holds(local_oss: LocalOSS, bucket: oss2.Bucket, v2client: oss_v2.Client) -> None:
    fresh = bucket.get_bucket_stat()
    assert (fresh.storage_size_in_bytes, fresh.object_count, fresh.multi_part_upload_count) == (0, 0, 0)
    bucket.put_object("a", b"12345")
    bucket.put_object("b", b"678")
    upload_id = bucket.init_multipart_upload("big").upload_id
    bucket.upload_part("big", upload_id, 1, b"part")
    stat = bucket.get_bucket_stat()
    assert (stat.storage_size_in_bytes, stat.object_count, stat.multi_part_upload_count) == (8, 2, 1)
    assert stat.standard_storage == 8 and stat.standard_object_count == 2 and stat.archive_storage == 0
    v2_stat = v2client.get_bucket_stat(oss_v2.GetBucketStatRequest(bucket=local_oss.bucket))
    assert (v2_stat.storage, v2_stat.object_count, v2_stat.multi_part_upload_count) == (8, 2, 1)
    assert v2_stat.live_channel_count == 0 and v2_stat.standard_storage == 8 and v2_stat.delete_marker_count == 0


def test_object_versions_of_a_bucket_without_versioning(
    local_oss: LocalOSS, bucket: oss2.Bucket, v2client: oss_v2.Client
) -> None:
    """Every object is its only version, ID "null", latest; no delete markers — the versions-aware clean-up loop
    (list versions, delete each) ends as on OSS."""
    assert bucket.list_object_versions().versions == []
    for key in ("a", "dir/b", "dir/c", "z"):
        bucket.put_object(key, key.encode())
    pages = []
    key_marker, version_marker = "", ""
    while True:
        page = bucket.list_object_versions(key_marker=key_marker, versionid_marker=version_marker, max_keys=1)
        pages.append([(v.key, v.versionid, v.is_latest, v.size) for v in page.versions])
        if not page.is_truncated:
            break
        key_marker, version_marker = page.next_key_marker, page.next_versionid_marker
    assert pages == [[("a", "null", True, 1)], [("dir/b", "null", True, 5)], [("dir/c", "null", True, 5)],
                     [("z", "null", True, 1)]]
    rolled = bucket.list_object_versions(delimiter="/")
    assert [v.key for v in rolled.versions] == ["a", "z"] and rolled.common_prefix == ["dir/"]
    listed = v2client.list_object_versions(oss_v2.ListObjectVersionsRequest(bucket=local_oss.bucket, prefix="dir/"))
    assert [(v.key, v.version_id, v.is_latest) for v in listed.version] == [("dir/b", "null", True), ("dir/c", "null", True)]
    assert not listed.delete_marker


# --- descriptive configurations: stored as sent, not enforced -------------------------------------------------------


def test_oss2_configurations_round_trip(bucket: oss2.Bucket) -> None:
    rule = LifecycleRule("expire-logs", "logs/", status=LifecycleRule.ENABLED, expiration=LifecycleExpiration(days=3))
    bucket.put_bucket_lifecycle(BucketLifecycle([rule]))
    assert [(r.id, r.prefix, r.expiration.days) for r in bucket.get_bucket_lifecycle().rules] == [
        ("expire-logs", "logs/", 3)
    ]
    bucket.delete_bucket_lifecycle()
    assert _oss2_error(bucket.get_bucket_lifecycle) == (404, "NoSuchLifecycle")
    bucket.delete_bucket_lifecycle()  # deleting what is not there: 204 as well

    bucket.put_bucket_website(BucketWebsite("index.html", "error.html"))
    website = bucket.get_bucket_website()
    assert (website.index_file, website.error_file) == ("index.html", "error.html")
    bucket.delete_bucket_website()
    assert _oss2_error(bucket.get_bucket_website) == (404, "NoSuchWebsiteConfiguration")

    policy = '{"Version":"1","Statement":[{"Effect":"Deny","Action":["oss:GetObject"],"Principal":["*"]}]}'
    bucket.put_bucket_policy(policy)
    assert bucket.get_bucket_policy().policy == policy
    bucket.delete_bucket_policy()
    assert _oss2_error(bucket.get_bucket_policy) == (404, "NoSuchBucketPolicy")

    bucket.put_bucket_encryption(ServerSideEncryptionRule("AES256"))
    assert bucket.get_bucket_encryption().sse_algorithm == "AES256"
    bucket.delete_bucket_encryption()
    assert _oss2_error(bucket.get_bucket_encryption) == (404, "NoSuchServerSideEncryptionRule")

    tags = TaggingRule()
    tags.add("team", "数据")
    bucket.put_bucket_tagging(Tagging(tags))
    assert bucket.get_bucket_tagging().tag_set.tagging_rule == {"team": "数据"}
    bucket.delete_bucket_tagging()
    assert bucket.get_bucket_tagging().tag_set.tagging_rule == {}

    bucket.put_bucket_logging(BucketLogging(bucket.bucket_name, "access-log/"))
    assert bucket.get_bucket_logging().target_prefix == "access-log/"
    bucket.delete_bucket_logging()
    assert bucket.get_bucket_logging().target_prefix == ""

    bucket.put_bucket_referer(BucketReferer(False, ["https://example.com"]))
    referer = bucket.get_bucket_referer()
    assert (referer.allow_empty_referer, referer.referers) == (False, ["https://example.com"])
    bucket.put_object("still-readable", b"x")  # not enforced: an empty Referer still reads
    assert bucket.get_object("still-readable").read() == b"x"


def test_oss2_inventory_configurations_by_id(bucket: oss2.Bucket) -> None:
    from oss2.models import (
        INVENTORY_FORMAT_CSV,
        INVENTORY_FREQUENCY_DAILY,
        INVENTORY_INCLUDED_OBJECT_VERSIONS_CURRENT,
        InventoryBucketDestination,
        InventoryConfiguration,
        InventoryDestination,
    )

    def inventory(inventory_id: str) -> InventoryConfiguration:
        destination = InventoryDestination(
            bucket_destination=InventoryBucketDestination(
                account_id="1234567890",
                role_arn="acs:ram::1234567890:role/AliyunOSSRole",
                bucket=bucket.bucket_name,
                inventory_format=INVENTORY_FORMAT_CSV,
                prefix="inventory/",
            )
        )
        return InventoryConfiguration(
            inventory_id=inventory_id,
            is_enabled=True,
            inventory_schedule=oss2.models.InventorySchedule(frequency=INVENTORY_FREQUENCY_DAILY),
            included_object_versions=INVENTORY_INCLUDED_OBJECT_VERSIONS_CURRENT,
            inventory_destination=destination,
        )

    bucket.put_bucket_inventory_configuration(inventory("second"))
    bucket.put_bucket_inventory_configuration(inventory("first"))
    assert bucket.get_bucket_inventory_configuration("first").inventory_id == "first"
    listed = bucket.list_bucket_inventory_configurations()
    assert [c.inventory_id for c in listed.inventory_configurations] == ["first", "second"]
    assert not listed.is_truncated
    bucket.delete_bucket_inventory_configuration("first")
    bucket.delete_bucket_inventory_configuration("second")
    assert _oss2_error(bucket.list_bucket_inventory_configurations) == (404, "NoSuchInventory")


def test_v2_configurations_round_trip(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    v2client.put_bucket_lifecycle(
        oss_v2.PutBucketLifecycleRequest(
            bucket=b,
            lifecycle_configuration=oss_v2.LifecycleConfiguration(
                rules=[
                    oss_v2.LifecycleRule(
                        id="r1", prefix="tmp/", status="Enabled", expiration=oss_v2.LifecycleRuleExpiration(days=1)
                    )
                ]
            ),
        )
    )
    rules = v2client.get_bucket_lifecycle(oss_v2.GetBucketLifecycleRequest(bucket=b)).lifecycle_configuration.rules
    assert [(r.id, r.prefix, r.expiration.days) for r in rules] == [("r1", "tmp/", 1)]
    v2client.delete_bucket_lifecycle(oss_v2.DeleteBucketLifecycleRequest(bucket=b))
    assert _v2_error(lambda: v2client.get_bucket_lifecycle(oss_v2.GetBucketLifecycleRequest(bucket=b)))[1] == (
        "NoSuchLifecycle"
    )
    policy = '{"Version":"1","Statement":[]}'
    v2client.put_bucket_policy(oss_v2.PutBucketPolicyRequest(bucket=b, body=policy))
    assert v2client.get_bucket_policy(oss_v2.GetBucketPolicyRequest(bucket=b)).body == policy
    v2client.put_bucket_tags(
        oss_v2.PutBucketTagsRequest(
            bucket=b, tagging=oss_v2.Tagging(tag_set=oss_v2.TagSet(tags=[oss_v2.Tag(key="env", value="测试")]))
        )
    )
    tags = v2client.get_bucket_tags(oss_v2.GetBucketTagsRequest(bucket=b)).tagging.tag_set.tags
    assert [(t.key, t.value) for t in tags] == [("env", "测试")]
    v2client.delete_bucket_tags(oss_v2.DeleteBucketTagsRequest(bucket=b))
    tagging = v2client.get_bucket_tags(oss_v2.GetBucketTagsRequest(bucket=b)).tagging
    assert tagging is None or tagging.tag_set is None or not tagging.tag_set.tags


def test_bucket_tag_rules_and_deleting_named_tags(local_oss: LocalOSS, bucket: oss2.Bucket, v2client: oss_v2.Client) -> None:
    # Bucket tags: at most 20, keys of 1-64 characters not starting with http://, https://, Aliyun or acs
    # (https://www.alibabacloud.com/help/en/oss/support/0010-00000002).
    for key, count in [("acs:reserved", 1), ("Aliyun-x", 1), ("k" * 65, 1), ("k", 21)]:
        rule = TaggingRule()
        for n in range(count):
            rule.add(f"{key}{n}" if count > 1 else key, "v")
        with pytest.raises(oss2.exceptions.ServerError) as exc:
            bucket.put_bucket_tagging(Tagging(rule))
        assert (exc.value.status, exc.value.code) == (400, "InvalidTag"), key
    b = local_oss.bucket
    tags = [oss_v2.Tag(key=k, value="v") for k in ("k1", "k2", "k3")]
    v2client.put_bucket_tags(oss_v2.PutBucketTagsRequest(bucket=b, tagging=oss_v2.Tagging(tag_set=oss_v2.TagSet(tags=tags))))
    # DELETE /?tagging=k1,k3 removes only those (DeleteBucketTags reference's second example; oss2 sends it, the
    # v2 SDK's DeleteBucketTagsRequest has no such field).
    bucket.delete_bucket_tagging(params={"tagging": "k1,k3"})
    left = v2client.get_bucket_tags(oss_v2.GetBucketTagsRequest(bucket=b)).tagging.tag_set.tags
    assert [t.key for t in left] == ["k2"]
    v2client.delete_bucket_tags(oss_v2.DeleteBucketTagsRequest(bucket=b))
    assert bucket.get_bucket_tagging().tag_set.tagging_rule == {}


# --- shapes OSS refuses, and what stays 501 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "body", "code"),
    [
        ("lifecycle", b"<WebsiteConfiguration/>", "MalformedXML"),  # another configuration's root
        ("lifecycle", b"<LifecycleConfiguration></LifecycleConfiguration>", "MalformedXML"),  # no Rule
        ("referer", b"<RefererConfiguration><RefererList/></RefererConfiguration>", "MalformedXML"),
        ("encryption", b"<ServerSideEncryptionRule/>", "MalformedXML"),
        ("website", b"<WebsiteConfiguration>", "MalformedXML"),  # not well-formed
        ("policy", b"[1, 2]", "InvalidPolicyDocument"),
    ],
)
def test_v2_put_of_a_misshapen_configuration_is_refused(
    local_oss: LocalOSS, v2client: oss_v2.Client, param: str, body: bytes, code: str
) -> None:
    op = oss_v2.OperationInput(
        op_name="PutBucketConfiguration",
        method="PUT",
        bucket=local_oss.bucket,
        parameters={param: ""},
        headers={"Content-Type": "application/xml"},
        body=body,
        op_metadata={"sub-resource": [param]},  # what the SDK's own Put<name> passes, so its signer signs it
    )
    assert _v2_error(lambda: v2client.invoke_operation(op)) == (400, code)


def test_what_would_change_data_stays_501_and_never_falls_through(local_oss: LocalOSS, bucket: oss2.Bucket) -> None:
    bucket.put_object("k", b"x")
    calls: dict[str, Callable[[], Any]] = {
        "PutBucketVersioning": lambda: bucket.put_bucket_versioning(oss2.models.BucketVersioningConfig("Enabled")),
        "PostBucketWorm": lambda: bucket.init_bucket_worm(1),
        "PutLiveChannel": lambda: bucket.create_live_channel(
            "channel", oss2.models.LiveChannelInfo(target=oss2.models.LiveChannelInfoTarget())
        ),
        "PutBucketPublicAccessBlock": lambda: bucket.put_bucket_public_access_block(True),
        "RestoreObject": lambda: bucket.restore_object("k"),
        "x-oss-process": lambda: bucket.process_object("k", "image/resize,w_10"),
    }
    for name, call in calls.items():
        with pytest.raises(oss2.exceptions.ServerError) as exc:
            call()
        assert (exc.value.status, exc.value.code) == (501, "NotImplemented") and name in exc.value.message, name
    # A sub-resource is never served as the plain operation of its method: DELETE ?referer is not DeleteBucket,
    # PUT /key?lifecycle is not PutObject.
    bucket.batch_delete_objects(["k"])
    for method, key, param in [("DELETE", "", "referer"), ("PUT", "k", "lifecycle"), ("DELETE", "", "acl")]:
        with pytest.raises(oss2.exceptions.ServerError) as exc:
            bucket._do(method, bucket.bucket_name, key, params={param: ""})  # noqa: SLF001 - a raw signed request
        assert (exc.value.status, exc.value.code) == (501, "NotImplemented"), (method, param)
    assert bucket.get_bucket_info().name == bucket.bucket_name
    assert not bucket.object_exists("k")
