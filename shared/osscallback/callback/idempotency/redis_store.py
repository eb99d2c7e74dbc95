"""Idempotency records in Redis or ApsaraDB for Redis (``CALLBACK_IDEMPOTENCY_STORE=redis://...``).

One string key per upload, its value the JSON record:

- the claim is ``SET key <in_progress record> NX PX <claim TTL>``: atomic set-if-absent, and Redis itself drops
  the claim of a run whose instance died, so no takeover logic is needed;
- completing is ``SET key <completed record> PX <TTL>`` (the result is stored: a replay on any instance gets the
  same answer);
- releasing after a failure deletes the key only if it still holds *our* claim (a compare-and-delete Lua script:
  a run that outlived its claim must not delete the claim of the run that took over).

The client fails fast: 1.5 s socket timeouts and no retries, so an unreachable Redis becomes a 503 well inside
OSS's 5 s instead of a hung callback. Keys carry a ``{...}`` hash tag, so the script's single key is fine on a
cluster too. The delivered index (:mod:`.delivered`) is a key per object, ``<prefix>delivered:{<bucket>/<key>}``
(JSON ``{etag, at, source}``, kept as long as the records), read for reconciliation one page (1,000 keys) per
pipelined round trip; reconciliation's checkpoints are keys ``<prefix>reconcile:<name>``.
``redis`` is imported here and only here (``.importlinter``), and only when this store is configured.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from osscallback.callback.idempotency.base import Claim, PersistenceLayer, Record, Status, redact_url
from osscallback.callback.idempotency.delivered import DEFAULT_INDEX_TTL, DeliveredEntry, DictView, normalize
from osscallback.errors import StoreUnavailable

DEFAULT_KEY_PREFIX = "osscallback:idempotency:"
SOCKET_TIMEOUT = 1.5

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLayer(PersistenceLayer):
    def __init__(self, url: str, *, key_prefix: str = DEFAULT_KEY_PREFIX, client: Any = None) -> None:
        self.key_prefix = key_prefix
        self.description = redact_url(url)
        try:
            self.client = client or redis.Redis.from_url(
                url,
                socket_timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=SOCKET_TIMEOUT,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=30,
            )
        except ValueError as exc:  # a malformed URL: the factory validated the scheme, redis-py the rest
            raise StoreUnavailable(f"{self.description}: {exc}") from None
        self._release = self.client.register_script(_RELEASE)
        self.delivered = RedisIndex(self)

    def _name(self, key: str) -> str:
        return f"{self.key_prefix}{{{key}}}"

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except redis.RedisError as exc:
            raise StoreUnavailable(f"{self.description}: {what} failed: {exc.__class__.__name__}: {exc}") from None

    def try_claim(self, claim: Record) -> tuple[Claim | None, Record | None]:
        value = claim.to_json()
        ttl_ms = max(1, int((claim.in_progress_until - time.time()) * 1000))
        while True:
            if self._call("claim (SET NX)", self.client.set, self._name(claim.key), value, nx=True, px=ttl_ms):
                return Claim(claim, value), None
            existing = self.get(claim.key)
            if existing is not None:
                return None, existing
            # the record expired between SET NX and GET: try again

    def get(self, key: str) -> Record | None:
        raw = self._call("read (GET)", self.client.get, self._name(key))
        return None if raw is None else Record.from_json(raw)

    def complete(self, claim: Claim, record: Record) -> None:
        ttl_ms = max(1, int((record.expires_at - time.time()) * 1000))
        self._call("complete (SET PX)", self.client.set, self._name(record.key), record.to_json(), px=ttl_ms)

    def release(self, claim: Claim) -> None:
        self._call("release (compare-and-delete)", self._release, keys=[self._name(claim.record.key)],
                   args=[claim.handle])

    def close(self) -> None:
        self.client.close()


class RedisIndex:
    """The delivered index and the checkpoints in the same Redis (see the module's docstring)."""

    def __init__(self, layer: RedisLayer) -> None:
        self.layer = layer
        self.ttl = DEFAULT_INDEX_TTL  # the store's record TTL (set by the factory)

    def _name(self, bucket: str, key: str) -> str:
        return f"{self.layer.key_prefix}delivered:{{{bucket}/{key}}}"

    def put_delivered(self, bucket: str, key: str, etag: str, source: str) -> None:
        doc = json.dumps({"etag": normalize(etag), "at": time.time(), "source": source})
        self.layer._call("index (SET PX)", self.layer.client.set, self._name(bucket, key), doc,
                         px=max(1, int(self.ttl * 1000)))

    def get_delivered(self, bucket: str, key: str) -> DeliveredEntry | None:
        raw = self.layer._call("index (GET)", self.layer.client.get, self._name(bucket, key))
        return None if raw is None else DeliveredEntry.from_doc(json.loads(raw))

    def _many(self, bucket: str, keys: list[str]) -> dict[str, DeliveredEntry]:
        pipe = self.layer.client.pipeline(transaction=False)
        for key in keys:
            pipe.get(self._name(bucket, key))
        values = self.layer._call("index (pipelined GET)", pipe.execute)
        return {k: DeliveredEntry.from_doc(json.loads(v)) for k, v in zip(keys, values, strict=True) if v is not None}

    def delivered_view(self, bucket: str, start_after: str = "") -> DictView:
        return DictView(lambda keys: self._many(bucket, keys))

    def load_state(self, name: str) -> dict[str, Any] | None:
        raw = self.layer._call("checkpoint (GET)", self.layer.client.get, f"{self.layer.key_prefix}reconcile:{name}")
        return None if raw is None else dict(json.loads(raw))

    def save_state(self, name: str, doc: dict[str, Any]) -> None:
        self.layer._call("checkpoint (SET)", self.layer.client.set, f"{self.layer.key_prefix}reconcile:{name}",
                         json.dumps(doc))


__all__ = ["RedisIndex", "RedisLayer", "Status"]
