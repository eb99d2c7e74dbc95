"""The functions' one OSS client: their own role credentials and one connection pool, shared by every user.

Two parts of the callback function talk to OSS: the ``oss://`` idempotency store (marker objects) and
confirmation (``CALLBACK_CONFIRM=head``: a HEAD of the object a callback names). Both sign with the function's own
temporary credentials (FC's ``context.credentials``, else the ``ALIBABA_CLOUD_*`` variables FC sets), V4, through
the region's internal endpoint. When both are configured they share one :class:`OssClient`, so an instance keeps
one set of credentials up to date and one pool of kept-alive connections to OSS, not two.

``oss2`` is imported here, and this module is imported only by the modules that need OSS, themselves imported only
when configured (``.importlinter``; the cold-path tests prove it).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import oss2
from oss2.credentials import Credentials, CredentialsProvider

from osscallback.logconfig import quiet_client_libraries


class FunctionCredentials(CredentialsProvider):
    """The function's own temporary credentials: the latest ``context.credentials`` seen, else the environment.

    FC hands fresh STS credentials to every invocation; the ``ALIBABA_CLOUD_*`` variables are those of the
    instance's start, good for the cold start and for code that has no context.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        self._lock = threading.Lock()
        self._current = Credentials(
            env.get("ALIBABA_CLOUD_ACCESS_KEY_ID", ""),
            env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ""),
            env.get("ALIBABA_CLOUD_SECURITY_TOKEN", ""),
        )

    def update(self, credentials: Any) -> None:
        key_id = getattr(credentials, "access_key_id", None) or getattr(credentials, "accessKeyId", None)
        secret = getattr(credentials, "access_key_secret", None) or getattr(credentials, "accessKeySecret", None)
        token = getattr(credentials, "security_token", None) or getattr(credentials, "securityToken", None) or ""
        if key_id and secret:
            with self._lock:
                self._current = Credentials(str(key_id), str(secret), str(token))

    def get_credentials(self) -> Credentials:
        with self._lock:
            return self._current

    @property
    def configured(self) -> bool:
        current = self.get_credentials()
        return bool(current.access_key_id and current.access_key_secret)


class OssClient:
    """Credentials, V4 auth and one HTTP session; :meth:`bucket` hands out ``oss2.Bucket`` objects over them.

    A bucket object is cheap but not free (oss2 parses the endpoint and builds a signer), so each
    ``(endpoint, bucket, timeout)`` is built once and kept. ``timeout`` is what ``requests`` takes: a number
    (connect and read each) or a ``(connect, read)`` pair.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        quiet_client_libraries()  # a store's expected 409/404 and a confirmation's 404 are answers, not log lines
        self.credentials = FunctionCredentials(env)
        self.auth = oss2.ProviderAuthV4(self.credentials)
        self.session = oss2.Session()
        self._buckets: dict[tuple[str, str, str, Any], oss2.Bucket] = {}
        self._lock = threading.Lock()

    def bucket(self, endpoint: str, name: str, region: str, timeout: Any) -> oss2.Bucket:
        """The bucket object for ``name`` at ``endpoint``; raises ``oss2.exceptions.ClientError`` for a bad
        endpoint or bucket name."""
        key = (endpoint, name, region, timeout)
        found = self._buckets.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._buckets.get(key)
            if found is None:
                found = oss2.Bucket(self.auth, endpoint, name, session=self.session, region=region,
                                    connect_timeout=timeout)
                if len(self._buckets) >= 64:  # callbacks name few buckets; never grow without bound
                    self._buckets.clear()
                self._buckets[key] = found
            return found

    def observe_credentials(self, credentials: Any) -> None:
        self.credentials.update(credentials)

    def close(self) -> None:
        self.session.session.close()


__all__ = ["FunctionCredentials", "OssClient"]
