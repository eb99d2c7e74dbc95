"""CORS: PutBucketCors, GetBucketCors, DeleteBucketCors, the OPTIONS preflight, and the headers of actual requests.

OSS's references: PutBucketCors / GetBucketCors / DeleteBucketCors
(https://www.alibabacloud.com/help/en/oss/developer-reference/putbucketcors, .../getbucketcors,
.../deletebucketcors) and Options (https://www.alibabacloud.com/help/en/oss/developer-reference/options). The rules
themselves, their limits and how a request matches them are :mod:`..model.cors`'s business.

* A preflight (``OPTIONS`` on a bucket or an object, signed or not: browsers never sign one) is answered 200 with
  ``Access-Control-Allow-Origin``, ``-Allow-Methods`` (the rule's methods), ``-Allow-Headers`` (the headers the
  preflight asked for), ``-Expose-Headers`` and ``-Max-Age`` from the first matching rule; with no match, or no
  CORS on the bucket, 403 ``AccessForbidden``.
* An actual request whose ``Origin`` and method match a rule gets the same headers (but ``-Allow-Headers``) on its
  answer, whatever the answer is (200, PostObject's 203, an error); a bucket without CORS adds none, so a browser
  blocks the page from reading the answer, as on OSS.
* ``ResponseVary`` adds ``Vary: Origin`` to every answer of the bucket.
"""

from __future__ import annotations

from osscallback.local.oss.api.backend import Backend
from osscallback.local.oss.api.request import Request, Response, xml_response
from osscallback.local.oss.model.cors import (
    CorsConfig,
    CorsRule,
    access_forbidden,
    parse_config,
    split_header_list,
)
from osscallback.local.oss.xmlresp import OSSError


def put_bucket_cors(backend: Backend, req: Request) -> Response:
    # One byte past the limit is enough for parse_config to refuse the document.
    config = parse_config(req.body.read_all(16 * 1024 + 1))
    backend.cors.put(req.bucket, config)
    return Response(200)


def get_bucket_cors(backend: Backend, req: Request) -> Response:
    config = backend.cors.get(req.bucket)
    if config is None:
        # oss2 maps this code to oss2.exceptions.NoSuchCors (its integration tests expect it from OSS after
        # DeleteBucketCors: aliyun/aliyun-oss-python-sdk tests/test_bucket.py test_cors).
        raise OSSError(
            404,
            "NoSuchCORSConfiguration",
            "The CORS configuration does not exist.",
            extra={"BucketName": req.bucket},
        )
    return xml_response(config.to_xml())


def delete_bucket_cors(backend: Backend, req: Request) -> Response:
    """204, also when none is set (oss2's test_cors deletes twice against OSS)."""
    backend.cors.delete(req.bucket)
    return Response(204)


def _rule_headers(rule: CorsRule, origin: str) -> dict[str, str]:
    headers = {
        "Access-Control-Allow-Origin": rule.allow_origin_value(origin),
        "Access-Control-Allow-Methods": ", ".join(rule.allowed_methods),
    }
    if rule.expose_headers:
        headers["Access-Control-Expose-Headers"] = ", ".join(rule.expose_headers)
    if rule.max_age_seconds is not None:
        headers["Access-Control-Max-Age"] = str(rule.max_age_seconds)
    return headers


def _vary(config: CorsConfig | None) -> dict[str, str]:
    return {"Vary": "Origin"} if config is not None and config.response_vary else {}


def preflight(backend: Backend, req: Request) -> Response:
    config = backend.cors.get(req.bucket)
    origin = req.headers.get("origin", "")
    method = req.headers.get("access-control-request-method", "")
    asked = req.headers.get("access-control-request-headers", "")
    rule = config.first_match(origin, method, split_header_list(asked)) if config and origin and method else None
    if rule is None:
        err = access_forbidden()
        err.headers.update(_vary(config))
        raise err
    headers = {**_rule_headers(rule, origin), **_vary(config)}
    if asked.strip():
        headers["Access-Control-Allow-Headers"] = asked
    return Response(200, headers)


def actual_headers(backend: Backend, req: Request) -> dict[str, str]:
    """The CORS headers of an answer to a (non-preflight) request on a bucket; ``{}`` when none apply."""
    if not req.bucket or req.method == "OPTIONS":
        return {}
    config = backend.cors.get(req.bucket)
    if config is None:
        return {}
    headers = _vary(config)
    origin = req.headers.get("origin", "")
    rule = config.first_match(origin, req.method) if origin else None
    if rule is not None:
        headers.update(_rule_headers(rule, origin))
    return headers

