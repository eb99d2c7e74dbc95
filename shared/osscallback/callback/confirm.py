"""Confirmation (``CALLBACK_CONFIRM``): before the action runs, ask OSS whether the upload a callback describes
really happened.

Why: OSS signs callbacks with a 512-bit RSA key (``callback_pub_key_v1.pem``), and a 512-bit modulus can be
factored in hours for little money (docs/SECURITY.md). Whoever factors it can sign any callback for every OSS
callback server. Confirmation makes a valid signature necessary but no longer sufficient: the object the callback
names must exist in OSS, now, with the callback's ETag and size.

- ``none`` (the library default): no confirmation, and no ``oss2`` import, so the cold start OSS waits on stays
  light.
- ``head`` (the shipped templates and the local stack): one ``HeadObject`` through ``oss2``
  (:mod:`osscallback.callback.confirm_head`, imported only then) with the function's own role credentials, on the
  region's internal endpoint (``CALLBACK_CONFIRM_ENDPOINT``; the local stack points it at the local OSS), within
  ``CALLBACK_CONFIRM_TIMEOUT`` (at most 1.5 s, inside OSS's 5 s). Each of ETag and size that the callback carries
  must match (ETags without quotes, in any case); a callback naming no bucket or object cannot be confirmed.

Outcomes (:class:`ConfirmationFailed`, which the core answers as JSON): the object missing or different →
``403 CallbackNotConfirmed`` naming what differed (never the stored values: a forger must not learn them); OSS
unreachable, refusing or slow → ``503 ConfirmUnavailable``. Either way the action does not run, and the OSS-event
backstop delivers a real upload later.

Where it runs: inside the idempotency claim, just before the action (:meth:`CallbackApp.deliver
<osscallback.callback.core.CallbackApp.deliver>`). A byte-identical replay of an upload already delivered gets the
stored result without a HEAD: that run was confirmed (or came from OSS's own event), and the store's fingerprint
refuses a different body under the same key. Only the callback path confirms: OSS events come from FC's OSS
trigger, which FC invokes with the account's own authority, not from the internet.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from osscallback.callback.actions import normalize_etag
from osscallback.callback.body import CallbackBody
from osscallback.errors import CallbackRejected, ConfigError
from osscallback.osslocation import internal_endpoint

log = logging.getLogger("osscallback.confirm")

MODES = ("none", "head")
#: Longest wait for OSS's answer (connect plus read): inside OSS's 5 s with a key fetch and the action beside it.
MAX_TIMEOUT = 1.5


class ConfirmationFailed(CallbackRejected):
    """The callback could not be confirmed: ``decision`` is ``missing``, ``mismatch``, ``incomplete`` (403) or
    ``unavailable`` (503)."""

    def __init__(self, status: int, code: str, message: str, decision: str) -> None:
        super().__init__(status, code, message)
        self.decision = decision


def not_confirmed(message: str, decision: str) -> ConfirmationFailed:
    return ConfirmationFailed(403, "CallbackNotConfirmed", message, decision)


def unavailable(message: str) -> ConfirmationFailed:
    return ConfirmationFailed(
        503, "ConfirmUnavailable",
        f"{message}; the action did not run, and the upload is delivered again later (OSS event).", "unavailable",
    )


@dataclass(frozen=True)
class ConfirmSpec:
    """``CALLBACK_CONFIRM`` and its settings, parsed at start-up (no client library needed)."""

    mode: str = "none"
    endpoint: str = ""
    region: str = ""
    timeout: float = MAX_TIMEOUT

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    @classmethod
    def parse(cls, env: Mapping[str, str]) -> ConfirmSpec:
        mode = env.get("CALLBACK_CONFIRM", "").strip().lower() or "none"
        if mode not in MODES:
            raise ConfigError(f"CALLBACK_CONFIRM={mode!r}: use head (ask OSS about each callback) or none")
        raw_timeout = env.get("CALLBACK_CONFIRM_TIMEOUT", "").strip()
        try:
            timeout = float(raw_timeout) if raw_timeout else MAX_TIMEOUT
        except ValueError:
            timeout = -1.0
        if not 0.1 <= timeout <= MAX_TIMEOUT:
            raise ConfigError(
                f"CALLBACK_CONFIRM_TIMEOUT={raw_timeout!r} must be a number of seconds from 0.1 to {MAX_TIMEOUT:g}"
            )
        if mode == "none":
            return cls("none", timeout=timeout)
        region = env.get("FC_REGION", "").strip()
        if not region:
            raise ConfigError("CALLBACK_CONFIRM=head needs FC_REGION (FC sets it; the local stack too)")
        endpoint = env.get("CALLBACK_CONFIRM_ENDPOINT", "").strip() or internal_endpoint(region)
        if not endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"CALLBACK_CONFIRM_ENDPOINT={endpoint!r} must be an http(s) URL")
        return cls(mode, endpoint=endpoint, region=region, timeout=timeout)


@dataclass(frozen=True)
class ObjectFacts:
    """What OSS says about an object (HeadObject): its ETag (no quotes) and size."""

    etag: str | None
    size: int | None


def differences(body: CallbackBody, facts: ObjectFacts) -> list[str]:
    """The fields the callback carries that OSS contradicts (``etag``, ``size``); fields it lacks are not checked."""
    found = []
    if body.etag is not None and (facts.etag is None or normalize_etag(body.etag) != normalize_etag(facts.etag)):
        found.append("etag")
    if body.size is not None and facts.size != body.size:
        found.append("size")
    return found


#: ``head(bucket, key)``: the object's facts, ``None`` if OSS says it does not exist, or :func:`unavailable`.
HeadFunction = Callable[[str, str], "ObjectFacts | None"]


class Confirmer:
    """Confirms one callback body with OSS before its action runs; raises :class:`ConfirmationFailed`."""

    def __init__(self, head: HeadFunction, *, observe: Callable[[Any], None] | None = None) -> None:
        self.head = head
        self._observe = observe

    def observe_credentials(self, credentials: Any) -> None:
        if self._observe is not None:
            self._observe(credentials)

    def confirm(self, body: CallbackBody, request_id: str) -> None:
        if not body.bucket or not body.object:
            raise not_confirmed(
                "The callback names no bucket or object, so OSS cannot confirm it (CALLBACK_CONFIRM=head needs "
                "${bucket} and ${object} in the callback body).", "incomplete",
            )
        where = f"{body.bucket}/{body.object}"
        try:
            facts = self.head(body.bucket, body.object)
        except ConfirmationFailed as exc:
            log.error(json.dumps({"request_id": request_id, "error": "ConfirmUnavailable", "object": where,
                                  "message": exc.message}, ensure_ascii=False))
            raise
        if facts is None:
            raise not_confirmed(f"OSS has no object {where}.", "missing")
        differ = differences(body, facts)
        if differ:
            said = " and ".join(f"{'ETag' if name == 'etag' else 'size'}" for name in differ)
            raise not_confirmed(f"The object {where} in OSS has another {said} than the callback says.", "mismatch")
