"""Dead letters as objects in the bucket: the dead-letter function writes them, ``redeliver`` and the inspector
read and remove them.

The function writes with its own role's temporary credentials (``oss:PutObject`` on the bucket, which the role
already has: nothing to add), through the region's internal endpoint, as the ``oss://`` idempotency store does
(:class:`~osscallback.callback.ossclient.OssClient`). ``oss2`` is imported here, and this module only by the
dead-letter entry point and the tools: never on the callback function's cold path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import oss2

from osscallback.callback.deadletter import BoxSpec, DeadLetter, InvalidDestinationRecord
from osscallback.callback.ossclient import OssClient
from osscallback.errors import OssCallbackError

REQUEST_TIMEOUT = 10.0


class LetterBoxError(OssCallbackError):
    """The bucket refused or did not answer a dead-letter read or write."""


class OssLetterBox:
    """The dead letters under ``spec.prefix`` in ``spec.bucket``.

    ``env`` carries the credentials (``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``_SECRET`` / ``_SECURITY_TOKEN``, as FC sets
    them); the function passes ``context.credentials`` on with :meth:`observe_credentials`.
    """

    def __init__(self, spec: BoxSpec, env: Mapping[str, str], *, timeout: float = REQUEST_TIMEOUT) -> None:
        self.spec = spec
        self.prefix = spec.prefix
        self.client = OssClient(env)
        self.bucket = oss2.Bucket(self.client.auth, spec.endpoint, spec.bucket, session=self.client.session,
                                  region=spec.region, connect_timeout=timeout)

    def observe_credentials(self, credentials: Any) -> None:
        self.client.observe_credentials(credentials)

    def put(self, name: str, body: bytes) -> None:
        try:
            self.bucket.put_object(name, body, headers={"Content-Type": "application/json"})
        except oss2.exceptions.OssError as exc:
            raise LetterBoxError(f"writing {self.spec.bucket}/{name} failed: {exc.status} "
                                 f"{getattr(exc, 'code', '')}".strip()) from None

    def names(self, sub_prefix: str = "") -> Iterator[str]:
        """Every dead letter's object name (oldest first: names start with the failure's UTC time)."""
        try:
            for info in oss2.ObjectIteratorV2(self.bucket, prefix=self.prefix + sub_prefix):
                if info.key.endswith(".json"):
                    yield info.key
        except oss2.exceptions.OssError as exc:
            raise LetterBoxError(f"listing {self.spec.url} failed: {exc.status} {getattr(exc, 'code', '')}") from None

    def read(self, name: str) -> DeadLetter | None:
        """The dead letter ``name`` (``None`` once removed); a malformed object is :class:`InvalidDestinationRecord`."""
        try:
            data = self.bucket.get_object(name).read()
        except oss2.exceptions.NoSuchKey:
            return None
        except oss2.exceptions.OssError as exc:
            raise LetterBoxError(f"reading {self.spec.bucket}/{name} failed: {exc.status}") from None
        return DeadLetter.from_json(data)

    def remove(self, name: str) -> None:
        try:
            self.bucket.delete_object(name)
        except oss2.exceptions.OssError as exc:
            raise LetterBoxError(f"removing {self.spec.bucket}/{name} failed: {exc.status}") from None

    def close(self) -> None:
        self.client.close()


__all__ = ["InvalidDestinationRecord", "LetterBoxError", "OssLetterBox"]
