"""What every operation works on: the store, the credentials, the callback sender, the event notifier.

One :class:`Backend` per server, handed to each family's handlers (moto's backend object): operations keep no
state of their own, so two servers never share anything by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api.request import Request, entity_too_large
from osscallback.local.oss.auth import CredentialStore
from osscallback.local.oss.callbacks import CallbackSender
from osscallback.local.oss.model.cors import CorsTable
from osscallback.local.oss.model.events import Notifier
from osscallback.local.oss.model.store import StagedFile, Store
from osscallback.local.oss.sigversions import ALL_VERSIONS, DEFAULT_VERSIONS
from osscallback.local.oss.xmlresp import OSSError

#: The owner id the local OSS reports for every bucket and object (one account).
OWNER_ID = "1234567890"
MAX_KEY_BYTES = 1023


@dataclass
class Backend:
    store: Store
    credentials: CredentialStore
    sender: CallbackSender
    region: str
    notifier: Notifier
    #: The signature versions the buckets accept (:mod:`..sigversions`; V4 only, as a bucket created today).
    signature_versions: frozenset[str] = DEFAULT_VERSIONS
    #: Buckets made before 2025-09-01, which take every version whatever ``signature_versions`` says.
    old_buckets: frozenset[str] = frozenset()
    #: Each bucket's CORS rules (:mod:`.cors` enforces them on every answer).
    cors: CorsTable = field(init=False)

    def __post_init__(self) -> None:
        self.cors = CorsTable(self.store)

    def accepted_versions(self, bucket: str) -> frozenset[str]:
        """The signature versions a request to ``bucket`` may use (service-level requests: the default)."""
        return ALL_VERSIONS if bucket in self.old_buckets else self.signature_versions

    def require_bucket(self, bucket: str) -> None:
        if not self.store.bucket_exists(bucket):
            raise xmlresp.no_such_bucket(bucket)

    def stage_body(self, req: Request, limit: int) -> StagedFile:
        """Spool the request body to a temp file (bounded memory); 400 ``EntityTooLarge`` past ``limit``."""
        if req.body.length is not None and req.body.length > limit:
            raise entity_too_large()
        stager = self.store.stager()
        try:
            while chunk := req.body.read(1024 * 1024):
                stager.write(chunk)
                if stager.size > limit:
                    raise entity_too_large()
            return stager.finish()
        except BaseException:
            stager.discard()
            raise


def check_key(key: str) -> None:
    """OSS's object-name rules: at most 1023 UTF-8 bytes, not starting with ``/`` or ``\\``."""
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES or key.startswith(("/", "\\")) or not key:
        raise OSSError(
            400,
            "InvalidObjectName",
            "The specified object is not valid.",
            ec="0016-00000005",
            extra={"ObjectName": key[:200]},
        )
