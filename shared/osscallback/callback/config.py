"""Configuration of the callback function, read once from the environment.

Every knob is an environment variable so the same code runs on FC (variables from template.yml), in the local
stack and in tests. Bad values are a :class:`~osscallback.errors.ConfigError` naming the variable, raised at
start-up rather than on the first callback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from osscallback.callback.confirm import ConfirmSpec
from osscallback.callback.idempotency.base import DEFAULT_CLAIM_TTL, DEFAULT_TTL, DEFAULT_WAIT
from osscallback.callback.idempotency.factory import BUCKET_NAME, StoreSpec
from osscallback.callback.keys import DEFAULT_FETCH_TIMEOUT, DEFAULT_MAX_ENTRIES, DEFAULT_TTL_SECONDS
from osscallback.callback.signature import DEFAULT_KEY_URL_PREFIXES
from osscallback.errors import ConfigError

DEFAULT_MAX_BODY_BYTES = 64 * 1024
#: OSS answers a callback within 5 s; the whole key fetch must leave room for the rest.
MAX_FETCH_TIMEOUT = 2.0
#: A duplicate's wait for a run in progress, plus a key fetch, must stay inside OSS's 5 s.
MAX_IDEMPOTENCY_WAIT = 2.5


def _buckets(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("CALLBACK_ALLOWED_BUCKETS", "")
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    bad = [name for name in names if not BUCKET_NAME.fullmatch(name)]
    if bad:
        raise ConfigError(f"CALLBACK_ALLOWED_BUCKETS: {', '.join(map(repr, bad))} is not an OSS bucket name")
    return names


def _number(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} must be between {low:g} and {high:g}")
    return value


@dataclass(frozen=True)
class CallbackConfig:
    """What the callback function is allowed to trust and how it answers."""

    key_url_prefixes: tuple[str, ...] = DEFAULT_KEY_URL_PREFIXES
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    key_fetch_timeout: float = DEFAULT_FETCH_TIMEOUT
    key_cache_ttl: float = DEFAULT_TTL_SECONDS
    key_cache_size: int = DEFAULT_MAX_ENTRIES
    response_template: str = "default"
    action: str = "none"
    idempotency_size: int = 10_000
    idempotency_store: StoreSpec = StoreSpec("memory")
    idempotency_ttl: float = DEFAULT_TTL
    idempotency_claim_ttl: float = DEFAULT_CLAIM_TTL
    idempotency_wait: float = DEFAULT_WAIT
    #: ``CALLBACK_CONFIRM``: ask OSS about each callback's object before the action (:mod:`~osscallback.callback.
    #: confirm`); ``none`` by default, ``head`` in the shipped templates.
    confirm: ConfirmSpec = ConfirmSpec()
    #: ``CALLBACK_ALLOWED_BUCKETS``: the buckets a callback may name; empty means any.
    allowed_buckets: tuple[str, ...] = ()
    #: The function's credentials from its environment (``ALIBABA_CLOUD_*``), for the ``oss://`` store and
    #: confirmation only.
    credentials_env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CallbackConfig:
        """Read ``CALLBACK_*`` variables (see docs/CONFIGURATION.md)."""
        env = os.environ if env is None else env
        prefixes_raw = env.get("CALLBACK_KEY_URL_PREFIXES", "").strip()
        prefixes = (
            tuple(p.strip() for p in prefixes_raw.split(",") if p.strip()) if prefixes_raw else DEFAULT_KEY_URL_PREFIXES
        )
        return cls(
            key_url_prefixes=prefixes,
            max_body_bytes=int(_number(env, "CALLBACK_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, low=1, high=3 << 20)),
            key_fetch_timeout=_number(
                env, "CALLBACK_KEY_FETCH_TIMEOUT", DEFAULT_FETCH_TIMEOUT, low=0.05, high=MAX_FETCH_TIMEOUT
            ),
            key_cache_ttl=_number(env, "CALLBACK_KEY_CACHE_TTL", DEFAULT_TTL_SECONDS, low=0, high=7 * 86400),
            key_cache_size=int(_number(env, "CALLBACK_KEY_CACHE_SIZE", DEFAULT_MAX_ENTRIES, low=1, high=4096)),
            response_template=env.get("CALLBACK_RESPONSE_TEMPLATE", "").strip() or "default",
            action=env.get("CALLBACK_ACTION", "").strip() or "none",
            idempotency_size=int(_number(env, "CALLBACK_IDEMPOTENCY_SIZE", 10_000, low=0, high=1_000_000)),
            idempotency_store=StoreSpec.parse(env.get("CALLBACK_IDEMPOTENCY_STORE"), env),
            idempotency_ttl=_number(env, "CALLBACK_IDEMPOTENCY_TTL", DEFAULT_TTL, low=60, high=366 * 86400),
            idempotency_claim_ttl=_number(
                env, "CALLBACK_IDEMPOTENCY_CLAIM_TTL", DEFAULT_CLAIM_TTL, low=1, high=86400
            ),
            idempotency_wait=_number(env, "CALLBACK_IDEMPOTENCY_WAIT", DEFAULT_WAIT, low=0, high=MAX_IDEMPOTENCY_WAIT),
            confirm=ConfirmSpec.parse(env),
            allowed_buckets=_buckets(env),
            credentials_env={k: v for k, v in env.items() if k.startswith("ALIBABA_CLOUD_")},
        )
