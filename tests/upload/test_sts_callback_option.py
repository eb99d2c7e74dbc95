"""``GET /sts``'s ``callback_parameters`` given to ali-oss (npm, pinned, unchanged) as its ``callback`` option make
the same ``x-oss-callback`` (and ``x-oss-callback-var``) as the answer's ``callback``: DEPLOY.md tells apps to pass
them as they are (``client.multipartUpload(key, file, {callback: answer.callback_parameters})``).

The case that matters is an ``https://`` callback URL: the templates then set ``"callbackSNI": true`` (issue 28: OSS
sends SNI only when asked, and an FC custom domain or a CDN needs it, cloudreve/cloudreve#448), and ali-oss 6.23.0
copies ``callbackSNI`` from its option (lib/common/callback.js), so the fields must carry it or an app's callback
fails with 203 CallbackFailed where the page's succeeds. ali-oss's own encoder runs here, not a copy of it.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from typing import Any

import pytest

from osscallback.upload.browser.sts import TempCredentials, answer
from osscallback.upload.templates import build_callback
from tests.support import ROOT

ENCODER = ROOT / "node_modules" / "ali-oss" / "lib" / "common" / "callback.js"
# ali-oss's encodeCallback(reqParams, options) fills reqParams.headers; print them as JSON.
SCRIPT = ("const {encodeCallback} = require(process.argv[1]); const r = {};"
          "encodeCallback(r, {callback: JSON.parse(process.argv[2])}); console.log(JSON.stringify(r.headers));")


def _ali_oss_headers(parameters: dict[str, Any]) -> dict[str, str]:
    if shutil.which("node") is None or not ENCODER.is_file():
        pytest.fail("ali-oss is not installed: run `npm ci` at the repository root (.ci/run does)")
    out = subprocess.run(["node", "-e", SCRIPT, str(ENCODER), json.dumps(parameters)], capture_output=True,
                         text=True, timeout=60, check=True)
    headers: dict[str, str] = json.loads(out.stdout)
    return headers


def _decoded(b64: str | None) -> Any:
    return json.loads(base64.b64decode(b64)) if b64 else {}


@pytest.mark.parametrize("url, custom_vars", [
    ("https://callback.example.com/oss", {"x:user": "alice"}),  # FC custom domain: needs SNI
    ("https://callback.example.com/oss", {}),
    ("http://127.0.0.1:9000/", {"x:user": "bob"}),  # no TLS, no SNI
])
@pytest.mark.parametrize("template", ["form-basic", "json-full"])
def test_ali_oss_sends_the_callback_the_answer_carries(template: str, url: str, custom_vars: dict[str, str]) -> None:
    callback = build_callback(template, {"callback_url": url}, custom_vars)
    doc = answer(TempCredentials("STS.id", "secret", "token", "2026-12-07T10:00:00Z"), bucket="examplebucket",
                 region="cn-hangzhou", endpoint="https://oss-cn-hangzhou.aliyuncs.com",
                 host="https://examplebucket.oss-cn-hangzhou.aliyuncs.com", prefix="uploads/u1/", callback=callback,
                 policy={})
    headers = _ali_oss_headers(doc["callback_parameters"])
    sent = _decoded(headers["x-oss-callback"])
    assert sent == _decoded(doc["callback"])
    assert sent.get("callbackSNI", False) is url.startswith("https://")
    # ali-oss sends x-oss-callback-var {} when customValue is empty; the answer then has none: the same variables
    assert _decoded(headers.get("x-oss-callback-var")) == _decoded(doc["callback_var"])


def test_deploy_md_tells_sdk_users_to_sign_v4() -> None:
    """ali-oss and oss2's StsAuth sign V1 by default, which a bucket created since 2025-09-01 refuses (issue 28): the
    section that tells apps how to use ``/sts`` must say how to sign V4 with each."""
    text = (ROOT / "docs" / "DEPLOY.md").read_text()
    section = text[text.index("## Mobile and large uploads"):]
    section = section[:section.index("\n## ", 5)]
    assert "authorizationV4: true" in section and 'auth_version="v4"' in section
    assert "`callbackSNI: true`" in section
