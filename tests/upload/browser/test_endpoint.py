"""The policy endpoint over HTTP, on the local FC host from both templates (FC 2.0's WSGI handler behind its proxy
URL, FC 3.0's HTTP event at a function URL), with the form it hands out posted to the local OSS as a browser posts
it, and OSS's callback answer coming back.

The answer's fields are those of the V4 PostObject form (Alibaba's reference, "POST V4 signature": form elements
x-oss-signature-version = OSS4-HMAC-SHA256, x-oss-credential = <AccessKeyId>/<date>/<region>/oss/aliyun_v4_request,
x-oss-date, x-oss-signature, and x-oss-security-token with STS credentials;
https://help.aliyun.com/en/oss/developer-reference/signature-version-4-recommend), plus what the official web
direct-upload sample's server returns its page (host, policy, dir, expire, callback;
https://help.aliyun.com/document_detail/31926.htm). The local OSS verifies V4 PostObject signatures itself
(local/oss/api/postform.py), so a form that uploads here is a form OSS's rules accept.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from osscallback.local.stack import LocalStack
from tests.support import FIXTURES, ROOT

AUTHORIZERS = FIXTURES / "authorizers"
TOKEN = "s3cret-token-for-alice"
ORIGIN = "http://app.example.test"


def _stack(tmp: Path, template: Path, authorizer: str, **env: str) -> LocalStack:
    return LocalStack(template=template, data_dir=tmp, log_sink=lambda f, line: None, inspector=False,
                      env={"UPLOAD_AUTHORIZER": authorizer, "PYTHONPATH": str(AUTHORIZERS),
                           "TEST_UPLOAD_TOKEN": TOKEN, "UPLOAD_ALLOWED_ORIGINS": ORIGIN, **env})


@pytest.fixture(scope="module", params=["template.fc2.yml", "template.yml"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with _stack(tmp_path_factory.mktemp("oss"), ROOT / request.param, "anonymous") as running:
        yield running


def _post(policy: dict[str, Any], name: str, data: bytes) -> requests.Response:
    """The page's FormData, in its order: key, the signed fields as given, the file last."""
    fields = [("key", (None, policy["key_prefix"] + name))]
    fields += [(k, (None, v)) for k, v in policy["fields"].items()]
    return requests.post(policy["host"], files=[*fields, ("file", (name, data))], timeout=30)


def test_anonymous_policy_uploads_with_the_callback(stack: LocalStack) -> None:
    info = stack.info()
    assert info.upload_page_url
    answer = requests.get(info.upload_page_url + "policy", timeout=10)
    assert answer.status_code == 200, answer.text
    policy = answer.json()
    assert policy["x-oss-signature-version"] == "OSS4-HMAC-SHA256"
    key_id, date, region, service, terminal = policy["x-oss-credential"].split("/")
    assert (region, service, terminal) == (info.region, "oss", "aliyun_v4_request")
    assert policy["x-oss-date"].startswith(date) and len(policy["x-oss-signature"]) == 64
    assert policy["x-oss-security-token"]  # the function's STS credentials, as FC gives a role's
    assert policy["success_action_status"] == "200" and policy["max_size"] == 10 * 1024 * 1024
    assert policy["dir"] == policy["key_prefix"] and policy["key_prefix"].startswith("uploads/")
    document = json.loads(base64.b64decode(policy["policy"]))
    assert ["starts-with", "$key", policy["key_prefix"]] in document["conditions"]
    assert {"callback": policy["callback"]} in document["conditions"]  # the callback is bound in the policy
    assert info.access_key_secret not in answer.text  # never a secret: only what is derived from one
    result = _post(policy, "hello world.txt", b"hello")
    assert result.status_code == 200, result.text
    assert result.json()["object"] == policy["key_prefix"] + "hello world.txt"


def test_each_anonymous_policy_gets_a_fresh_prefix(stack: LocalStack) -> None:
    url = stack.info().upload_page_url + "policy"
    prefixes = {requests.get(url, timeout=10).json()["key_prefix"] for _ in range(3)}
    assert len(prefixes) == 3


def test_a_key_outside_the_prefix_is_refused_by_oss(stack: LocalStack) -> None:
    policy = requests.get(stack.info().upload_page_url + "policy", timeout=10).json()
    policy = {**policy, "key_prefix": "elsewhere/"}
    result = _post(policy, "x.txt", b"x")
    assert result.status_code == 403 and "<Code>AccessDenied</Code>" in result.text


