"""Idempotency records as marker objects in OSS (``CALLBACK_IDEMPOTENCY_STORE=oss://<bucket>/<prefix>``).

It needs no service beyond the bucket the uploads already use, and the functions' own role: every marker is
written with the function's temporary credentials (FC's ``context.credentials``, else the
``ALIBABA_CLOUD_*`` variables FC sets), V4-signed, through the region's internal endpoint.

OSS has no "set if absent, with expiry", so the record model is mapped onto what OSS does offer, a PUT with
``x-oss-forbid-overwrite: true`` that fails with 409 ``FileAlreadyExists`` if the object exists:

- each upload's markers are ``<prefix><sha256(key)>.<generation>``. A claim creates generation 0 with
  forbid-overwrite, so of any number of concurrent claimants exactly one wins;
- the winner owns its generation for good, so completing (the result) and releasing (after a failure: the claim is
  rewritten as already lapsed) are plain overwrites of its own marker;
- a claim whose run died is taken over by creating the *next* generation with forbid-overwrite, so a takeover is
  as atomic as the first claim. Reading an upload's state reads generations 0, 1, ... until one is missing (almost
  always one or two GETs); a live completed marker in any generation answers, else the newest live claim does;
- OSS never deletes markers by itself: a bucket lifecycle rule on the prefix (longer than
  ``CALLBACK_IDEMPOTENCY_TTL``) does, and an expired record is ignored meanwhile (docs/DEPLOY.md).

The markers live under a prefix that the OSS trigger's filter excludes, and the OSS-event function skips that
prefix too, so writing a marker never delivers an event. Requests time out after 1.5 s (``?timeout=``) and are
not retried.
``oss2`` is imported here and in :mod:`osscallback.callback.ossclient` (the client this store shares with
confirmation), and only when this store is configured (``.importlinter``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import oss2

from osscallback.callback.idempotency.base import Claim, PersistenceLayer, Record, Status
from osscallback.callback.idempotency.oss_index import OssIndex
from osscallback.callback.ossclient import FunctionCredentials, OssClient
from osscallback.errors import ConfigError, StoreUnavailable

REQUEST_TIMEOUT = 1.5
#: Generations probed at most (a generation is only added when a run died or failed; this many means a bug loop).
MAX_GENERATIONS = 64


class OssMarkerLayer(PersistenceLayer):
    def __init__(
        self, *, bucket: str, prefix: str, endpoint: str, region: str, env: Mapping[str, str],
        timeout: float = REQUEST_TIMEOUT, client: OssClient | None = None,
    ) -> None:
        self.bucket_name = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
        self.description = f"oss://{bucket}/{prefix}"
        #: Shared with confirmation (``CALLBACK_CONFIRM=head``) when both are on: one pool, one set of credentials.
        self.oss_client = client or OssClient(env)
        self.credentials = self.oss_client.credentials
        try:
            self.bucket = self.oss_client.bucket(endpoint, bucket, region, timeout)
        except oss2.exceptions.ClientError as exc:  # an endpoint oss2 refuses: a configuration error
            raise ConfigError(f"CALLBACK_IDEMPOTENCY_STORE={self.description!r}: {exc}") from None
        self.delivered = OssIndex(self)  # the delivered index and checkpoints, beside the markers

    def observe_credentials(self, credentials: Any) -> None:
        self.oss_client.observe_credentials(credentials)

    def marker(self, key: str, generation: int) -> str:
        return f"{self.prefix}{hashlib.sha256(key.encode('utf-8')).hexdigest()}.{generation}"

    def _fail(self, what: str, exc: Exception) -> StoreUnavailable:
        if not self.credentials.configured:
            return StoreUnavailable(f"{self.description}: no credentials (FC's context.credentials or "
                                    "ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET)")
        if isinstance(exc, oss2.exceptions.RequestError):  # no answer: refused, reset, timed out
            cause = getattr(exc, "exception", None)
            detail = f"no answer from {self.endpoint} ({cause.__class__.__name__ if cause else 'RequestError'})"
            return StoreUnavailable(f"{self.description}: {what} failed: {detail}")
        detail = getattr(exc, "code", "") or exc.__class__.__name__
        status = getattr(exc, "status", "")
        return StoreUnavailable(f"{self.description}: {what} failed: {status} {detail}".replace("  ", " "))

    def _read(self, name: str) -> Record | None:
        try:
            return Record.from_json(self.bucket.get_object(name).read())
        except oss2.exceptions.NoSuchKey:
            return None
        except oss2.exceptions.OssError as exc:
            raise self._fail(f"reading marker {name}", exc) from None

    def _create(self, name: str, record: Record) -> bool:
        """Write ``name`` only if it does not exist; False when another claimant's marker is there."""
        headers = {"x-oss-forbid-overwrite": "true", "Content-Type": "application/json"}
        try:
            self.bucket.put_object(name, record.to_json(), headers=headers)
            return True
        except oss2.exceptions.ServerError as exc:
            if exc.status == 409:
                return False
            raise self._fail(f"creating marker {name}", exc) from None
        except oss2.exceptions.OssError as exc:
            raise self._fail(f"creating marker {name}", exc) from None

    def _overwrite(self, name: str, record: Record) -> None:
        try:
            self.bucket.put_object(name, record.to_json(), headers={"Content-Type": "application/json"})
        except oss2.exceptions.OssError as exc:
            raise self._fail(f"writing marker {name}", exc) from None

    def _generations(self, key: str) -> list[Record]:
        found: list[Record] = []
        for generation in range(MAX_GENERATIONS):
            record = self._read(self.marker(key, generation))
            if record is None:
                return found
            found.append(record)
        raise StoreUnavailable(f"{self.description}: {MAX_GENERATIONS} claims of one upload; refusing to go on")

    @staticmethod
    def _decide(records: list[Record], now: float) -> Record | None:
        for record in records:
            if record.status is Status.COMPLETED and record.live(now):
                return record
        if records and records[-1].live(now):
            return records[-1]
        return None

    def try_claim(self, claim: Record) -> tuple[Claim | None, Record | None]:
        if self._create(self.marker(claim.key, 0), claim):  # the common case: a new upload, one request
            return Claim(claim, 0), None
        while True:
            records = self._generations(claim.key)
            live = self._decide(records, time.time())
            if live is not None:
                return None, live
            generation = len(records)
            if self._create(self.marker(claim.key, generation), claim):
                return Claim(claim, generation), None
            # another claimant took that generation first: read again

    def get(self, key: str) -> Record | None:
        return self._decide(self._generations(key), time.time())

    def complete(self, claim: Claim, record: Record) -> None:
        self._overwrite(self.marker(record.key, int(claim.handle)), record)

    def release(self, claim: Claim) -> None:
        lapsed = replace(claim.record, in_progress_until=0.0)
        self._overwrite(self.marker(claim.record.key, int(claim.handle)), lapsed)

    def close(self) -> None:
        self.oss_client.close()


__all__ = ["FunctionCredentials", "OssMarkerLayer"]
