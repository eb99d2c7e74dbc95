"""The callback function over real HTTP: valid callbacks answered, every error row refused with JSON."""

from __future__ import annotations

import base64
import http.client
import json
import threading
from urllib.parse import quote

import pytest

from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.local.httpserver import WSGIServer
from osscallback.testing import KeyServer, OssSigner, form_body, post

AWKWARD_KEYS = [
    "plain.txt",
    "dir/sub dir/with space.txt",
    "a+b=c&d%25e.bin",
    "100% real/emoji 😀 file.png",
    "中文目录/文件名.jpg",
    "trailing/slash/",
]


def _json(answer_body: bytes) -> dict:
    return json.loads(answer_body)


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_valid_form_callback_is_answered_with_json(callback_server: WSGIServer, signer: OssSigner, key: str) -> None:
    body = form_body({"bucket": "examplebucket", "object": key, "size": "1024", "x:my_var": "v 1"})
    answer = post(signer.sign(callback_server.url + "/", body))
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "application/json"
    assert int(answer.headers["content-length"]) == len(answer.body)
    assert _json(answer.body) == {"Status": "OK", "bucket": "examplebucket", "object": key}


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_valid_json_callback_is_answered(callback_server: WSGIServer, signer: OssSigner, key: str) -> None:
    doc = {"bucket": "examplebucket", "object": key, "size": 7, "mimeType": "text/plain", "x:app": "demo"}
    body = json.dumps(doc, ensure_ascii=False).encode()
    answer = post(signer.sign(callback_server.url + "/cb", body, "application/json"))
    assert answer.status == 200, answer.body
    assert _json(answer.body)["object"] == key


def test_callback_url_with_query_and_percent_encoded_path(callback_server: WSGIServer, signer: OssSigner) -> None:
    url = callback_server.url + "/hooks/%E4%B8%AD%E6%96%87/a%20b%2Bc.php?app=demo&token=a%2Fb&empty="
    answer = post(signer.sign(url, form_body({"bucket": "b", "object": "o"})))
    assert answer.status == 200, answer.body


def test_signature_covers_query(callback_server: WSGIServer, signer: OssSigner) -> None:
    signed = signer.sign(callback_server.url + "/cb?app=demo", form_body({"bucket": "b", "object": "o"}))
    signed.url = callback_server.url + "/cb?app=evil"
    answer = post(signed)
    assert answer.status == 403
    assert _json(answer.body)["error"] == "SignatureDoesNotMatch"


def test_echo_template_returns_parsed_record(make_app, serve, signer: OssSigner) -> None:
    server = serve(make_wsgi_handler(make_app(CALLBACK_RESPONSE_TEMPLATE="echo")))
    body = form_body(
        {
            "bucket": "bk",
            "object": "o b+c",
            "etag": "ETAG",
            "size": "42",
            "mimeType": "image/png",
            "imageInfo.height": "10",
            "imageInfo.width": "20",
            "imageInfo.format": "png",
            "crc64": "123",
            "contentMd5": "md5==",
            "clientIp": "10.0.0.1",
            "reqId": "REQ1",
            "operation": "PutObject",
            "vpcId": "",
            "x:my_var": "value",
            "other": "kept",
        }
    )
    answer = post(signer.sign(server.url + "/", body))
    assert answer.status == 200, answer.body
    record = _json(answer.body)["callback"]
    assert record["object"] == "o b+c"
    assert record["size"] == 42
    assert record["mime_type"] == "image/png"
    assert record["image_info"] == {"height": 10, "width": 20, "format": "png"}
    assert record["req_id"] == "REQ1"
    assert record["vpc_id"] is None
    assert record["custom_vars"] == {"x:my_var": "value"}
    assert record["extra"] == {"other": "kept"}


def test_forged_signature_is_403(callback_server: WSGIServer, signer: OssSigner) -> None:
    signed = signer.sign(callback_server.url + "/", form_body({"bucket": "b", "object": "o"}))
    signed.body = form_body({"bucket": "b", "object": "evil"})
    signed.headers["Content-Length"] = str(len(signed.body))
    answer = post(signed)
    assert answer.status == 403
    assert _json(answer.body)["error"] == "SignatureDoesNotMatch"


