"""``CALLBACK_IDEMPOTENCY_STORE``: parse the store URL at start-up, and import a backend only when it is chosen.

- ``memory`` (default): this process's bounded LRU.
- ``redis://[:password@]host:port/db`` (``rediss://`` for TLS): Redis or ApsaraDB for Redis.
- ``oss://<bucket>/<prefix>[?region=<region>&endpoint=<url>&timeout=<seconds>]``: marker objects under
  ``<prefix>`` (never the bucket root). The region defaults to ``FC_REGION`` (set by FC), the endpoint to the
  region's internal one, ``https://oss-<region>-internal.aliyuncs.com``, the per-request timeout to 1.5 s (at most
  4: a callback must still answer inside OSS's 5 s; a local OSS on a loaded machine may need more than OSS does).

Parsing needs no client library, so a bad value is a :class:`~osscallback.errors.ConfigError` naming the
variable even where the client is not installed; :func:`open_store` then imports ``redis`` or ``oss2`` inside
the branch that needs it, which keeps both off the default cold path (a test proves it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from osscallback.callback.idempotency.base import Idempotency, PersistenceLayer, redact_url
from osscallback.errors import ConfigError
from osscallback.osslocation import resolve_location

VARIABLE = "CALLBACK_IDEMPOTENCY_STORE"
#: OSS bucket names: 3-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class StoreSpec:
    """A parsed store URL: ``kind`` is ``memory``, ``redis`` or ``oss``."""

    kind: str
    url: str = "memory"
    bucket: str = ""
    prefix: str = ""
    region: str = ""
    endpoint: str = ""
    timeout: float = 1.5

    @property
    def shared(self) -> bool:
        """Whether every instance (and the OSS-event function) sees the same records."""
        return self.kind != "memory"

    def covers(self, bucket: str | None, key: str | None) -> bool:
        """Whether ``bucket``/``key`` is one of this store's own marker objects."""
        return self.kind == "oss" and bucket == self.bucket and bool(key) and str(key).startswith(self.prefix)

    @classmethod
    def parse(cls, raw: str | None, env: Mapping[str, str] | None = None) -> StoreSpec:
        env = env or {}
        text = (raw or "").strip()
        if text in ("", "memory"):
            return cls("memory")
        parts = urlsplit(text)
        if parts.scheme in ("redis", "rediss", "unix"):
            if parts.scheme != "unix" and not parts.hostname:
                raise ConfigError(f"{VARIABLE}={redact_url(text)!r}: a Redis URL needs a host (redis://host:6379/0)")
            try:
                parts.port  # noqa: B018 - validates the port
            except ValueError:
                raise ConfigError(f"{VARIABLE}={redact_url(text)!r}: the port is not a number") from None
            return cls("redis", url=text)
        if parts.scheme == "oss":
            bucket = parts.netloc
            prefix = parts.path.lstrip("/")
            if not BUCKET_NAME.fullmatch(bucket):
                raise ConfigError(f"{VARIABLE}={text!r}: use oss://<bucket>/<prefix> with a valid bucket name")
            if not prefix:
                raise ConfigError(
                    f"{VARIABLE}={text!r}: give the markers a prefix of their own (oss://{bucket}/.osscallback/"
                    "idempotency/) that the OSS trigger's filter excludes, never the bucket root"
                )
            if not prefix.endswith("/"):
                prefix += "/"
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            unknown = sorted(set(query) - {"region", "endpoint", "timeout"})
            if unknown:
                raise ConfigError(
                    f"{VARIABLE}={text!r}: unknown option(s) {', '.join(unknown)} (region, endpoint, timeout)"
                )
            try:
                timeout = float(query.get("timeout") or 1.5)
            except ValueError:
                timeout = -1.0
            if not 0.1 <= timeout <= 4:
                raise ConfigError(f"{VARIABLE}={text!r}: timeout must be a number of seconds from 0.1 to 4")
            region, endpoint = resolve_location(VARIABLE, text, query, env)
            return cls("oss", url=text, bucket=bucket, prefix=prefix, region=region, endpoint=endpoint,
                       timeout=timeout)
        raise ConfigError(
            f"{VARIABLE}={redact_url(text)!r}: use memory, redis://[:password@]host:port/db or oss://<bucket>/<prefix>"
        )


def open_layer(spec: StoreSpec, *, max_entries: int, env: Mapping[str, str]) -> PersistenceLayer:
    """The backend for ``spec``; its client library is imported here, only for the backend chosen."""
    if spec.kind == "redis":
        try:
            from osscallback.callback.idempotency.redis_store import RedisLayer
        except ImportError as exc:
            raise ConfigError(f"{VARIABLE} is a Redis URL but the redis client is not installed ({exc})") from None
        return RedisLayer(spec.url)
    if spec.kind == "oss":
        try:
            from osscallback.callback.idempotency.oss_store import OssMarkerLayer
        except ImportError as exc:
            raise ConfigError(f"{VARIABLE} is an oss:// URL but oss2 is not installed ({exc})") from None
        return OssMarkerLayer(bucket=spec.bucket, prefix=spec.prefix, endpoint=spec.endpoint, region=spec.region,
                              env=env, timeout=spec.timeout)
    from osscallback.callback.idempotency.memory import MemoryLayer

    return MemoryLayer(max_entries)


def open_store(
    spec: StoreSpec, *, max_entries: int, ttl: float, claim_ttl: float, wait: float, env: Mapping[str, str]
) -> Idempotency:
    layer = open_layer(spec, max_entries=max_entries, env=env)
    if layer.delivered is not None and hasattr(layer.delivered, "ttl"):
        layer.delivered.ttl = ttl  # index entries live as long as the records they stand beside
    return Idempotency(layer, ttl=ttl, claim_ttl=claim_ttl, wait=wait)
