"""The JSON answer to OSS, rendered from a jinja2 template.

OSS hands the callback's answer back to the uploader as the upload's response body, so the answer is part of the
product's API and users shape it with a template (``CALLBACK_RESPONSE_TEMPLATE``: the name of a shipped template
in ``answer_templates/`` or a path to a ``.j2`` file). A template that renders invalid JSON or an answer over
1 MiB is a configuration error: caught at start-up by rendering a sample, and at run time answered as a 500 so
OSS reports ``CallbackFailed`` instead of passing a broken body to the uploader as success.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from osscallback.callback.body import CallbackBody, ImageInfo
from osscallback.errors import ConfigError

MAX_ANSWER_BYTES = 1 << 20
SHIPPED_DIR = Path(__file__).with_name("answer_templates")

_SAMPLE = CallbackBody(
    bucket="examplebucket",
    object="dir/sample object+%&=中文😀.jpg",
    etag="D41D8CD98F00B204E9800998ECF8427E",
    size=1024,
    mime_type="image/jpeg",
    image_info=ImageInfo(height=480, width=640, format="jpg"),
    crc64="1234567890",
    content_md5="1B2M2Y8AsgTpgAmY7PhCfg==",
    client_ip="192.0.2.1",
    req_id="5F2A0000000000000000SAMPLE",
    operation="PutObject",
    custom_vars={"x:sample": "value"},
)


class AnswerError(Exception):
    """A rendered answer that must not be sent (invalid JSON, too large, render failure)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def shipped_templates() -> list[str]:
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.j2"))


def _load_source(name: str) -> str:
    if name.endswith(".j2") or "/" in name or "\\" in name:
        path = Path(name)
    else:
        path = SHIPPED_DIR / f"{name}.j2"
        if not path.is_file():
            raise ConfigError(
                f"CALLBACK_RESPONSE_TEMPLATE={name!r}: no such answer template "
                f"(shipped: {', '.join(shipped_templates())}; or give a path to a .j2 file)"
            )
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"CALLBACK_RESPONSE_TEMPLATE={name!r}: cannot read {path}: {exc.strerror}") from None


class AnswerRenderer:
    """Renders the answer body for a verified, parsed callback."""

    def __init__(self, name: str = "default") -> None:
        self.name = name
        env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        try:
            self._template = env.from_string(_load_source(name))
        except TemplateError as exc:
            raise ConfigError(f"CALLBACK_RESPONSE_TEMPLATE={name!r} does not compile: {exc}") from None
        try:
            self.render(_SAMPLE, action=None, request_id="sample-request-id")
        except AnswerError as exc:
            raise ConfigError(f"CALLBACK_RESPONSE_TEMPLATE={name!r} is unusable: {exc}") from None

    def render(self, callback: CallbackBody, *, action: Any, request_id: str) -> bytes:
        """The answer bytes: valid JSON of at most 1 MiB, or :class:`AnswerError`."""
        try:
            text = self._template.render(callback=callback.as_dict(), action=action, request_id=request_id)
        except TemplateError as exc:
            raise AnswerError(f"the answer template failed to render: {exc}") from None
        except (RecursionError, TypeError, ValueError) as exc:  # e.g. an action result tojson cannot encode
            raise AnswerError(f"the answer could not be rendered: {exc.__class__.__name__}") from None
        data = text.strip().encode("utf-8")
        if len(data) > MAX_ANSWER_BYTES:
            raise AnswerError(f"the answer is {len(data)} bytes, over the {MAX_ANSWER_BYTES}-byte limit")
        try:
            json.loads(data, parse_constant=_reject_constant)  # OSS refuses NaN/Infinity: so do we
        except (ValueError, RecursionError):
            raise AnswerError("the answer template did not render valid JSON") from None
        return data