def test_signature_from_another_key_is_403(callback_server: WSGIServer, key_server: KeyServer) -> None:
    from osscallback.keygen import generate_private_key

    forger = OssSigner(generate_private_key(), key_server.key_url)
    answer = post(forger.sign(callback_server.url + "/", form_body({"bucket": "b", "object": "o"})))
    assert answer.status == 403


def test_untrusted_key_url_is_403_and_never_fetched(
    callback_server: WSGIServer, signer: OssSigner, key_server: KeyServer
) -> None:
    evil = KeyServer(key_server.private_key).start()
    try:
        forged = OssSigner(key_server.private_key, evil.key_url)
        answer = post(forged.sign(callback_server.url + "/", form_body({"bucket": "b", "object": "o"})))
        assert answer.status == 403
        assert _json(answer.body)["error"] == "UntrustedPubKeyUrl"
        assert evil.total_fetches == 0
    finally:
        evil.stop()


def test_default_policy_trusts_only_gosspublic(serve, signer: OssSigner, key_server: KeyServer) -> None:
    from osscallback.callback.core import CallbackApp

    server = serve(make_wsgi_handler(CallbackApp.from_env({})))
    before = key_server.total_fetches
    answer = post(signer.sign(server.url + "/", form_body({"bucket": "b", "object": "o"})))
    assert answer.status == 403
    assert key_server.total_fetches == before


def test_non_post_is_405(callback_server: WSGIServer, signer: OssSigner) -> None:
    signed = signer.sign(callback_server.url + "/", b"")
    answer = post(signed, method="GET")
    assert answer.status == 405
    assert answer.headers["allow"] == "POST"
    assert _json(answer.body)["error"] == "MethodNotAllowed"


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda h: h.pop("Authorization"), "MissingAuthorization"),
        (lambda h: h.__setitem__("Authorization", "not base64!!"), "InvalidAuthorization"),
        (lambda h: h.pop("x-oss-pub-key-url"), "MissingPubKeyUrl"),
        (lambda h: h.__setitem__("x-oss-pub-key-url", "@@@"), "InvalidPubKeyUrl"),
        (lambda h: h.__setitem__("x-oss-pub-key-url", base64.b64encode(b"\xff\xfe").decode()), "InvalidPubKeyUrl"),
    ],
)
def test_bad_headers_are_400(callback_server: WSGIServer, signer: OssSigner, mutate, code: str) -> None:
    signed = signer.sign(callback_server.url + "/", form_body({"bucket": "b", "object": "o"}))
    mutate(signed.headers)
    answer = post(signed)
    assert answer.status == 400
    assert _json(answer.body) == {"error": code, "message": _json(answer.body)["message"]}


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"", "application/x-www-form-urlencoded", 400),
        (b"\xff\xfe\xfa", "application/x-www-form-urlencoded", 400),
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"[" * 100_00 + b"]" * 100_00, "application/json", 400),
        (b"size=notanumber", "application/x-www-form-urlencoded", 400),
        (b"novalue", "application/x-www-form-urlencoded", 400),
        (b"bucket=b", "text/plain", 415),
    ],
)
def test_malformed_but_signed_body_is_4xx(
    make_app, serve, signer: OssSigner, body: bytes, content_type: str, status: int
) -> None:
    server = serve(make_wsgi_handler(make_app(CALLBACK_MAX_BODY_BYTES=str(1 << 20))))
    answer = post(signer.sign(server.url + "/", body, content_type))
    assert answer.status == status, answer.body
    assert "error" in _json(answer.body)


def test_body_over_cap_is_413_without_reading(make_app, serve, signer: OssSigner) -> None:
    server = serve(make_wsgi_handler(make_app(CALLBACK_MAX_BODY_BYTES="100")))
    answer = post(signer.sign(server.url + "/", form_body({"bucket": "b", "object": "o" * 200})))
    assert answer.status == 413
    assert _json(answer.body)["error"] == "BodyTooLarge"


