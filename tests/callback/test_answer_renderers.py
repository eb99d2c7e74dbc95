"""The shipped answer templates render byte for byte as jinja2 renders them, without importing jinja2.

The hand-written renderers in ``callback/answer.py`` replace jinja2 for the shipped templates (cold start and
CPU). Each is compared here with jinja2 rendering the very same ``.j2`` file, over generated callbacks (every
field, any Unicode, HTML-special characters, nested JSON ``extra``) and action results, and through the whole
core over signed requests. A custom template still goes through jinja2, imported only then.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osscallback.callback.answer import HAND_WRITTEN, SHIPPED_DIR, AnswerError, AnswerRenderer, shipped_templates
from osscallback.callback.body import CallbackBody, ImageInfo
from osscallback.callback.core import CallbackApp, CallbackRequest, normalize_headers
from osscallback.errors import ConfigError
from osscallback.testing import OssSigner, form_body
from tests.support import ROOT

SHIPPED = shipped_templates()

texts = st.text(max_size=30) | st.sampled_from(
    ["<script>&'\"</script>", "中文😀", "a\u2028b\u2029c", "\x00\x1f\x7f", "\\", "", "dir/a b+c%20.txt"])
maybe_texts = st.none() | texts
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(texts, inner, max_size=4), max_leaves=12)

bodies = st.builds(
    CallbackBody,
    bucket=maybe_texts, object=maybe_texts, etag=maybe_texts, size=st.none() | st.integers(0, 1 << 62),
    mime_type=maybe_texts,
    image_info=st.builds(ImageInfo, height=st.none() | st.integers(0, 10**6), width=st.none() | st.integers(0, 10**6),
                         format=maybe_texts),
    crc64=maybe_texts, content_md5=maybe_texts, client_ip=maybe_texts, req_id=maybe_texts, operation=maybe_texts,
    vpc_id=maybe_texts,
    custom_vars=st.dictionaries(texts.map(lambda t: "x:" + t), texts, max_size=4),
    extra=st.dictionaries(texts, json_values, max_size=4),
    content_type=st.sampled_from(["form", "json"]),
)
actions = st.none() | json_values


def _pair(name: str) -> tuple[AnswerRenderer, AnswerRenderer]:
    fast, reference = AnswerRenderer(name), AnswerRenderer(name, engine="jinja2")
    assert (fast.engine, reference.engine) == ("hand-written", "jinja2")
    return fast, reference


def _outcome(renderer: AnswerRenderer, body: CallbackBody, action: Any) -> tuple[str, Any]:
    try:
        return "ok", renderer.render(body, action=action, request_id="rid-1")
    except AnswerError as exc:
        return "error", str(exc)


def test_every_shipped_template_has_a_hand_written_renderer() -> None:
    assert SHIPPED == ["default", "echo", "minimal"]
    for name in SHIPPED:
        source = (Path(SHIPPED_DIR) / f"{name}.j2").read_text(encoding="utf-8")
        assert source in HAND_WRITTEN, name


@pytest.mark.parametrize("name", SHIPPED)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, action=actions)
def test_hand_written_equals_jinja2(name: str, body: CallbackBody, action: Any) -> None:
    fast, reference = _pair(name)
    assert _outcome(fast, body, action) == _outcome(reference, body, action)


@pytest.mark.parametrize("action", [float("nan"), {"v": math.inf}, [-math.inf], object(), {1: "a", "b": 2},
                                    "x" * (1 << 20)], ids=["nan", "inf", "-inf", "object", "mixed-keys", "1MiB"])
def test_bad_action_results_fail_alike(action: Any) -> None:
    """Results an answer must not carry (NaN, unencodable, too large) are the same AnswerError both ways."""
    fast, reference = _pair("echo")
    body = CallbackBody(bucket="b", object="o")
    assert _outcome(fast, body, action)[0] == "error"
    assert _outcome(fast, body, action) == _outcome(reference, body, action)


def test_through_the_core_answers_are_identical(key_server, signer: OssSigner) -> None:
    """Signed form and JSON callbacks through the whole core: the same answers with either renderer."""
    requests = []
    for i, fields in enumerate([
        {"bucket": "examplebucket", "object": "dir/中文 <&'>.txt", "size": "12", "x:a": "1"},
        {"bucket": "b", "object": "o", "imageInfo.height": "10", "imageInfo.width": "20", "mimeType": "image/png"},
    ]):
        signed = signer.sign(f"http://cb.example.com/cb?i={i}", form_body(fields))
        requests.append(CallbackRequest("POST", (("/cb", f"i={i}"),), normalize_headers(signed.headers), signed.body))
    doc = {"bucket": "b", "object": "o/\u2028", "size": 5, "extra": {"nested": [1, 2.5, None, {"k": "<v>"}]}}
    signed = signer.sign("http://cb.example.com/cb", json.dumps(doc).encode(), "application/json")
    requests.append(CallbackRequest("POST", (("/cb", ""),), normalize_headers(signed.headers), signed.body))
    for name in SHIPPED:
        fast = CallbackApp.from_env({"CALLBACK_KEY_URL_PREFIXES": key_server.prefix, "CALLBACK_RESPONSE_TEMPLATE": name,
                                     "CALLBACK_ACTION": "log"})
        reference = CallbackApp.from_env({"CALLBACK_KEY_URL_PREFIXES": key_server.prefix,
                                          "CALLBACK_RESPONSE_TEMPLATE": name, "CALLBACK_ACTION": "log"})
        reference.answer = AnswerRenderer(name, engine="jinja2")
        for request in requests:
            a, b = fast.handle(request), reference.handle(request)
            assert (a.status, a.body) == (b.status, b.body) and a.status == 200, (name, a.body, b.body)


def test_default_answer_bytes_are_pinned() -> None:
    """The default answer as it has always been (non-ASCII and HTML-special characters as \\u escapes)."""
    body = CallbackBody(bucket="examplebucket", object="dir/中文 <a>&'b'.txt")
    assert AnswerRenderer().render(body, action=None, request_id="r") == (
        b'{"Status": "OK", "bucket": "examplebucket", "object": '
        b'"dir/\\u4e2d\\u6587 \\u003ca\\u003e\\u0026\\u0027b\\u0027.txt"}')
    assert AnswerRenderer().render(CallbackBody(), action=None, request_id="r") == (
        b'{"Status": "OK", "bucket": null, "object": null}')


def test_an_edited_or_custom_template_goes_through_jinja2(tmp_path: Path) -> None:
    copy = tmp_path / "default-copy.j2"
    copy.write_text((Path(SHIPPED_DIR) / "default.j2").read_text(encoding="utf-8"), encoding="utf-8")
    assert AnswerRenderer(str(copy)).engine == "hand-written"  # the same text: the same renderer
    edited = tmp_path / "edited.j2"
    edited.write_text('{"Status": "OK", "bucket": {{ callback.bucket | tojson }}, "rid": {{ request_id | tojson }}}\n',
                      encoding="utf-8")
    renderer = AnswerRenderer(str(edited))
    assert renderer.engine == "jinja2"
    assert renderer.render(CallbackBody(bucket="b"), action=None, request_id="r-1") == (
        b'{"Status": "OK", "bucket": "b", "rid": "r-1"}')
    broken = tmp_path / "broken.j2"
    broken.write_text('{"Status": {{ nope }}}', encoding="utf-8")
    with pytest.raises(ConfigError, match="unusable"):
        AnswerRenderer(str(broken))


def _modules_after(code: str, env: dict[str, str]) -> set[str]:
    probe = code + "\nimport sys; print(' '.join(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT / "functions" / "callback", capture_output=True,
                         text=True, env={**os.environ, **env}, timeout=60, check=True)
    return set(run.stdout.split())


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_templates_never_import_jinja2(name: str) -> None:
    modules = _modules_after("import index", {"CALLBACK_RESPONSE_TEMPLATE": name})
    assert "index" in modules and "jinja2" not in modules and "oss2" not in modules


def test_custom_template_imports_jinja2(tmp_path: Path) -> None:
    custom = tmp_path / "answer.j2"
    custom.write_text('{"ok": {{ callback.object | tojson }}}', encoding="utf-8")
    modules = _modules_after("import index", {"CALLBACK_RESPONSE_TEMPLATE": str(custom)})
    assert "jinja2" in modules and "oss2" not in modules
