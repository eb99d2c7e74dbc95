"""Start and stop a local OSS from Python: ``with LocalOSS(...) as oss:`` hands back endpoint, credentials, key URL.

State lives in the data directory and survives restarts: objects, uploads, the AccessKey pair (``local-oss.json``)
and the callback signing key (``callback_key.pem``). Keeping the key across restarts matters because callback
receivers cache public keys by URL: a new key behind the same URL would make them reject every later callback.
The key is replaced only when it is unreadable or not of the size asked for (a directory made before the local
OSS signed with OSS's 512-bit size gets a 512-bit key once).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.callback.signature import public_pem
from osscallback.errors import ConfigError
from osscallback.keygen import OSS_KEY_BITS, generate_private_key
from osscallback.local.httpserver import CannotListen
from osscallback.local.oss.api import Operations
from osscallback.local.oss.auth import Credential, CredentialStore
from osscallback.local.oss.callbacks import CALLBACK_TIMEOUT, CallbackObserver, CallbackSender
from osscallback.local.oss.dirlock import DataDirLock
from osscallback.local.oss.model.cors import CorsConfig, CorsRule, parse_config
from osscallback.local.oss.model.events import EventSink
from osscallback.local.oss.model.store import Store, write_json_atomic
from osscallback.local.oss.server import KEEP_ALIVE_TIMEOUT, PUB_KEY_PATH, LocalOSSHTTPServer, Router
from osscallback.local.oss.sigversions import DEFAULT_VERSIONS, parse_versions

log = logging.getLogger("osscallback.local.oss")

DEFAULT_BUCKET = "examplebucket"
DEFAULT_REGION = "cn-hangzhou"


def default_data_dir() -> Path:
    """``<user cache dir>/osscallback/local-oss`` (platformdirs picks the right place on each OS)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("osscallback")) / "local-oss"


