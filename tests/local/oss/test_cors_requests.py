"""CORS enforced as OSS enforces it: preflights (OPTIONS, as a browser sends them and as the v2 SDK's OptionObject
does) and the headers of actual requests (PUT, GET, PostObject's 200 and 203, error answers).

References: https://www.alibabacloud.com/help/en/oss/developer-reference/options (the preflight and its headers),
https://www.alibabacloud.com/help/en/oss/developer-reference/putbucketcors ("CORS rule matching": the rules in order,
the first whose origin, method and every requested header match wins; no match, no CORS headers), and the 403
AccessForbidden message as OSS sends it, shown verbatim by ossutil's reference
(https://www.alibabacloud.com/help/en/oss/developer-reference/cors-options).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import alibabacloud_oss_v2 as oss_v2
import oss2
import pytest
import requests

from osscallback.local.oss import LocalOSS
from tests.support.oss import b64json, free_port
from tests.support.oss_clients import post_fields_v4

# OSS's message, as ossutil's cors-options reference quotes it (typos "evalution" and "Requet" are OSS's own).
FORBIDDEN = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method"
    " / Access-Control-Request-Method or Access-Control-Requet-Headers are not whitelisted by the resource's CORS spec."
)
PAGE = "http://page.example"
ACAO = "Access-Control-Allow-Origin"


@pytest.fixture()
def rules(bucket_v4: oss2.Bucket) -> Iterator[oss2.Bucket]:
    """Three rules whose order matters: the page may upload; any *.example origin may only read; anyone may HEAD."""
    bucket_v4.put_bucket_cors(
        oss2.models.BucketCors(
            [
                oss2.models.CorsRule(
                    allowed_origins=[PAGE], allowed_methods=["POST", "PUT", "GET"],
                    allowed_headers=["Content-Type", "x-oss-meta-*"], expose_headers=["ETag", "x-oss-request-id"],
                    max_age_seconds=600,
                ),
                oss2.models.CorsRule(
                    allowed_origins=["http://*.example"], allowed_methods=["GET"], allowed_headers=["*"],
                    max_age_seconds=30,
                ),
                oss2.models.CorsRule(allowed_origins=["*"], allowed_methods=["HEAD"]),
            ]
        )
    )
    yield bucket_v4


def _preflight(oss: LocalOSS, path: str, origin: str | None, method: str | None, headers: str = "") -> requests.Response:
    sent = {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}
    return requests.options(f"{oss.endpoint}/{oss.bucket}/{path}", headers={k: v for k, v in sent.items() if v}, timeout=10)


def _forbidden(resp: requests.Response) -> None:
    assert resp.status_code == 403
    root = ET.fromstring(resp.content)
    assert (root.findtext("Code"), root.findtext("Message")) == ("AccessForbidden", FORBIDDEN)
    assert not [h for h in resp.headers if h.lower().startswith("access-control-")]


def test_no_cors_forbids_every_preflight(local_oss: LocalOSS) -> None:
    _forbidden(_preflight(local_oss, "a.txt", PAGE, "PUT"))
    _forbidden(_preflight(local_oss, "", PAGE, "POST"))  # the bucket itself (PostObject's target)


def test_first_matching_rule_wins(local_oss: LocalOSS, rules: oss2.Bucket) -> None:
    resp = _preflight(local_oss, "up/a.txt", PAGE, "PUT", "content-type")
    assert resp.status_code == 200
    assert resp.headers[ACAO] == PAGE
    assert resp.headers["Access-Control-Allow-Methods"] == "POST, PUT, GET"
    assert resp.headers["Access-Control-Allow-Headers"] == "content-type"
    assert resp.headers["Access-Control-Expose-Headers"] == "ETag, x-oss-request-id"
    assert resp.headers["Access-Control-Max-Age"] == "600"
    # The page's GET asking for a header its own rule does not list: rule 1 fails, rule 2 (*.example, any header).
    resp = _preflight(local_oss, "up/a.txt", PAGE, "GET", "x-custom")
    assert resp.status_code == 200
    assert (resp.headers["Access-Control-Allow-Methods"], resp.headers["Access-Control-Max-Age"]) == ("GET", "30")
    assert "Access-Control-Expose-Headers" not in resp.headers
    # The page's HEAD: only rule 3 allows it, with `*` as the allowed origin.
    resp = _preflight(local_oss, "", PAGE, "HEAD")
    assert (resp.status_code, resp.headers[ACAO], resp.headers["Access-Control-Allow-Methods"]) == (200, "*", "HEAD")


def test_wildcards_and_header_case(local_oss: LocalOSS, rules: oss2.Bucket) -> None:
    # AllowedOrigin http://*.example
    assert _preflight(local_oss, "x", "http://app.example", "GET").headers[ACAO] == "http://app.example"
    _forbidden(_preflight(local_oss, "x", "https://app.example", "GET"))  # another scheme
    _forbidden(_preflight(local_oss, "x", "http://app.example.evil", "GET"))
    # Requested headers match case-insensitively, x-oss-meta-* as a wildcard; every one must match.
    ok = _preflight(local_oss, "x", PAGE, "POST", "Content-Type, X-OSS-Meta-Author")
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Methods"] == "POST, PUT, GET"
    _forbidden(_preflight(local_oss, "x", PAGE, "POST", "content-type, authorization"))


def test_disallowed_method_or_missing_fields_are_forbidden(local_oss: LocalOSS, rules: oss2.Bucket) -> None:
    _forbidden(_preflight(local_oss, "x", PAGE, "DELETE"))
    _forbidden(_preflight(local_oss, "x", "http://other.test", "GET"))
    _forbidden(_preflight(local_oss, "x", None, "GET"))
    _forbidden(_preflight(local_oss, "x", PAGE, None))


def test_v2_option_object(local_oss: LocalOSS, v2client: oss_v2.Client, rules: oss2.Bucket) -> None:
    request = oss_v2.models.OptionObjectRequest(
        bucket=local_oss.bucket, key="up/b.txt", origin=PAGE, access_control_request_method="PUT",
        access_control_request_headers="x-oss-meta-a",
    )
    result = v2client.option_object(request)
    assert (result.access_control_allow_origin, result.access_control_allow_methods) == (PAGE, "POST, PUT, GET")
    assert (result.access_control_allow_headers, result.access_control_max_age) == ("x-oss-meta-a", 600)
    request.access_control_request_method = "DELETE"
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        v2client.option_object(request)
    err = exc.value.unwrap()
    assert (getattr(err, "status_code", 0), getattr(err, "code", "")) == (403, "AccessForbidden")


def test_response_vary(local_oss: LocalOSS, bucket_v4: oss2.Bucket) -> None:
    rule = oss2.models.CorsRule(allowed_origins=[PAGE], allowed_methods=["GET"])
    bucket_v4.put_object("v.txt", b"v")
    bucket_v4.put_bucket_cors(oss2.models.BucketCors([rule], response_vary=True))
    # Every answer, cross-origin or not, allowed or not.
    assert bucket_v4.get_object("v.txt").headers["Vary"] == "Origin"
    assert _preflight(local_oss, "v.txt", PAGE, "GET").headers["Vary"] == "Origin"
    assert _preflight(local_oss, "v.txt", PAGE, "PUT").headers["Vary"] == "Origin"
    # Beside a compressed answer's own Vary, not instead of it.
    bucket_v4.put_object("v.json", b'{"a": 1}' * 300, headers={"Content-Type": "application/json"})
    gz = bucket_v4.get_object("v.json", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip" and gz.headers["Vary"] == "Accept-Encoding, Origin"
    bucket_v4.put_bucket_cors(oss2.models.BucketCors([rule]))
    assert "Vary" not in bucket_v4.get_object("v.txt").headers


# --- actual requests -------------------------------------------------------------------------------------------------


def _cors(headers: object) -> dict[str, str]:
    return {k: v for k, v in dict(headers).items() if k.lower().startswith("access-control-")}  # type: ignore[call-overload]


def test_put_get_and_errors_carry_the_headers(rules: oss2.Bucket) -> None:
    origin = {"Origin": PAGE}
    put = rules.put_object("up/c.txt", b"c", headers=origin)
    assert _cors(put.headers) == {
        ACAO: PAGE, "Access-Control-Allow-Methods": "POST, PUT, GET",
        "Access-Control-Expose-Headers": "ETag, x-oss-request-id", "Access-Control-Max-Age": "600",
    }
    assert rules.get_object("up/c.txt", headers=origin).headers[ACAO] == PAGE
    with pytest.raises(oss2.exceptions.NoSuchKey) as missing:
        rules.get_object("up/missing.txt", headers=origin)
    assert missing.value.headers[ACAO] == PAGE  # an error answer a page must be able to read
    # An actual HEAD from the page: rule 3 (`*`); a DELETE no rule allows: no CORS headers, the delete still runs.
    assert rules.head_object("up/c.txt", headers=origin).headers[ACAO] == "*"
    deleted = rules.delete_object("up/c.txt", headers=origin)
    assert _cors(deleted.headers) == {} and not rules.object_exists("up/c.txt")
    # An origin no rule names, and a request without Origin: none.
    rules.put_object("up/d.txt", b"d")
    assert _cors(rules.get_object("up/d.txt", headers={"Origin": "http://x.test"}).headers) == {}
    assert _cors(rules.get_object("up/d.txt").headers) == {}


def _post(oss: LocalOSS, form: dict[str, str], data: bytes) -> requests.Response:
    return requests.post(
        f"{oss.endpoint}/{oss.bucket}", data=form, files={"file": ("f.txt", data, "text/plain")},
        headers={"Origin": PAGE}, timeout=30,
    )


def test_post_object_200_203_and_refusal_carry_the_headers(local_oss: LocalOSS, rules: oss2.Bucket) -> None:
    ok = {"key": "up/post.txt", **post_fields_v4(local_oss, []), "success_action_status": "200"}
    resp = _post(local_oss, ok, b"posted")
    assert resp.status_code == 200 and resp.headers[ACAO] == PAGE
    assert resp.headers["Access-Control-Expose-Headers"] == "ETag, x-oss-request-id"
    callback = {"callbackUrl": f"http://127.0.0.1:{free_port()}", "callbackBody": "o=${object}"}
    resp = _post(local_oss, {**ok, "key": "up/cb.txt", "callback": b64json(callback)}, b"kept")
    assert resp.status_code == 203 and b"CallbackFailed" in resp.content and resp.headers[ACAO] == PAGE
    expired = {"key": "up/old.txt", **post_fields_v4(local_oss, [], expires_in=-60)}
    resp = _post(local_oss, expired, b"x")
    assert resp.status_code == 403 and b"Policy expired" in resp.content and resp.headers[ACAO] == PAGE


def test_a_bucket_without_cors_sends_none(local_oss: LocalOSS, bucket_v4: oss2.Bucket) -> None:
    put = bucket_v4.put_object("plain.txt", b"p", headers={"Origin": PAGE})
    assert _cors(put.headers) == {} and "Vary" not in put.headers
    form = {"key": "plain-post.txt", **post_fields_v4(local_oss, [])}
    resp = _post(local_oss, form, b"p")
    assert resp.status_code == 204 and _cors(resp.headers) == {}


def test_a_preflight_for_any_sub_resource_is_a_preflight(local_oss: LocalOSS, rules: oss2.Bucket) -> None:
    # A page's request to ?acl, ?tagging or ?uploads is preflighted at that very URL: never a 501 or a 405.
    for path in ("up/a.txt?acl", "up/a.txt?tagging", "up/a.txt?uploads", "?cors", "?lifecycle"):
        resp = _preflight(local_oss, path, PAGE, "PUT")
        assert resp.status_code == 200 and resp.headers[ACAO] == PAGE, path
