"""Bucket sub-resources the local OSS does not enforce, answered as a fresh OSS bucket answers them: one table.

Why a table: OSS has dozens of bucket configurations (``?lifecycle``, ``?website``, ``?policy``...). A client
written for OSS reads them (clean-up helpers, tests asserting a fresh bucket's state) and writes the descriptive
ones. Each row says what a bucket that never used the feature answers — an empty or default document, or OSS's own
404 code — what a Put must send (the root element and the children OSS requires: MalformedXML otherwise), and
whether OSS lets you Put and Delete it. A stored configuration is returned as sent and changes nothing else: a
lifecycle rule expires nothing, a policy or referer list denies nothing (docs/LOCAL_OSS.md says so).

Sources: the API reference page of each operation (``source``), and where the page does not say what a bucket
without the configuration answers, oss2's own integration tests, which run against OSS
(aliyun/aliyun-oss-python-sdk tests/*.py, named per row). What neither says is noted in the row.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

from osscallback.local.oss.model import buckettags

REFERENCE = "https://www.alibabacloud.com/help/en/oss/developer-reference/"


@dataclass(frozen=True)
class Missing:
    """The 404 a Get answers while nothing is stored."""

    code: str
    message: str


@dataclass(frozen=True)
class SubResource:
    param: str  # the query parameter naming it
    name: str  # OSS's operation suffix: Get<name>, Put<name>, Delete<name>
    root: str  # the root element a Put sends and a Get answers ("" for a JSON document)
    missing: Missing | None = None  # a Get's 404 while none is stored ...
    fresh: str | None = None  # ... or what a fresh bucket's document holds inside ``root`` ("" for nothing)
    required: tuple[str, ...] = ()  # element paths a Put document must contain
    writable: bool = True  # Put stores it; False: writes are not modelled (501)
    deletable: bool = True  # OSS has a Delete<name> (204, also when none is stored)
    comp: str = ""  # the ``comp`` value that goes with ``param`` (``?policy&comp=callback``)
    keyed_by: str = ""  # a query parameter naming one of several documents (``inventoryId``)
    rules: Callable[[ET.Element], None] | None = None  # checks beyond the shape (raise OSSError)
    source: str = ""  # the reference page, after :data:`REFERENCE`

    @property
    def json(self) -> bool:
        return not self.root

    @property
    def default(self) -> str:
        """The document a fresh bucket answers with (``""`` for a row that answers :attr:`missing`)."""
        if self.fresh is None:
            return ""
        return f"<{self.root}>{self.fresh}</{self.root}>" if self.fresh else f"<{self.root}/>"


TABLE: tuple[SubResource, ...] = (
    SubResource(
        "lifecycle", "BucketLifecycle", "LifecycleConfiguration",
        # The reference's sample for a bucket without rules: 404 NoSuchLifecycle "No Row found in Lifecycle Table."
        Missing("NoSuchLifecycle", "No Row found in Lifecycle Table."),
        required=("Rule",), source="getbucketlifecycle",
    ),
    SubResource(
        "website", "BucketWebsite", "WebsiteConfiguration",
        # "If static website hosting is not configured, OSS returns 404 NoSuchWebsiteConfiguration" (reference);
        # the message is not given there.
        Missing("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration."),
        source="getbucketwebsite",
    ),
    SubResource(
        "policy", "BucketPolicy", "",
        # Error codes table: NoSuchBucketPolicy 404 "No policy is configured for the requested bucket."
        Missing("NoSuchBucketPolicy", "No policy is configured for the requested bucket."),
        source="getbucketpolicy",
    ),
    SubResource(
        "encryption", "BucketEncryption", "ServerSideEncryptionRule",
        # The reference does not name the 404; oss2's tests/test_bucket.py expects
        # NoSuchServerSideEncryptionRule (404) from a bucket without a rule (test_bucket_encryption_wrong).
        Missing("NoSuchServerSideEncryptionRule", "The server side encryption configuration was not found."),
        required=("ApplyServerSideEncryptionByDefault/SSEAlgorithm",), source="getbucketencryption",
    ),
    SubResource(
        "inventory", "BucketInventory", "InventoryConfiguration",
        # Neither Get nor List names the 404; oss2's tests/test_bucket_inventory.py test_list_none_inventory
        # expects NoSuchInventory (404) from ListBucketInventory on a bucket without one.
        Missing("NoSuchInventory", "The specified inventory configuration does not exist."),
        required=("Id", "IsEnabled", "Destination/OSSBucketDestination/Format", "Schedule/Frequency"),
        keyed_by="inventoryId", source="getbucketinventory",
    ),
    SubResource(
        "policy", "BucketCallbackPolicy", "BucketCallbackPolicy",
        # oss2's tests/test_bucket_callback_policy.py: after DeleteBucketCallbackPolicy, Get answers
        # BucketCallbackPolicyNotExist (the reference gives no status; 404 assumed).
        Missing("BucketCallbackPolicyNotExist", "The bucket callback policy does not exist."),
        required=("PolicyItem",), comp="callback", source="putbucketcallbackpolicy",
    ),
    SubResource(
        "tagging", "BucketTags", "Tagging",
        # "If no tags are configured for the bucket, an XML message body is returned in which the Tagging element
        # is empty."
        fresh="", required=("TagSet",), rules=buckettags.check, source="getbuckettags",
    ),
    SubResource(
        "logging", "BucketLogging", "BucketLoggingStatus",
        # "If no logging rules are set for the source bucket, OSS returns an XML message body in which the value
        # of BucketLoggingStatus is null."
        fresh="", source="getbucketlogging",
    ),
    SubResource(
        "referer", "BucketReferer", "RefererConfiguration",
        # "If the bucket has no Referer-related configurations, OSS returns the default AllowEmptyReferer value and
        # an empty RefererList"; AllowEmptyReferer is required in a Put (EC 0033-00000002). No DeleteBucketReferer.
        fresh=("<AllowEmptyReferer>true</AllowEmptyReferer><AllowTruncateQueryString>true</AllowTruncateQueryString>"
               "<RefererList/>"),
        required=("AllowEmptyReferer",), deletable=False, source="getbucketreferer",
    ),
    SubResource(
        "versioning", "BucketVersioning", "VersioningConfiguration",
        # "If versioning is not enabled for a bucket, the Status element is not contained in the response."
        # Versioned writes are not modelled: PutBucketVersioning stays 501.
        fresh="", writable=False, deletable=False, source="getbucketversioning",
    ),
    SubResource(
        "worm", "BucketWorm", "WormConfiguration",
        # oss2's tests/test_bucket_worm.py expects NoSuchWORMConfiguration (404) before InitiateBucketWorm.
        # Retention would change what may be deleted: WORM writes stay 501.
        Missing("NoSuchWORMConfiguration", "The WORM Configuration does not exist."),
        writable=False, deletable=False, source="getbucketworm",
    ),
    SubResource(
        "transferAcceleration", "BucketTransferAcceleration", "TransferAccelerationConfiguration",
        # oss2's tests/test_bucket_transfer_acceleration.py expects NoSuchTransferAccelerationConfiguration (404).
        Missing("NoSuchTransferAccelerationConfiguration", "The transfer acceleration configuration does not exist."),
        required=("Enabled",), deletable=False, source="getbuckettransferacceleration",
    ),
    SubResource(
        "requestPayment", "BucketRequestPayment", "RequestPaymentConfiguration",
        # The reference lists the payers (BucketOwner, Requester); that a fresh bucket's is BucketOwner is assumed.
        fresh="<Payer>BucketOwner</Payer>",
        required=("Payer",), deletable=False, source="getbucketrequestpayment",
    ),
    SubResource(
        "accessmonitor", "BucketAccessMonitor", "AccessMonitorConfiguration",
        # The reference lists Enabled and Disabled; that a fresh bucket answers Disabled is assumed.
        fresh="<Status>Disabled</Status>",
        required=("Status",), deletable=False, source="getbucketaccessmonitor",
    ),
    SubResource(
        "bucketArchiveDirectRead", "BucketArchiveDirectRead", "ArchiveDirectReadConfiguration",
        # oss2's tests/test_bucket_archive_direct_read.py reads Enabled back; that it starts false is assumed.
        fresh="<Enabled>false</Enabled>",
        required=("Enabled",), deletable=False, source="getbucketarchivedirectread",
    ),
    SubResource(
        "httpsConfig", "BucketHttpsConfig", "HttpsConfiguration",
        # oss2's tests/test_bucket_https_config.py reads TLS/Enable back; that it starts false is assumed.
        fresh="<TLS><Enable>false</Enable></TLS>",
        required=("TLS/Enable",), deletable=False, source="getbuckethttpsconfig",
    ),
    SubResource(
        "publicAccessBlock", "BucketPublicAccessBlock", "PublicAccessBlockConfiguration",
        # That a fresh bucket answers false is assumed. Blocking public access would change who may read: writes
        # stay 501 rather than be stored and ignored.
        fresh="<BlockPublicAccess>false</BlockPublicAccess>",
        writable=False, deletable=False, source="getbucketpublicaccessblock",
    ),
)


def lookup(params: dict[str, str]) -> SubResource | None:
    """The row a request's query names (a ``comp`` row before the plain one), or ``None``."""
    comp = params.get("comp", "")
    for row in TABLE:
        if row.param in params and row.comp == comp:
            return row
    return None


def params() -> frozenset[str]:
    return frozenset(row.param for row in TABLE)
