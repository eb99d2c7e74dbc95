"""The local OSS: a stand-in for OSS that performs upload callbacks, to test callback flows without a cloud account.

The unmodified official SDKs (``oss2`` and the v2 SDK ``alibabacloud_oss_v2``) talk to it as to OSS across the
everyday object API — objects, copies, appends, symlinks, tagging, ACLs, conditional and compressed reads, batch
deletes, multipart uploads, listings, PostObject, bucket CORS (enforced on preflights and answers); V4 signatures
(V1 and V2 refused with 403 as a bucket created today refuses them, unless ``signature_versions=ALL_VERSIONS``),
STS tokens, presigned URLs; what it does not support answers 501 naming the operation — and it calls
back like OSS (signed with MD5withRSA, ``x-oss-pub-key-url`` pointing at the PEM it serves at
``/__oss__/callback_pub_key_v1.pem``). It is a development tool: never deployed to Function Compute.

    from osscallback.local.oss import LocalOSS
    with LocalOSS(data_dir=tmp, port=0) as oss:
        auth = oss2.ProviderAuthV4(oss2.credentials.StaticCredentialsProvider(oss.access_key_id, oss.access_key_secret))
        bucket = oss2.Bucket(auth, oss.endpoint, oss.bucket, region=oss.region)

``LocalOSS(..., on_object_created=sink)`` hands the sink an OSS event notification (FC's OSS-trigger event
format) after every object-creating write; see :class:`~osscallback.local.oss.localoss.LocalOSS`.

Command line: ``osscallback local oss [--port N] [--data-dir DIR] [--json] [--allow-v1]``.
"""

from __future__ import annotations

from osscallback.local.oss.localoss import (
    DEFAULT_BUCKET,
    DEFAULT_REGION,
    LocalOSS,
    LocalOSSInfo,
    default_data_dir,
    start_local_oss,
)
from osscallback.local.oss.server import PUB_KEY_PATH
from osscallback.local.oss.sigversions import ALL_VERSIONS, DEFAULT_VERSIONS, NEW_BUCKET_VERSIONS

__all__ = [
    "ALL_VERSIONS",
    "DEFAULT_VERSIONS",
    "NEW_BUCKET_VERSIONS",
    "DEFAULT_BUCKET",
    "DEFAULT_REGION",
    "PUB_KEY_PATH",
    "LocalOSS",
    "LocalOSSInfo",
    "default_data_dir",
    "start_local_oss",
]
