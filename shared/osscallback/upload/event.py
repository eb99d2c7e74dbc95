"""The upload function's event: :class:`UploadEvent`, parsed and checked before anything is sent (the event
contract in docs/FUNCTIONS.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from osscallback.errors import UploadError

ACTIONS = ("put", "put_file", "multipart", "presign_put", "post_policy")


@dataclass(frozen=True)
class UploadEvent:
    """The upload function's event (JSON). Names match the event contract in docs/FUNCTIONS.md."""

    action: str
    key: str = ""
    content: str | None = None
    content_base64: str | None = None
    path: str | None = None
    template: str | None = None
    template_vars: dict[str, Any] = field(default_factory=dict)
    custom_vars: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    part_size: int | None = None
    threads: int | None = None
    expires: int = 3600
    key_prefix: str | None = None
    min_size: int = 0
    max_size: int = 1 << 30
    success_action_status: str = "200"
    auth_version: str | None = None
    endpoint: str | None = None
    bucket: str | None = None
    region: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> UploadEvent:
        """Accept FC's ``bytes`` event, a JSON string or a dict; raise :class:`UploadError` if unusable."""
        if isinstance(raw, (bytes, bytearray)):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise UploadError("The event is not UTF-8 JSON.") from None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise UploadError("The event is not valid JSON.") from None
        if not isinstance(raw, dict):
            raise UploadError("The event must be a JSON object.")
        action = raw.get("action")
        if action not in ACTIONS:
            raise UploadError(f"Unknown action {action!r}: use one of {', '.join(ACTIONS)}.")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise UploadError(f"Unknown event field(s): {', '.join(unknown)}.")
        for name in ("template_vars", "custom_vars"):
            if name in raw and not isinstance(raw[name], dict):
                raise UploadError(f"'{name}' must be a JSON object.")
        for name in ("part_size", "threads", "expires", "min_size", "max_size"):
            if name in raw and (not isinstance(raw[name], int) or isinstance(raw[name], bool) or raw[name] < 0):
                raise UploadError(f"'{name}' must be a non-negative integer.")
        for name in ("key", "content", "content_base64", "path", "template", "content_type", "key_prefix",
                     "auth_version", "endpoint", "bucket", "region"):
            if name in raw and raw[name] is not None and not isinstance(raw[name], str):
                raise UploadError(f"'{name}' must be a string.")
        if "success_action_status" in raw:
            raw = {**raw, "success_action_status": str(raw["success_action_status"])}
        event = cls(**raw)
        if action in ("put", "put_file", "multipart", "presign_put") and not event.key:
            raise UploadError(f"Action {action!r} needs 'key' (the object name).")
        if action == "put" and (event.content is None) == (event.content_base64 is None):
            raise UploadError("Action 'put' needs exactly one of 'content' or 'content_base64'.")
        if action in ("put_file", "multipart") and not event.path:
            raise UploadError(f"Action {action!r} needs 'path' (a file under an allowed root).")
        return event