@dataclass(frozen=True)
class LocalOSSInfo:
    """What a client needs to talk to the local OSS (the CLI's ``--json`` line has the first five fields)."""

    endpoint: str
    bucket: str
    access_key_id: str
    access_key_secret: str
    public_key_url: str
    region: str
    data_dir: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _random(n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


#: The data directory's AccessKey pair.
IDENTITY_FILE = "local-oss.json"
#: Where directories written before the local OSS had one name keep it; read when IDENTITY_FILE is absent.
LEGACY_IDENTITY_FILE = "emulator.json"


def _load_or_create_identity(data_dir: Path, key_id: str | None, secret: str | None) -> tuple[str, str]:
    """The data directory's AccessKey pair (given ones win), so a restarted local OSS keeps its clients' keys."""
    path = data_dir / IDENTITY_FILE
    doc: dict[str, str] = {}
    for candidate in (path, data_dir / LEGACY_IDENTITY_FILE):
        if candidate.is_file():
            try:
                doc = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                doc = {}
            break
    key_id = key_id or doc.get("access_key_id") or "LTAI" + _random(20)
    secret = secret or doc.get("access_key_secret") or _random(30)
    if not path.is_file() or doc.get("access_key_id") != key_id or doc.get("access_key_secret") != secret:
        write_json_atomic(path, {"access_key_id": key_id, "access_key_secret": secret})
        os.chmod(path, 0o600)
    return key_id, secret


def _load_or_create_key(data_dir: Path, bits: int) -> rsa.RSAPrivateKey:
    """The data directory's callback signing key; a new one when there is none, it is unreadable, or it is not
    ``bits`` long (a directory from before the local OSS signed with OSS's 512-bit size keeps working)."""
    path = data_dir / "callback_key.pem"
    if path.is_file():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if isinstance(key, rsa.RSAPrivateKey) and key.key_size == bits:
                return key
            log.info("replacing the %s callback key %s with a %d-bit one", _describe(key), path, bits)
        except (OSError, ValueError, TypeError):
            log.warning("replacing unreadable callback key %s", path)
    key = generate_private_key(bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(tmp, path)
    return key


def _describe(key: object) -> str:
    return f"{key.key_size}-bit" if isinstance(key, rsa.RSAPrivateKey) else type(key).__name__


class LocalOSS:
    """A local OSS on 127.0.0.1: real HTTP, oss2-compatible auth, disk storage, and upload callbacks.

    ``port=0`` picks a free port on the first start; later ``start()`` calls reuse it, so clients keep working
    across a ``stop()``/``start()`` restart on the same data directory.

    ``on_object_created``: an optional sink for OSS event notifications. After every write that creates an object
    (PutObject, PostObject, CompleteMultipartUpload, CopyObject, AppendObject, PutSymlink) is committed, the sink
    is called with one document in Function Compute's OSS-trigger event format::

        {"events": [{"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss", "eventTime": ...,
                     "oss": {"bucket": {...}, "object": {"deltaSize", "eTag", "key", "objectMeta", "size"}, ...},
                     "responseElements": {"requestId": "<the upload's x-oss-request-id>"}, ...}]}

    ``responseElements.requestId`` is the request id the upload answered with (and its callback's ``${reqId}``);
    ``eTag`` is the ETag without quotes, upper-case hex as OSS gives it. The sink runs on one background thread,
    in commit order, so it never delays an upload's answer; an exception it raises is logged and never breaks
    the upload. ``stop()`` delivers what is still queued (for a few seconds) before returning.

    ``request_timeout``: a connection that sends nothing for this many seconds (stalled mid-request or idle
    keep-alive) is closed, so no request can hold the server forever.

    ``key_bits``: the size of the RSA key the callbacks are signed with (kept in the data directory). 512 by
    default, the size of OSS's own key (``callback_pub_key_v1.pem``), so a local run verifies what production does.

    ``signature_versions``: the request signatures the buckets accept, of ``"v1"``, ``"v2"``, ``"v4"``. By default
    (``None``) V4 only, as a bucket created since 2025-09-01: a V1 or V2 signature (header, signed URL or PostObject
    form) is refused with 403 and EC 0002-00000080 before it is checked. ``ALL_VERSIONS`` (``--allow-v1`` on the
    CLI) models a bucket that predates the change (:mod:`.sigversions`); ``old_buckets`` names buckets made before
    the change, which take V1 and V2 whatever the default (the local stack's FC code bucket: Serverless Devs' fc3
    uploads code there with ali-oss signing V1).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        buckets: Sequence[str] = (DEFAULT_BUCKET,),
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        region: str = DEFAULT_REGION,
        key_bits: int = OSS_KEY_BITS,
        domains: Sequence[str] = (),
        cnames: Mapping[str, str] | None = None,
        callback_timeout: float = CALLBACK_TIMEOUT,
        on_object_created: EventSink | None = None,
        callback_observers: Sequence[CallbackObserver] = (),
        request_timeout: float = KEEP_ALIVE_TIMEOUT,
        signature_versions: Iterable[str] | None = None,
        old_buckets: Iterable[str] = (),
    ) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.host = host
        self.port = port
        self.region = region
        self.buckets = tuple(buckets)
        self._key_bits = key_bits
        self._domains = tuple(domains)
        self._cnames = dict(cnames or {})
        self._callback_timeout = callback_timeout
        self.on_object_created = on_object_created
        self._callback_observers = tuple(callback_observers)
        #: Sends (and records, replays, re-sends) the callbacks; set by :meth:`start`.
        self.callback_sender: CallbackSender | None = None
        self._request_timeout = request_timeout
        #: The signature versions the buckets accept (checked here, so a typo fails at once).
        self.signature_versions = parse_versions(DEFAULT_VERSIONS if signature_versions is None else signature_versions)
        self.old_buckets = frozenset(old_buckets)
        self._wanted_key_id = access_key_id
        self._wanted_secret = access_key_secret
        self.access_key_id = ""
        self.access_key_secret = ""
        self.credentials = CredentialStore()
        self._server: LocalOSSHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.store: Store | None = None
        self._lock = DataDirLock(self.data_dir)

    # --- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> LocalOSS:
        if self._server is not None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()  # before the store clears leftovers: they may be another server's live uploads
        try:
            return self._start_locked()
        except BaseException:
            self._lock.release()
            raise

    def _start_locked(self) -> LocalOSS:
        self.access_key_id, self.access_key_secret = _load_or_create_identity(
            self.data_dir, self._wanted_key_id, self._wanted_secret
        )
        self.credentials.add(Credential(self.access_key_id, self.access_key_secret))
        private_key = _load_or_create_key(self.data_dir, self._key_bits)
        self.store = Store(self.data_dir / "data")
        for bucket in self.buckets:
            self.store.create_bucket(bucket)
        try:
            # The key URL needs the port, the server needs the sender: bind first, then wire the sender in.
            sender = CallbackSender(
                private_key, "", timeout=self._callback_timeout, observers=self._callback_observers
            )
            ops = Operations(
                self.store,
                self.credentials,
                sender,
                self.region,
                self.on_object_created,
                signature_versions=self.signature_versions,
                old_buckets=self.old_buckets,
            )
            server = LocalOSSHTTPServer(
                (self.host, self.port),
                ops,
                Router(ops, self._domains, self._cnames),
                public_pem(private_key),
                request_timeout=self._request_timeout,
            )
        except OSError as exc:
            raise CannotListen(self.host, self.port, exc, "the local OSS") from None
        self.port = int(server.server_address[1])
        sender.key_url = self.public_key_url
        self.callback_sender = sender
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"local-oss:{self.port}", daemon=True
        )
        self._thread.start()
        log.info("local OSS listening on %s (data in %s)", self.endpoint, self.data_dir)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        server.ops.notifier.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None
        self._lock.release()

    def serve_forever(self) -> None:
        """Block until :meth:`stop` is called from another thread (or a signal handler)."""
        thread = self._thread
        if thread is not None:
            while thread.is_alive():
                thread.join(0.5)

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> LocalOSS:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- what clients need ---------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def bucket(self) -> str:
        return self.buckets[0] if self.buckets else ""

    @property
    def public_key_url(self) -> str:
        return f"{self.endpoint}{PUB_KEY_PATH}"

    @property
    def public_key_prefix(self) -> str:
        """The URL prefix under which this local OSS serves its key (a trusted prefix for local callback receivers)."""
        return self.public_key_url.rsplit("/", 1)[0] + "/"

    @property
    def info(self) -> LocalOSSInfo:
        return LocalOSSInfo(
            endpoint=self.endpoint,
            bucket=self.bucket,
            access_key_id=self.access_key_id,
            access_key_secret=self.access_key_secret,
            public_key_url=self.public_key_url,
            region=self.region,
            data_dir=str(self.data_dir),
        )

    def issue_sts_token(self, ttl_seconds: float = 3600.0) -> tuple[str, str, str]:
        """Temporary credentials ``(access_key_id, access_key_secret, security_token)`` for ``oss2.StsAuth``."""
        cred = self.credentials.issue_sts(ttl_seconds)
        assert cred.security_token is not None
        return cred.access_key_id, cred.access_key_secret, cred.security_token

    def add_credentials(self, access_key_id: str, access_key_secret: str) -> None:
        """Accept one more AccessKey pair (e.g. a RAM user's) from now on."""
        self.credentials.add(Credential(access_key_id, access_key_secret))

    def create_bucket(self, name: str) -> None:
        if self.store is None:
            raise ConfigError("the local OSS is not running")
        self.store.create_bucket(name)

    def set_bucket_cors(
        self, rules: Sequence[CorsRule], *, bucket: str | None = None, response_vary: bool = False
    ) -> None:
        """Replace a bucket's CORS rules (PutBucketCors without a client; ``[]`` removes them, DeleteBucketCors).

        The rules are checked as PutBucketCors checks them (:class:`~.xmlresp.OSSError` for what OSS refuses)."""
        if self._server is None:
            raise ConfigError("the local OSS is not running")
        name = bucket or self.bucket
        table = self._server.ops.backend.cors
        if not rules:
            table.delete(name)
            return
        table.put(name, parse_config(CorsConfig(tuple(rules), response_vary).to_xml()))

    def allow_origins(self, origins: Sequence[str], *, bucket: str | None = None) -> None:
        """One CORS rule letting browser pages on ``origins`` (``scheme://host:port``) upload and read: what a web
        direct-upload page needs on OSS (PostObject, PUT, GET, DELETE to abort a multipart upload, HEAD; any request
        header; ``ETag`` and ``x-oss-request-id`` readable). ``[]`` removes the bucket's rules."""
        rule = CorsRule(
            allowed_origins=tuple(origins),
            allowed_methods=("GET", "PUT", "POST", "DELETE", "HEAD"),
            allowed_headers=("*",),
            expose_headers=("ETag", "x-oss-request-id"),
            max_age_seconds=600,
        )
        self.set_bucket_cors([rule] if origins else [], bucket=bucket)
        log.info("bucket %s: CORS for %s", bucket or self.bucket, ", ".join(origins) or "no origin")


def start_local_oss(data_dir: str | os.PathLike[str] | None = None, **kwargs: object) -> LocalOSS:
    """Start a :class:`LocalOSS` and return it (call ``stop()`` when done, or use it as a context manager)."""
    return LocalOSS(data_dir, **kwargs).start()  # type: ignore[arg-type]