def test_chunked_body_over_cap_is_413(make_app, serve, signer: OssSigner) -> None:
    server = serve(make_wsgi_handler(make_app(CALLBACK_MAX_BODY_BYTES="100")))
    signed = signer.sign(server.url + "/", form_body({"bucket": "b", "object": "o" * 500}))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {k: v for k, v in signed.headers.items() if k != "Content-Length"}
    conn.request("POST", "/", body=iter([signed.body[:300], signed.body[300:]]), headers=headers, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 413
    assert json.loads(resp.read())["error"] == "BodyTooLarge"
    conn.close()


def test_key_fetch_failure_is_502(make_app, serve, signer: OssSigner, key_server: KeyServer) -> None:
    server = serve(make_wsgi_handler(make_app()))
    key_server.behaviour.status = 404
    try:
        answer = post(signer.sign(server.url + "/", form_body({"bucket": "b", "object": "o"})))
    finally:
        key_server.behaviour.status = 200
    assert answer.status == 502
    assert _json(answer.body)["error"] == "PubKeyFetchFailed"
    # A failed fetch is not cached: the next callback fetches again and succeeds.
    answer = post(signer.sign(server.url + "/", form_body({"bucket": "b", "object": "o"})))
    assert answer.status == 200


def test_key_server_unreachable_is_502(serve) -> None:
    from osscallback.callback.core import CallbackApp
    from osscallback.keygen import generate_private_key

    with KeyServer() as dead:
        prefix, key_url = dead.prefix, dead.key_url
    app = CallbackApp.from_env({"CALLBACK_KEY_URL_PREFIXES": prefix, "CALLBACK_KEY_FETCH_TIMEOUT": "0.5"})
    server = serve(make_wsgi_handler(app))
    signer = OssSigner(generate_private_key(), key_url)
    answer = post(signer.sign(server.url + "/", form_body({"bucket": "b", "object": "o"})))
    assert answer.status == 502


def test_key_is_fetched_once_for_many_callbacks(make_app, serve, signer: OssSigner, key_server: KeyServer) -> None:
    server = serve(make_wsgi_handler(make_app()))
    before = key_server.total_fetches
    results: list[int] = []

    def send(i: int) -> None:
        results.append(post(signer.sign(server.url + "/", form_body({"bucket": "b", "object": f"o{i}"}))).status)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 24
    assert key_server.total_fetches - before == 1


def test_key_cache_ttl_expiry_refetches(make_app, serve, signer: OssSigner, key_server: KeyServer) -> None:
    import time

    app = make_app(CALLBACK_KEY_CACHE_TTL="1.5")  # roomy: the first two callbacks must land inside it, even on a loaded CI
    server = serve(make_wsgi_handler(app))
    before = key_server.total_fetches
    assert post(signer.sign(server.url + "/", form_body({"bucket": "b", "object": "1"}))).status == 200
    assert post(signer.sign(server.url + "/", form_body({"bucket": "b", "object": "2"}))).status == 200
    assert key_server.total_fetches - before == 1
    time.sleep(1.6)
    assert post(signer.sign(server.url + "/", form_body({"bucket": "b", "object": "3"}))).status == 200
    assert key_server.total_fetches - before == 2


def test_every_request_logs_one_json_line(callback_server: WSGIServer, signer: OssSigner, log_records) -> None:
    post(signer.sign(callback_server.url + "/", form_body({"bucket": "b", "object": "logged.txt"})))
    lines = [json.loads(r.getMessage()) for r in log_records.records if r.name == "osscallback.callback"]
    assert len(lines) == 1
    assert lines[0]["status"] == 200
    assert lines[0]["outcome"] == "ok"
    assert lines[0]["object"] == "logged.txt"
    assert lines[0]["request_id"]
    assert lines[0]["latency_ms"] >= 0


def _fc_proxy(inner, service: str = "svc", function: str = "callback"):
    """What FC 2.0 does in front of the handler: PATH_INFO gets only the rest, fc.request_uri the full URI."""
    prefix = f"/2016-08-15/proxy/{service}/{function}"

    def app(environ, start_response):
        raw = environ["PATH_INFO"]
        query = environ.get("QUERY_STRING", "")
        environ["fc.request_uri"] = quote(raw, safe="/") + (f"?{query}" if query else "")
        environ.pop("REQUEST_URI", None)
        environ.pop("RAW_URI", None)
        environ["PATH_INFO"] = raw[len(prefix) :] if raw.startswith(prefix) else raw
        return inner(environ, start_response)

    return app


def test_fc2_proxy_path_uses_fc_request_uri(make_app, serve, signer: OssSigner) -> None:
    server = serve(_fc_proxy(make_wsgi_handler(make_app())))
    url = server.url + "/2016-08-15/proxy/svc/callback/hook%20one?x=1"
    answer = post(signer.sign(url, form_body({"bucket": "b", "object": "o"})))
    assert answer.status == 200, answer.body


def test_without_fc_request_uri_path_info_alone_would_not_verify(make_app, serve, signer: OssSigner) -> None:
    """Proves the test above is meaningful: the stripped PATH_INFO is not what OSS signed."""
    inner = make_wsgi_handler(make_app())

    def strip_only(environ, start_response):
        environ["PATH_INFO"] = environ["PATH_INFO"][len("/2016-08-15/proxy/svc/callback") :]
        environ.pop("REQUEST_URI", None)
        environ.pop("RAW_URI", None)
        return inner(environ, start_response)

    server = serve(strip_only)
    url = server.url + "/2016-08-15/proxy/svc/callback/hook"
    answer = post(signer.sign(url, form_body({"bucket": "b", "object": "o"})))
    assert answer.status == 403


def test_bad_answer_template_is_start_up_error_and_clear_500(key_server: KeyServer, tmp_path, serve, signer) -> None:
    from osscallback.callback.core import BrokenApp, load_app
    from osscallback.errors import ConfigError

    bad = tmp_path / "bad.j2"
    bad.write_text('{"Status": "OK", {{ callback.object }} }')
    env = {"CALLBACK_KEY_URL_PREFIXES": key_server.prefix, "CALLBACK_RESPONSE_TEMPLATE": str(bad)}
    app = load_app(env)
    assert isinstance(app, BrokenApp)
    assert isinstance(app.error, ConfigError)
    server = serve(make_wsgi_handler(app))
    answer = post(signer.sign(server.url + "/", form_body({"bucket": "b", "object": "o"})))
    assert answer.status == 500
    assert _json(answer.body)["error"] == "ConfigurationError"


def test_answer_too_large_at_runtime_is_500_not_200(key_server: KeyServer, tmp_path, serve, signer) -> None:
    from osscallback.callback.core import CallbackApp

    tpl = tmp_path / "big.j2"
    tpl.write_text('{"Status": "OK", "pad": {{ (callback.object * (1 if callback.object|length < 40 else 40000)) | tojson }}}')
    app = CallbackApp.from_env({"CALLBACK_KEY_URL_PREFIXES": key_server.prefix, "CALLBACK_RESPONSE_TEMPLATE": str(tpl)})
    server = serve(make_wsgi_handler(app))
    answer = post(signer.sign(server.url + "/", form_body({"bucket": "b", "object": "x" * 60})))
    assert answer.status == 500
    assert _json(answer.body)["error"] == "AnswerTemplateError"


def test_unknown_answer_template_name_is_config_error() -> None:
    from osscallback.callback.core import CallbackApp
    from osscallback.errors import ConfigError

    with pytest.raises(ConfigError, match="no such answer template"):
        CallbackApp.from_env({"CALLBACK_RESPONSE_TEMPLATE": "nope"})


def test_local_override_prefix_warns_once_at_start_up(key_server: KeyServer, caplog) -> None:
    from osscallback.callback.core import CallbackApp

    caplog.set_level("WARNING", logger="osscallback")
    CallbackApp.from_env({"CALLBACK_KEY_URL_PREFIXES": f"https://gosspublic.alicdn.com/,{key_server.prefix}"})
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert key_server.prefix in warnings[0] and "LOCAL DEVELOPMENT OVERRIDE" in warnings[0]

