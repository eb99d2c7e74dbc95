"""Bugs the hardening fuzzers found, first pinned as strict xfails, now fixed: these tests keep them fixed.

Each test states the input, the wrong outcome and the expected one. When a bug is fixed its test starts passing,
``strict=True`` turns that into a failure, and the marker must be removed (and the exclusion noted in the fuzz
strategies of ``tests/support/fuzz.py`` / ``test_fuzz_core.py`` lifted) -- so a fix cannot go unnoticed either.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from osscallback.callback.core import CallbackApp
from osscallback.callback.fc3 import make_fc3_handler
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.testing import KeyServer, form_body
from tests.support.fuzz import build_app, check_answer, check_response, fuzz, make_signed, wsgi_call

pytestmark = [pytest.mark.attack, pytest.mark.usefixtures("quiet_callback_logs")]


@pytest.fixture(scope="module")
def app(key_server: KeyServer) -> CallbackApp:
    return build_app(key_server)


def _event(signed_headers: dict[str, str], body: bytes, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "v1",
        "rawPath": "/cb",
        "headers": signed_headers,
        "body": body.decode(),
        "isBase64Encoded": False,
        "requestContext": {"http": {"method": "POST", "path": "/cb"}, "requestId": "bug"},
    }
    event.update(extra)
    return event


# -- 1. Content-Length that str.isdigit() accepts but int() does not ------------------------------------------------

#: "²" and "①" are digits to str.isdigit() but not decimals to int(); 5000 ASCII nines exceed Python's
#: int-from-string limit (4300 digits) and raise ValueError too.
BAD_LENGTHS = ["²", "①", "9" * 5000]


@pytest.mark.parametrize("length", BAD_LENGTHS, ids=["superscript", "circled", "5000-digits"])
def test_fc3_odd_content_length_is_not_500(app: CallbackApp, key_server: KeyServer, length: str) -> None:
    req = make_signed(key_server.private_key, key_server.key_url, "/cb", "", form_body({"bucket": "b", "object": "o"}),
                      "application/x-www-form-urlencoded")
    headers = {k: v for k, v in req.headers}
    headers["Content-Length"] = length
    result = make_fc3_handler(app)(_event(headers, req.body), None)
    check_answer(result["statusCode"], result["headers"], result["body"].encode())


@pytest.mark.parametrize("length", BAD_LENGTHS, ids=["superscript", "circled", "5000-digits"])
def test_wsgi_odd_content_length_is_answered(app: CallbackApp, length: str) -> None:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "CONTENT_LENGTH": length, "wsgi.input": io.BytesIO(b"x")}
    status, headers, body = wsgi_call(make_wsgi_handler(app), environ)  # raises today: non-JSON 500 from the server
    check_answer(status, headers, body)


@pytest.mark.fuzz
@fuzz(100)
@given(length=st.text(alphabet=st.characters(categories=["N"]), min_size=1, max_size=6))
def test_core_numeric_unicode_content_length(app: CallbackApp, length: str) -> None:
    """Property version, restricted to what works today (every Unicode digit int() accepts) so it runs green; the
    strict xfails above hold the failing examples."""
    try:
        int(length)
    except ValueError:
        return
    result = make_fc3_handler(app)(_event({"Content-Length": length}, b"x"), None)
    check_answer(result["statusCode"], result["headers"], result["body"].encode())


# -- 2. A query string outside latin-1 -------------------------------------------------------------------------------


@pytest.mark.parametrize("carrier", ["fc.request_uri", "rawQueryString"])
def test_non_latin1_query_is_403_not_500(app: CallbackApp, key_server: KeyServer, carrier: str) -> None:
    """Signed for ``/cb?a=1``, delivered as ``/cb?a=中``: must be refused with 403, not crash the verifier."""
    req = make_signed(key_server.private_key, key_server.key_url, "/cb", "a=1",
                      form_body({"bucket": "b", "object": "o"}),
                      "application/x-www-form-urlencoded")
    headers = {k: v for k, v in req.headers}
    if carrier == "fc.request_uri":
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/cb", "fc.request_uri": "/cb?a=中",
                   "CONTENT_LENGTH": str(len(req.body)), "CONTENT_TYPE": headers["Content-Type"],
                   "HTTP_AUTHORIZATION": headers["Authorization"],
                   "HTTP_X_OSS_PUB_KEY_URL": headers["x-oss-pub-key-url"],
                   "wsgi.input": io.BytesIO(req.body)}
        status, hdrs, body = wsgi_call(make_wsgi_handler(app), environ)
    else:
        result = make_fc3_handler(app)(_event(headers, req.body, rawQueryString="a=中"), None)
        status, hdrs, body = result["statusCode"], result["headers"], result["body"].encode()
    check_answer(status, hdrs, body)
    assert status == 403


# -- 3. Deeply nested JSON that json.loads accepts -------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["dict", "list"])
def test_nested_json_within_parser_limit_is_not_500(app: CallbackApp, key_server: KeyServer, shape: str) -> None:
    """Depth 600: ``json.loads`` parses it (its limit is ~1000), then copying the record recurses too deep.
    The uploader writes the callbackBody template, so an uploader can make OSS sign this."""
    depth = 600
    if shape == "dict":
        body = b'{"a":' * depth + b"1" + b"}" * depth
    else:
        body = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    req = make_signed(key_server.private_key, key_server.key_url, "/", "", body, "application/json")
    response = app.handle(req.core_request())
    check_response(response)


# -- 4. FC 3.0 events whose requestContext is not an object ----------------------------------------------------------


@pytest.mark.parametrize("context", [1, "x", [1], {"http": "GET"}, {"http": [1]}])
def test_fc3_malformed_request_context_is_4xx(app: CallbackApp, context: Any) -> None:
    event = json.dumps({"rawPath": "/", "headers": {}, "body": "", "requestContext": context})
    result = make_fc3_handler(app)(event, None)  # raises AttributeError today
    check_answer(result["statusCode"], result["headers"], result["body"].encode())
    assert 400 <= result["statusCode"] < 500


# -- 5. The echo answer template passes NaN / Infinity through ------------------------------------------------------


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_echo_answer_is_strict_json(key_server: KeyServer, constant: bytes) -> None:
    """A JSON callback body ``{"other": NaN}`` (Python's json accepts it) is echoed as ``NaN``: not JSON to OSS,
    which then fails the upload's callback (203 CallbackFailed) although the function answered 200."""
    app = build_app(key_server, CALLBACK_RESPONSE_TEMPLATE="echo")
    body = b'{"bucket": "b", "object": "o", "other": ' + constant + b"}"
    req = make_signed(key_server.private_key, key_server.key_url, "/", "", body, "application/json")
    response = app.handle(req.core_request())
    check_response(response)  # strict JSON: rejects NaN/Infinity


# -- 6. Integer body fields that str.isdigit() accepts but int() does not -------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"bucket=b&object=o&size=%C2%B2", "application/x-www-form-urlencoded"),
        (b"bucket=b&object=o&imageInfo.height=1%E2%91%A0", "application/x-www-form-urlencoded"),
        ('{"bucket": "b", "object": "o", "size": "²"}'.encode(), "application/json"),
    ],
    ids=["form-size", "form-image-height", "json-size"],
)
def test_non_decimal_digit_in_integer_field_is_400(app: CallbackApp, key_server: KeyServer, body: bytes,
                                                   content_type: str) -> None:
    """``size=²`` (uploader-controlled: ``x:`` variables and the callbackBody template are the uploader's) must be
    a 400 InvalidCallbackBody, like ``size=abc``; today it is a 500 InternalError."""
    req = make_signed(key_server.private_key, key_server.key_url, "/", "", body, content_type)
    response = app.handle(req.core_request())
    check_response(response)
    assert response.status == 400
