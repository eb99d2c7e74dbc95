"""The keys the local OSS accepts: AccessKey pairs and the temporary STS credentials it mints (``STS.`` id, secret,
security token, expiry), as STS AssumeRole hands a function's role. Kept apart from the signature checks that use
them, so the local stack can mint and hand out credentials without the verifiers."""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from osscallback.local.oss.model.sessionpolicy import Policy


@dataclass(frozen=True)
class Credential:
    """An AccessKey pair; STS credentials also carry a security token, an expiry (epoch seconds) and, when
    AssumeRole was given one, the session policy every request signed with them is checked against."""

    access_key_id: str
    access_key_secret: str
    security_token: str | None = None
    expires_at: float | None = None
    policy: Policy | None = None


class CredentialStore:
    """The AccessKey pairs and STS credentials the local OSS accepts. Thread-safe."""

    def __init__(self, credentials: Sequence[Credential] = ()) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Credential] = {c.access_key_id: c for c in credentials}

    def add(self, credential: Credential) -> None:
        with self._lock:
            self._by_id[credential.access_key_id] = credential

    def get(self, access_key_id: str) -> Credential | None:
        with self._lock:
            return self._by_id.get(access_key_id)

    def issue_sts(self, ttl_seconds: float = 3600.0, policy: Policy | None = None) -> Credential:
        """Mint temporary credentials like STS AssumeRole's (``STS.`` id, secret, security token), limited to
        ``policy`` when one is given."""
        cred = Credential(
            access_key_id="STS." + _random_id(24),
            access_key_secret=_random_id(40),
            security_token="CAIS" + secrets.token_urlsafe(96),
            expires_at=time.time() + ttl_seconds,
            policy=policy,
        )
        self.add(cred)
        return cred


def _random_id(n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))
