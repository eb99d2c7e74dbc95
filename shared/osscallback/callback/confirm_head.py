"""The HEAD behind ``CALLBACK_CONFIRM=head``: one ``HeadObject`` through ``oss2``, imported only when confirmation
is configured (:mod:`osscallback.callback.confirm` decides what the answer means).

It signs with the function's own role credentials through :class:`~osscallback.callback.ossclient.OssClient`,
the ``oss://`` store's client when that store is configured. The timeout is split between connecting (a third) and
reading the answer, so the whole HEAD stays within ``CALLBACK_CONFIRM_TIMEOUT`` (name resolution aside). No retry:
OSS waits 5 s for the callback's answer, and the OSS-event backstop delivers the upload if this one gives up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import oss2

from osscallback.callback.confirm import ConfirmationFailed, ConfirmSpec, ObjectFacts, unavailable
from osscallback.callback.ossclient import OssClient
from osscallback.errors import ConfigError


class OssHead:
    """``head(bucket, key)`` → :class:`ObjectFacts`, ``None`` when OSS says 404, or raises ``ConfirmUnavailable``."""

    def __init__(self, spec: ConfirmSpec, *, env: Mapping[str, str], client: OssClient | None = None) -> None:
        self.spec = spec
        self.client = client or OssClient(env)
        connect = spec.timeout / 3
        self.timeout = (connect, spec.timeout - connect)
        try:  # validates the endpoint now, at start-up, rather than on the first callback
            self.client.bucket(spec.endpoint, "bucket-check", spec.region, self.timeout)
        except oss2.exceptions.ClientError as exc:
            raise ConfigError(f"CALLBACK_CONFIRM_ENDPOINT={spec.endpoint!r}: {exc}") from None

    def observe_credentials(self, credentials: Any) -> None:
        self.client.observe_credentials(credentials)

    def __call__(self, bucket: str, key: str) -> ObjectFacts | None:
        try:
            target = self.client.bucket(self.spec.endpoint, bucket, self.spec.region, self.timeout)
            result = target.head_object(key)
        except oss2.exceptions.NotFound:  # NoSuchKey, or NoSuchBucket: either way there is no such object
            return None
        except oss2.exceptions.ClientError as exc:  # a bucket name oss2 refuses cannot hold the object
            raise ConfirmationFailed(403, "CallbackNotConfirmed", f"OSS cannot hold {bucket}/{key}: {exc}.",
                                     "missing") from None
        except oss2.exceptions.OssError as exc:
            raise self._unavailable(exc) from None
        return ObjectFacts(etag=result.etag, size=result.content_length)

    def _unavailable(self, exc: Exception) -> ConfirmationFailed:
        if not self.client.credentials.configured:
            return unavailable("OSS could not be asked: the function has no credentials (FC's context.credentials "
                               "or ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET)")
        if isinstance(exc, oss2.exceptions.RequestError):  # no answer: refused, reset, timed out
            cause = getattr(exc, "exception", None)
            name = cause.__class__.__name__ if cause else "RequestError"
            return unavailable(f"OSS did not answer the confirmation ({self.spec.endpoint}: {name})")
        status = getattr(exc, "status", "")
        code = getattr(exc, "code", "") or exc.__class__.__name__
        return unavailable(f"OSS refused the confirmation ({status} {code})".replace("( ", "("))
