"""The policy endpoint's settings, read once at cold start from the environment (docs/CONFIGURATION.md).

Where and as whom it signs comes from the upload function's own settings (``OSS_ENDPOINT``, ``OSS_BUCKET``,
``OSS_REGION``, ``OSS_AUTH_VERSION``, ``CALLBACK_URL``, ``CALLBACK_TEMPLATE`` and FC's STS credentials, resolved
per request because FC hands each invocation fresh ones); this module holds what only the browser side needs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from osscallback.errors import ConfigError

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_EXPIRES = 300  # seconds: long enough to pick files and upload them, short enough to be worthless later
MAX_EXPIRES = 24 * 3600
PREFLIGHT_MAX_AGE = 600


@dataclass(frozen=True)
class PageConfig:
    """``UPLOAD_AUTHORIZER``, ``UPLOAD_ALLOWED_ORIGINS``, ``UPLOAD_MAX_SIZE``, ``UPLOAD_POLICY_EXPIRES``,
    ``UPLOAD_HOST`` and ``UPLOAD_MULTIPART_THRESHOLD``."""

    authorizer: str = ""
    allowed_origins: tuple[str, ...] = ()
    max_size: int = DEFAULT_MAX_SIZE
    expires: int = DEFAULT_EXPIRES
    host: str = ""  # the URL the page posts to, when not the bucket's own (a custom domain bound to the bucket)
    # files of at least this many bytes go up in parts with /sts credentials; None: automatic (over max_size when
    # /sts is configured), 0: never ("off")
    multipart_threshold: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PageConfig:
        env = os.environ if env is None else env
        origins = tuple(o.strip().rstrip("/") for o in env.get("UPLOAD_ALLOWED_ORIGINS", "").split(",") if o.strip())
        for origin in origins:
            if origin != "*" and not _is_origin(origin):
                raise ConfigError(
                    f"UPLOAD_ALLOWED_ORIGINS: {origin!r} is not an origin (scheme://host[:port], no path), nor '*'"
                )
        host = env.get("UPLOAD_HOST", "").strip().rstrip("/")
        if host and not _is_origin(host):
            raise ConfigError(f"UPLOAD_HOST={host!r}: give scheme://host[:port] (e.g. https://files.example.com)")
        expires = _int(env, "UPLOAD_POLICY_EXPIRES", DEFAULT_EXPIRES)
        if not 1 <= expires <= MAX_EXPIRES:
            raise ConfigError(f"UPLOAD_POLICY_EXPIRES={expires}: give 1 to {MAX_EXPIRES} seconds")
        max_size = _int(env, "UPLOAD_MAX_SIZE", DEFAULT_MAX_SIZE)
        if max_size < 1:
            raise ConfigError(f"UPLOAD_MAX_SIZE={max_size}: give a positive number of bytes")
        threshold: int | None = None
        if env.get("UPLOAD_MULTIPART_THRESHOLD", "").strip().lower() == "off":
            threshold = 0
        elif env.get("UPLOAD_MULTIPART_THRESHOLD", "").strip():
            threshold = _int(env, "UPLOAD_MULTIPART_THRESHOLD", 0)
            if threshold < 1:
                raise ConfigError(f"UPLOAD_MULTIPART_THRESHOLD={threshold}: give a positive number of bytes, or off")
        return cls(
            authorizer=env.get("UPLOAD_AUTHORIZER", "").strip(),
            allowed_origins=origins,
            max_size=max_size,
            expires=expires,
            host=host,
            multipart_threshold=threshold,
        )

    def allows(self, origin: str | None) -> bool:
        """Exact origins only; ``*`` only when configured."""
        if not origin:
            return False
        return "*" in self.allowed_origins or origin.rstrip("/") in self.allowed_origins


def _is_origin(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.path and not parts.query


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
