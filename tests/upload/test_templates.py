"""Callback templates: shipped ones render and validate; every validation error says what to fix."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from osscallback.upload.callback_params import FORM, JSON, CallbackParams, render_body
from osscallback.upload.templates import (
    CallbackValidationError,
    TemplateLibrary,
    TemplateNotFound,
    TemplateRenderError,
    build_callback,
)
from tests.support import ROOT

URL = "http://127.0.0.1:9000/cb"


@pytest.mark.parametrize("name", ["form-basic", "json-basic", "json-full", "image"])
def test_shipped_templates_render_and_round_trip(name: str) -> None:
    spec = build_callback(name, {"callback_url": URL}, {"x:app_id": "demo"})
    decoded = json.loads(base64.b64decode(spec.callback_b64))
    assert decoded == spec.document()
    assert decoded["callbackUrl"] == URL
    assert CallbackParams.from_base64(spec.callback_b64) == spec.params
    assert "${x:app_id}" in decoded["callbackBody"]
    assert spec.headers()["x-oss-callback"] == spec.callback_b64
    assert json.loads(base64.b64decode(spec.headers()["x-oss-callback-var"])) == {"x:app_id": "demo"}
    assert spec.query_params() == {"callback": spec.callback_b64, "callback-var": spec.callback_var_b64}
    assert spec.post_fields() == {"callback": spec.callback_b64, "x:app_id": "demo"}


def test_form_basic_is_the_seed_body() -> None:
    doc = build_callback("form-basic", {"callback_url": URL}).document()
    assert doc == {"callbackUrl": URL, "callbackBody": "bucket=${bucket}&object=${object}&etag=${etag}&size=${size}&reqId=${reqId}", "callbackBodyType": FORM}


@pytest.mark.parametrize("name", ["form-basic", "json-basic", "json-full", "image"])
def test_every_shipped_template_sends_what_the_dedupe_key_needs(name: str) -> None:
    """bucket, object, ETag and OSS request id: the key the callback and the OSS-event backstop share (SECURITY.md)."""
    body = build_callback(name, {"callback_url": URL}).document()["callbackBody"]
    for var in ("bucket", "object", "etag", "reqId"):
        assert "${" + var + "}" in body, f"{name} does not send ${{{var}}}"


def test_json_full_lists_every_system_variable_unquoted() -> None:
    from osscallback.upload.callback_params import SYSTEM_VARIABLES

    body = build_callback("json-full", {"callback_url": URL}).document()["callbackBody"]
    for var in SYSTEM_VARIABLES:
        assert f":${{{var}}}" in body
        assert f'"${{{var}}}"' not in body
    substituted = json.loads(render_body(body, JSON, {"object": 'a "b" 中', "size": 3}))
    assert substituted["object"] == 'a "b" 中'


def test_image_template_has_image_info() -> None:
    body = build_callback("image", {"callback_url": URL}).document()["callbackBody"]
    assert "imageInfo.height=${imageInfo.height}" in body and "imageInfo.format=${imageInfo.format}" in body


def test_callback_host_sni_and_url_list() -> None:
    urls = [URL, "https://backup.example.com/cb?x=1"]
    doc = build_callback("form-basic", {"callback_url": urls, "callback_host": "cb.example.com", "callback_sni": True}).document()
    assert doc["callbackUrl"] == ";".join(urls)
    assert doc["callbackHost"] == "cb.example.com"
    assert doc["callbackSNI"] is True


@pytest.mark.parametrize(
    ("variables", "custom", "message"),
    [
        ({"callback_url": ""}, None, "callbackUrl is missing"),
        ({"callback_url": [URL] * 6}, None, "at most 5"),
        ({"callback_url": "ftp://example.com/cb"}, None, "must be an absolute http:// or https:// URL"),
        ({"callback_url": "http://example.com/a b"}, None, "not percent-encoded"),
        ({"callback_url": "http://example.com/中文"}, None, "not percent-encoded"),
        ({"callback_url": "http://example.com/%zz"}, None, "not percent-encoded"),
        ({"callback_url": "http://[::1]:9000/cb"}, None, "IPv6"),
        ({"callback_url": URL}, {"x:MyVar": "v"}, "lowercase"),
        ({"callback_url": URL}, {"my_var": "v"}, "x:"),
        ({"callback_url": URL}, {f"x:k{i}": "v" * 100 for i in range(60)}, "callback-var is too long"),
        ({"callback_url": "121.101.166.30/test.php"}, None, "write the scheme and the host"),
        ({"callback_url": "http://:80/cb"}, None, "no host name"),
        ({"callback_url": "http://example.com:99999/cb"}, None, "invalid port"),
        ({"callback_url": 3}, None, "must be a URL or a list of URLs"),
        ({"callback_url": [URL, 3]}, None, "must be a URL or a list of URLs"),
        ({"callback_url": URL, "callback_host": "https://cb.example.com/x"}, None, "callbackHost .* is a URL"),
        ({"callback_url": URL, "callback_host": "cb example.com"}, None, "callbackHost .* is not a host name"),
    ],
)
def test_validation_errors_say_what_to_fix(variables, custom, message: str) -> None:
    with pytest.raises(CallbackValidationError, match=message):
        build_callback("form-basic", variables, custom)


@pytest.mark.parametrize("name", ["json-basic", "json-full", "form-basic"])
def test_bad_custom_key_is_named_before_it_garbles_a_body(name: str) -> None:
    with pytest.raises(CallbackValidationError, match="Custom variable key 'x:a\"b' is invalid"):
        build_callback(name, {"callback_url": URL}, {'x:a"b': "v"})


@pytest.mark.parametrize(("text", "sni"), [("true", True), ("yes", True), ("1", True), ("false", False), ("0", False), ("", False)])
def test_callback_sni_as_text_means_what_it_says(text: str, sni: bool) -> None:
    for name in ("form-basic", "json-basic", "json-full", "image"):
        doc = build_callback(name, {"callback_url": URL, "callback_sni": text}).document()
        assert doc.get("callbackSNI", False) is sni


def test_callback_sni_rejects_a_non_flag() -> None:
    with pytest.raises(TemplateRenderError, match="'maybe' is not a yes/no value"):
        build_callback("form-basic", {"callback_url": URL, "callback_sni": "maybe"})


def test_host_with_port_and_ip_accepted() -> None:
    for host in ("cb.example.com", "cb.example.com:8080", "192.0.2.10"):
        assert build_callback("form-basic", {"callback_url": URL, "callback_host": host}).document()["callbackHost"] == host


def _user_template(tmp_path: Path, name: str, document: str) -> TemplateLibrary:
    (tmp_path / f"{name}.j2").write_text(document, encoding="utf-8")
    return TemplateLibrary(tmp_path)


@pytest.mark.parametrize(
    ("document", "error", "message"),
    [
        ('{"callbackUrl": {{ callback_url|tojson }}, "callbackBody": ""}', CallbackValidationError, "callbackBody is empty"),
        ('{"callbackUrl": {{ callback_url|tojson }}, "callbackBody": "a=${bucket}", "callbackBodyType": "text/plain"}',
         CallbackValidationError, "application/json"),
        ('{"callbackUrl": {{ callback_url|tojson }}, "callbackBody": "{\\"o\\":\\"${object}\\"}", "callbackBodyType": "application/json"}',
         CallbackValidationError, "unquoted"),
        ('{"callbackUrl": {{ callback_url|tojson }}, "callbackBody": "{\\"o\\":${object}", "callbackBodyType": "application/json"}',
         CallbackValidationError, "not json format|not valid JSON"),
        ('{"callbackUrl": {{ callback_url|tojson }}, "callbackBody": "type=${mimetype}"}', CallbackValidationError,
         r"\$\{mimetype\} is not an OSS system variable.*Did you mean \$\{mimeType\}"),
        ('{"callbackUrl": {{ callback_url|tojson }}, "callbackBody": "v=${x:My_Var}"}', CallbackValidationError, "lowercase"),
        ('{"callbackUrl": {{ callback_url|tojson }}, "callbackBody": "{{ "a" * 6000 }}"}', CallbackValidationError, "callback is too long"),
        ('{"callbackUrl": {{ callback_url|tojson }}, "callbackBody": "a={{ app_id }}"}', TemplateRenderError, "app_id"),
        ('{"callbackUrl": {{ callback_url|tojson }}, "callbackBody": {% if %}}', TemplateRenderError, "syntax error"),
        ("callbackUrl = 1", TemplateRenderError, "did not render a JSON document"),
    ],
)
def test_template_errors(tmp_path: Path, document: str, error: type, message: str) -> None:
    library = _user_template(tmp_path, "mine", document)
    with pytest.raises(error, match=message):
        build_callback("mine", {"callback_url": URL}, library=library)


def test_oss_placeholders_pass_through_untouched(tmp_path: Path) -> None:
    library = _user_template(
        tmp_path, "mine",
        '{"callbackUrl": {{ callback_url|tojson }}, "callbackBody": "b=${bucket}&o=${object}&v=${x:v}&app={{ app }}"}',
    )
    doc = build_callback("mine", {"callback_url": URL, "app": "demo"}, {"x:v": "1"}, library=library).document()
    assert doc["callbackBody"] == "b=${bucket}&o=${object}&v=${x:v}&app=demo"


def test_user_dir_overrides_and_adds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "form-basic.j2").write_text('{"callbackUrl": {{ callback_url|tojson }}, "callbackBody": "overridden=${object}"}')
    (tmp_path / "extra.j2").write_text('{"callbackUrl": {{ callback_url|tojson }}, "callbackBody": "extra=${etag}"}')
    monkeypatch.setenv("CALLBACK_TEMPLATE_DIR", str(tmp_path))
    library = TemplateLibrary()
    assert {"form-basic", "extra", "json-full"} <= set(library.names())
    assert build_callback("form-basic", {"callback_url": URL}).document()["callbackBody"] == "overridden=${object}"
    assert build_callback("extra", {"callback_url": URL}).document()["callbackBody"] == "extra=${etag}"


def test_sandbox_blocks_unsafe_access(tmp_path: Path) -> None:
    library = _user_template(tmp_path, "evil", '{"callbackUrl": "{{ callback_url.__class__.__mro__ }}", "callbackBody": "x"}')
    with pytest.raises(TemplateRenderError):
        build_callback("evil", {"callback_url": URL}, library=library)


@pytest.mark.parametrize("name", ["nope", "../form-basic", "a/b", ""])
def test_unknown_or_bad_names(name: str) -> None:
    with pytest.raises(TemplateNotFound):
        build_callback(name, {"callback_url": URL})


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "osscallback.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_render_prints_document_and_headers() -> None:
    out = _cli("template", "render", "json-full", "--var", f"callback_url={URL}", "--custom-var", "x:user=alice")
    assert out.returncode == 0, out.stderr
    assert '"callbackBodyType": "application/json"' in out.stdout
    assert "x-oss-callback: " in out.stdout and "x-oss-callback-var: " in out.stdout
    data = json.loads(_cli("template", "render", "form-basic", "--var", f"callback_url={URL}", "--json").stdout)
    assert data["document"]["callbackBody"] == "bucket=${bucket}&object=${object}&etag=${etag}&size=${size}&reqId=${reqId}"
    assert set(data["headers"]) == {"x-oss-callback"}


def test_cli_console_script() -> None:
    script = Path(sys.executable).with_name("osscallback")
    assert script.exists(), "the osscallback console script is not installed: [project.scripts] or pip install -e ."
    out = subprocess.run([str(script), "template", "render", "form-basic", "--var", f"callback_url={URL}"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert '"callbackBody": "bucket=${bucket}&object=${object}&etag=${etag}&size=${size}&reqId=${reqId}"' in out.stdout
    listed = subprocess.run([str(script), "template", "list"], capture_output=True, text=True, cwd=ROOT)
    assert {"form-basic", "json-basic", "json-full", "image"} <= {line.split()[0] for line in listed.stdout.splitlines()}
    bad = subprocess.run([str(script), "template", "render", "json-full", "--var", "callback_url=ftp://x/cb"],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2
    assert bad.stderr.startswith("osscallback: error: callbackUrl 'ftp://x/cb' must be an absolute http")


def test_cli_errors_are_one_line_exit_2() -> None:
    out = _cli("template", "render", "form-basic")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "callback_url" in out.stderr
    bad = _cli("template", "render", "form-basic", "--var", "callback_url")
    assert bad.returncode == 2 and "NAME=VALUE" in bad.stderr


SHIPPED = ("form-basic", "json-basic", "json-full", "image")


@pytest.mark.parametrize("name", SHIPPED)
def test_an_https_callback_url_asks_for_sni_unless_told_otherwise(name: str) -> None:
    """OSS sends SNI on an HTTPS callback only with "callbackSNI": true (default false); a host that needs it, as FC
    custom domains and CDN-fronted hosts do, otherwise fails the callback: 203 CallbackFailed, "Error status : 502"
    (cloudreve/cloudreve#448, #2100). So a shipped template asks for it whenever a callback URL is https://."""
    https = "https://cb.example.com/callback"
    assert build_callback(name, {"callback_url": https}).document()["callbackSNI"] is True
    assert "callbackSNI" not in build_callback(name, {"callback_url": URL}).document()  # http: nothing to name
    assert build_callback(name, {"callback_url": [URL, https]}).document()["callbackSNI"] is True  # one https is enough
    for off in (False, "false", "0"):
        assert "callbackSNI" not in build_callback(name, {"callback_url": https, "callback_sni": off}).document()
    assert build_callback(name, {"callback_url": URL, "callback_sni": True}).document()["callbackSNI"] is True
