"""The JSON answer to OSS, rendered from a template.

OSS hands the callback's answer back to the uploader as the upload's response body, so the answer is part of the
product's API and users shape it with a template (``CALLBACK_RESPONSE_TEMPLATE``: the name of a shipped template
in ``answer_templates/`` or a path to a ``.j2`` file). A template that renders invalid JSON or an answer over
1 MiB is a configuration error: caught at start-up by rendering a sample, and at run time answered as a 500 so
OSS reports ``CallbackFailed`` instead of passing a broken body to the uploader as success.

Templates are jinja2 (sandboxed). The shipped ones, though, are rendered by hand-written functions that produce
the same bytes: jinja2 costs about 15 ms of import on every cold start (OSS waits on it) and a fifth of the
callback's CPU per request, for answers of three fields. A hand-written renderer is chosen by the template's
*text*, not its name: if a shipped ``.j2`` file is edited, or a custom file differs from it by one byte, jinja2
renders it. ``tests/callback/test_answer_renderers.py`` proves each hand-written renderer byte-identical to jinja2
over generated callbacks and actions. jinja2 is imported only when a template has no hand-written renderer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any

from osscallback.callback.body import CallbackBody, ImageInfo
from osscallback.errors import ConfigError

MAX_ANSWER_BYTES = 1 << 20
SHIPPED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "answer_templates")
TEMPLATE_SUFFIX = ".j2"

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
    return sorted(n[: -len(TEMPLATE_SUFFIX)] for n in os.listdir(SHIPPED_DIR) if n.endswith(TEMPLATE_SUFFIX))


def _load_source(name: str) -> str:
    if name.endswith(TEMPLATE_SUFFIX) or "/" in name or "\\" in name:
        path = name
    else:
        path = os.path.join(SHIPPED_DIR, name + TEMPLATE_SUFFIX)
        if not os.path.isfile(path):
            raise ConfigError(
                f"CALLBACK_RESPONSE_TEMPLATE={name!r}: no such answer template "
                f"(shipped: {', '.join(shipped_templates())}; or give a path to a .j2 file)"
            )
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise ConfigError(f"CALLBACK_RESPONSE_TEMPLATE={name!r}: cannot read {path}: {exc.strerror}") from None


# ------------------------------------------------------------------------------------------ hand-written renderers
def tojson(value: Any) -> str:
    """jinja2's ``|tojson`` filter exactly: ``json.dumps(value, sort_keys=True)`` (its default policy), then
    ``<``, ``>``, ``&`` and ``'`` as ``\\u`` escapes."""
    if isinstance(value, str):
        text = encode_basestring_ascii(value)  # what json.dumps does for a str, without the encoder set-up
    elif value is None:
        return "null"
    else:
        text = json.dumps(value, sort_keys=True)
    if "<" in text or ">" in text or "&" in text or "'" in text:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")
    return text


Render = Callable[[CallbackBody, Any, str], str]


def _render_default(callback: CallbackBody, action: Any, request_id: str) -> str:
    return f'{{"Status": "OK", "bucket": {tojson(callback.bucket)}, "object": {tojson(callback.object)}}}'


def _render_echo(callback: CallbackBody, action: Any, request_id: str) -> str:
    if action is None:
        return f'{{"Status": "OK", "callback": {tojson(callback.as_dict())}}}'
    return f'{{"Status": "OK", "callback": {tojson(callback.as_dict())}, "action": {tojson(action)}}}'


def _render_minimal(callback: CallbackBody, action: Any, request_id: str) -> str:
    return '{"Status": "OK"}'


#: Template text -> (renderer, whether its output can be invalid JSON for this action). The keys are the shipped
#: files' contents exactly; an edited file no longer matches and is rendered by jinja2.
HAND_WRITTEN: dict[str, tuple[Render, Callable[[Any], bool]]] = {
    '{"Status": "OK", "bucket": {{ callback.bucket | tojson }}, "object": {{ callback.object | tojson }}}\n':
        (_render_default, lambda action: False),
    '{"Status": "OK", "callback": {{ callback | tojson }}{% if action is not none %}, '
    '"action": {{ action | tojson }}{% endif %}}\n':
        # A parsed callback is always valid JSON (no NaN gets past the body parser); an action's result may not be.
        (_render_echo, lambda action: action is not None),
    '{"Status": "OK"}\n': (_render_minimal, lambda action: False),
}


def _jinja2_renderer(name: str, source: str) -> Render:
    """The reference renderer, for custom templates (and for the tests that prove the hand-written ones)."""
    from jinja2 import StrictUndefined, TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    try:
        template = env.from_string(source)
    except TemplateError as exc:
        raise ConfigError(f"CALLBACK_RESPONSE_TEMPLATE={name!r} does not compile: {exc}") from None

    def render(callback: CallbackBody, action: Any, request_id: str) -> str:
        try:
            return template.render(callback=callback.as_dict(), action=action, request_id=request_id)
        except TemplateError as exc:
            raise AnswerError(f"the answer template failed to render: {exc}") from None

    return render


class AnswerRenderer:
    """Renders the answer body for a verified, parsed callback.

    ``engine="jinja2"`` forces the reference renderer even for a template with a hand-written one (tests).
    """

    def __init__(self, name: str = "default", *, engine: str = "auto") -> None:
        self.name = name
        source = _load_source(name)
        fast = HAND_WRITTEN.get(source) if engine == "auto" else None
        if fast is not None:
            self._render, self._may_be_invalid = fast
            self.engine = "hand-written"
        else:
            self._render, self._may_be_invalid = _jinja2_renderer(name, source), lambda action: True
            self.engine = "jinja2"
        try:
            self.render(_SAMPLE, action=None, request_id="sample-request-id")
        except AnswerError as exc:
            raise ConfigError(f"CALLBACK_RESPONSE_TEMPLATE={name!r} is unusable: {exc}") from None

    def render(self, callback: CallbackBody, *, action: Any, request_id: str) -> bytes:
        """The answer bytes: valid JSON of at most 1 MiB, or :class:`AnswerError`."""
        try:
            text = self._render(callback, action, request_id)
        except AnswerError:
            raise
        except (RecursionError, TypeError, ValueError) as exc:  # e.g. an action result tojson cannot encode
            raise AnswerError(f"the answer could not be rendered: {exc.__class__.__name__}") from None
        data = text.strip().encode("utf-8")
        if len(data) > MAX_ANSWER_BYTES:
            raise AnswerError(f"the answer is {len(data)} bytes, over the {MAX_ANSWER_BYTES}-byte limit")
        if self._may_be_invalid(action):
            try:
                json.loads(data, parse_constant=_reject_constant)  # OSS refuses NaN/Infinity: so do we
            except (ValueError, RecursionError):
                raise AnswerError("the answer template did not render valid JSON") from None
        return data