def test_a_file_over_the_limit_is_entity_too_large(tmp_path_factory: pytest.TempPathFactory) -> None:
    with _stack(tmp_path_factory.mktemp("oss"), ROOT / "template.fc2.yml", "anonymous",
                UPLOAD_MAX_SIZE="10") as running:
        policy = requests.get(running.info().upload_page_url + "policy", timeout=10).json()
        assert policy["max_size"] == 10
        result = _post(policy, "big.txt", b"x" * 11)
        assert result.status_code == 400 and "<Code>EntityTooLarge</Code>" in result.text


def test_the_page_and_its_files(stack: LocalStack) -> None:
    url = stack.info().upload_page_url
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert stack.oss.endpoint in csp  # connect-src: itself and the local OSS, nothing else
    for name, kind in (("upload.js", "text/javascript"), ("multipart.js", "text/javascript"),
                       ("ossv4.js", "text/javascript"), ("upload.css", "text/css"), ("favicon.svg", "image/svg+xml")):
        got = requests.get(url + "static/" + name, timeout=10)
        assert got.status_code == 200 and got.headers["Content-Type"].startswith(kind)
    assert requests.get(url + "static/../policy", timeout=10).status_code in (200, 404)
    assert requests.get(url + "static/app.py", timeout=10).status_code == 404
    if not stack.callback_function.is_fc3:  # FC 2.0's proxy URL without its slash: the page's relative URLs need it
        bare = requests.get(url.rstrip("/"), timeout=10, allow_redirects=False)
        assert bare.status_code == 308 and bare.headers["Location"].endswith("/policy/")


def test_cors_on_answers_and_preflights(stack: LocalStack) -> None:
    url = stack.info().upload_page_url + "policy"
    allowed = requests.get(url, headers={"Origin": ORIGIN}, timeout=10)
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN and "Origin" in allowed.headers["Vary"]
    other = requests.get(url, headers={"Origin": "http://evil.example.test"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = requests.options(url, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET",
                                               "Access-Control-Request-Headers": "authorization"}, timeout=10)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "authorization"
    refused = requests.options(url, headers={"Origin": "http://evil.example.test",
                                             "Access-Control-Request-Method": "GET"}, timeout=10)
    assert refused.status_code == 403 and refused.json()["error"] == "CorsForbidden"
    assert "Access-Control-Allow-Origin" not in refused.headers
    post = requests.post(url, data=b"x", headers={"Origin": ORIGIN}, timeout=10)
    assert post.status_code == 403  # the trigger lists GET and OPTIONS only: FC itself refuses the rest


@pytest.mark.parametrize("template", ["template.fc2.yml", "template.yml"])
def test_unset_authorizer_refuses_and_says_how(template: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    with _stack(tmp_path_factory.mktemp("oss"), ROOT / template, "") as running:
        answer = requests.get(running.info().upload_page_url + "policy", timeout=10)
        assert answer.status_code == 403
        doc = answer.json()
        assert doc["error"] == "UploadEndpointNotConfigured" and "UPLOAD_AUTHORIZER" in doc["message"]
        assert "anonymous" in doc["message"] and "policy" not in doc


def test_a_bearer_authorizer(tmp_path_factory: pytest.TempPathFactory) -> None:
    with _stack(tmp_path_factory.mktemp("oss"), ROOT / "template.fc2.yml", "page_authorizers:bearer") as running:
        url = running.info().upload_page_url + "policy"
        missing = requests.get(url, timeout=10)
        assert missing.status_code == 401 and missing.json()["error"] == "Unauthorized"
        wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 403 and wrong.json()["message"] == "This token may not upload."
        good = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert good.status_code == 200 and good.json()["key_prefix"] == "users/alice/"
        assert _post(good.json(), "a.txt", b"a").status_code == 200


def test_an_authorizer_that_escapes_is_refused(tmp_path_factory: pytest.TempPathFactory) -> None:
    with _stack(tmp_path_factory.mktemp("oss"), ROOT / "template.fc2.yml", "page_authorizers:escaping") as running:
        answer = requests.get(running.info().upload_page_url + "policy", timeout=10)
        assert answer.status_code == 500 and answer.json()["error"] == "AuthorizerFailed"
        assert "'..'" in answer.json()["message"]


def test_an_expired_policy_is_refused_by_oss(tmp_path_factory: pytest.TempPathFactory) -> None:
    with _stack(tmp_path_factory.mktemp("oss"), ROOT / "template.fc2.yml", "anonymous",
                UPLOAD_POLICY_EXPIRES="1") as running:
        policy = requests.get(running.info().upload_page_url + "policy", timeout=10).json()
        deadline = policy["expire"] + 1.2  # past the policy's expiration (whole seconds), on this machine's clock
        while time.time() < deadline:
            time.sleep(0.1)
        result = _post(policy, "late.txt", b"late")
        assert result.status_code == 403 and "Policy expired" in result.text
