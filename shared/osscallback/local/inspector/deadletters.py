"""The inspector's dead letters: the backstop's failed events in the local OSS, listed, and redelivered on a click.

The page asks ``GET /api/dead-letters`` (each one's reason, attempts, uploads and event) and
``POST /api/dead-letters/<id>/redeliver`` (the Redeliver button): the event goes through the backstop again by
FC's InvokeFunction on the local FC host, exactly as ``osscallback redeliver --endpoint`` sends it
(:mod:`osscallback.callback.redelivery`: same event, same dedupe key; the dead letter removed once delivered).
:class:`StackDeadLetters` is the local stack's source; the app takes any object with ``list`` and ``redeliver``.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Protocol

from osscallback.callback.deadletter import BoxSpec, DeadLetter
from osscallback.callback.redelivery import RedeliveryFailed, redeliver_one

if TYPE_CHECKING:
    from osscallback.callback.deadletter_oss import OssLetterBox
    from osscallback.local.fc.host import LocalFCHost

#: A dead letter's id in the API: its object name after the prefix (``<UTC time>-<request id>.json``).
LETTER_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}\.json$")


class DeadLetterSource(Protocol):
    def list(self) -> list[dict[str, Any]]: ...

    def redeliver(self, letter_id: str) -> dict[str, Any]: ...


def letter_view(letter_id: str, letter: DeadLetter) -> dict[str, Any]:
    """What the page shows of one dead letter (every value is text the page puts in with ``textContent``)."""
    event = letter.event if isinstance(letter.event, str) else json.dumps(letter.event, ensure_ascii=False, indent=2)
    return {"id": letter_id, "request_id": letter.request_id, "failed_at": letter.failed_at,
            "condition": letter.condition, "attempts": letter.attempts, "reason": letter.reason,
            "uploads": [f"{b}/{k}" for b, k in letter.uploads], "event": event}


class StackDeadLetters:
    """The local stack's dead letters (``url``: its bucket and the templates' prefix at the local OSS, read with the
    local OSS's key pair) and its backstop (the OSS-triggered function of ``fc``)."""

    def __init__(self, url: str, access_key_id: str, access_key_secret: str, fc: LocalFCHost) -> None:
        self.url = url
        self.credentials = {"ALIBABA_CLOUD_ACCESS_KEY_ID": access_key_id,
                            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": access_key_secret}
        self.fc = fc
        self._box: OssLetterBox | None = None

    def box(self) -> OssLetterBox:
        if self._box is None:
            from osscallback.callback.deadletter_oss import OssLetterBox

            self._box = OssLetterBox(BoxSpec.parse(self.url), self.credentials)
        return self._box

    def list(self) -> list[dict[str, Any]]:
        box = self.box()
        out = []
        for name in box.names():
            letter = box.read(name)
            if letter is not None:
                out.append(letter_view(name[len(box.prefix):], letter))
        return out

    def redeliver(self, letter_id: str) -> dict[str, Any]:
        box = self.box()
        return redeliver_one(box, box.prefix + letter_id, self._invoke).to_dict()

    def _invoke(self, payload: bytes) -> dict[str, Any]:
        from osscallback.local.fc.errors import FunctionInvocationError

        fc = self.fc
        backstop = next((s for s in fc.specs if s.oss_triggers), None)
        if backstop is None:
            raise RedeliveryFailed("the template has no OSS-triggered (backstop) function")
        try:
            raw = fc.invoke(backstop.name, payload, service=backstop.service or None)
        except FunctionInvocationError as exc:
            raise RedeliveryFailed(str(exc)) from None
        try:
            doc = json.loads(raw)
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}


__all__ = ["DeadLetterSource", "LETTER_ID", "StackDeadLetters", "letter_view"]
