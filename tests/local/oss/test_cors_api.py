"""PutBucketCors, GetBucketCors and DeleteBucketCors with oss2 and the v2 SDK, OSS's limits, and LocalOSS's own way
to set a bucket's rules.

References: https://www.alibabacloud.com/help/en/oss/developer-reference/putbucketcors (at most 10 rules, one ``*``
per AllowedOrigin / AllowedHeader, methods GET/PUT/DELETE/POST/HEAD, a 16 KB document),
https://www.alibabacloud.com/help/en/oss/developer-reference/getbucketcors (404 NoSuchCORSConfiguration when none
is set), https://help.aliyun.com/en/oss/user-guide/0034-00000013 (no ``*`` in ExposeHeader) and
https://help.aliyun.com/en/oss/user-guide/0034-00000002 (no rule at all). oss2's integration tests against OSS
(aliyun/aliyun-oss-python-sdk tests/test_bucket.py: test_cors, test_cors_with_response_vary, test_invalid_argument)
are the shape of the round trips below.
"""

from __future__ import annotations

import alibabacloud_oss_v2 as oss_v2
import oss2
import pytest
import requests

from osscallback.local.oss import LocalOSS
from osscallback.local.oss.model.cors import CorsRule
from osscallback.local.oss.xmlresp import OSSError
from tests.support.oss_clients import v4_bucket

_RULE = "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"


def _doc(*rules: str, extra: str = "") -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><CORSConfiguration>{"".join(rules)}{extra}</CORSConfiguration>'


def test_oss2_round_trip(bucket: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.NoSuchCors) as exc:
        bucket.get_bucket_cors()
    assert exc.value.status == 404 and exc.value.code == "NoSuchCORSConfiguration"
    first = oss2.models.CorsRule(
        allowed_origins=["http://a.example", "https://*.b.example"],
        allowed_methods=["POST", "GET"],
        allowed_headers=["x-oss-meta-*", "Content-Type"],
        expose_headers=["ETag", "x-oss-request-id"],
        max_age_seconds=100,
    )
    second = oss2.models.CorsRule(allowed_origins=["*"], allowed_methods=["HEAD"], allowed_headers=["*"])
    bucket.put_bucket_cors(oss2.models.BucketCors([first, second], response_vary=True))
    got = bucket.get_bucket_cors()
    assert got.response_vary is True
    assert [r.allowed_origins for r in got.rules] == [["http://a.example", "https://*.b.example"], ["*"]]
    assert [r.allowed_methods for r in got.rules] == [["POST", "GET"], ["HEAD"]]
    assert [r.allowed_headers for r in got.rules] == [["x-oss-meta-*", "Content-Type"], ["*"]]
    assert [r.expose_headers for r in got.rules] == [["ETag", "x-oss-request-id"], []]
    assert [r.max_age_seconds for r in got.rules] == [100, None]
    # A Put replaces every rule (overwriting semantics); without ResponseVary it reads back false.
    bucket.put_bucket_cors(oss2.models.BucketCors([second]))
    got = bucket.get_bucket_cors()
    assert (len(got.rules), got.response_vary) == (1, False)
    bucket.delete_bucket_cors()
    bucket.delete_bucket_cors()  # 204 again: nothing to delete is no error (oss2's test_cors does this on OSS)
    with pytest.raises(oss2.exceptions.NoSuchCors):
        bucket.get_bucket_cors()


def test_v2_round_trip(v2client: oss_v2.Client, local_oss: LocalOSS) -> None:
    name = local_oss.bucket
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        v2client.get_bucket_cors(oss_v2.models.GetBucketCorsRequest(bucket=name))
    err = exc.value.unwrap()
    assert (getattr(err, "status_code", 0), getattr(err, "code", "")) == (404, "NoSuchCORSConfiguration")
    rule = oss_v2.models.CORSRule(
        allowed_origins=["http://page.example"],
        allowed_methods=["PUT", "POST"],
        allowed_headers=["*"],
        expose_headers=["ETag"],
        max_age_seconds=60,
    )
    config = oss_v2.models.CORSConfiguration(cors_rules=[rule], response_vary=True)
    result = v2client.put_bucket_cors(oss_v2.models.PutBucketCorsRequest(bucket=name, cors_configuration=config))
    assert result.status_code == 200
    got = v2client.get_bucket_cors(oss_v2.models.GetBucketCorsRequest(bucket=name)).cors_configuration
    assert got is not None and got.response_vary is True and got.cors_rules is not None
    (back,) = got.cors_rules
    assert (back.allowed_origins, back.allowed_methods, back.allowed_headers, back.expose_headers) == (
        ["http://page.example"], ["PUT", "POST"], ["*"], ["ETag"],
    )
    assert back.max_age_seconds == 60
    deleted = v2client.delete_bucket_cors(oss_v2.models.DeleteBucketCorsRequest(bucket=name))
    assert deleted.status_code == 204
    with pytest.raises(oss_v2.exceptions.OperationError):
        v2client.get_bucket_cors(oss_v2.models.GetBucketCorsRequest(bucket=name))


@pytest.mark.parametrize(
    ("document", "code", "argument"),
    [
        (_doc(*[_RULE] * 11), "InvalidArgument", "CORSRule"),  # more than 10 rules
        (_doc(_RULE.replace(">*<", ">http://*.a.*.example<")), "InvalidArgument", "AllowedOrigin"),  # two *
        (_doc(_RULE.replace("</AllowedMethod>", "</AllowedMethod><AllowedHeader>x-*-*</AllowedHeader>")),
         "InvalidArgument", "AllowedHeader"),
        (_doc(_RULE.replace("</AllowedMethod>", "</AllowedMethod><ExposeHeader>x-oss-*</ExposeHeader>")),
         "InvalidArgument", "ExposeHeader"),  # EC 0034-00000013's own example
        (_doc(_RULE.replace(">GET<", ">PATCH<")), "InvalidArgument", "AllowedMethod"),
        # oss2's test_invalid_argument against OSS: InvalidArgument naming MaxAgeSeconds and its value.
        (_doc(_RULE.replace("</CORSRule>", "<MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule>")),
         "InvalidArgument", "MaxAgeSeconds"),
        (_doc(), "MalformedXML", ""),  # no rule (EC 0034-00000002)
        (_doc(_RULE.replace("<AllowedOrigin>*</AllowedOrigin>", "")), "MalformedXML", ""),  # no origin
        (_doc(_RULE, extra="<ResponseVary>maybe</ResponseVary>"), "MalformedXML", ""),
        ("<Rules/>", "MalformedXML", ""),
    ],
)
def test_limits_are_refused_and_keep_the_old_rules(
    bucket_v4: oss2.Bucket, document: str, code: str, argument: str
) -> None:
    bucket_v4.put_bucket_cors(_doc(_RULE))
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket_v4.put_bucket_cors(document)
    assert (exc.value.status, exc.value.code) == (400, code)
    if argument:
        assert exc.value.details.get("ArgumentName") == argument
    if argument == "MaxAgeSeconds":
        assert exc.value.details.get("ArgumentValue") == "-1"
    if argument == "ExposeHeader":
        assert exc.value.ec == "0034-00000013"
    assert [r.allowed_methods for r in bucket_v4.get_bucket_cors().rules] == [["GET"]]


def test_the_limits_themselves_are_allowed(bucket_v4: oss2.Bucket) -> None:
    rules = [
        oss2.models.CorsRule(
            allowed_origins=[f"http://*.n{n}.example"], allowed_methods=["GET", "PUT", "DELETE", "POST", "HEAD"],
            allowed_headers=["x-oss-*"], max_age_seconds=0,
        )
        for n in range(10)
    ]
    bucket_v4.put_bucket_cors(oss2.models.BucketCors(rules))
    assert len(bucket_v4.get_bucket_cors().rules) == 10


def test_cors_api_needs_the_owner(local_oss: LocalOSS, bucket_v4: oss2.Bucket) -> None:
    bucket_v4.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    url = f"{local_oss.endpoint}/{local_oss.bucket}?cors"
    assert requests.put(url, data=_doc(_RULE), timeout=10).status_code == 403
    assert requests.get(url, timeout=10).status_code == 403
    with pytest.raises(oss2.exceptions.NoSuchCors):
        bucket_v4.get_bucket_cors()
    # CORS on an object is no operation OSS has: 501, never a PutObject of the document.
    obj = requests.put(f"{local_oss.endpoint}/{local_oss.bucket}/k?cors", data=b"x", timeout=10)
    assert obj.status_code == 501 and not bucket_v4.object_exists("k")


def test_rules_survive_a_restart_and_go_with_the_bucket(tmp_path: object, local_oss: LocalOSS) -> None:
    data_dir = local_oss.data_dir
    local_oss.allow_origins(["http://page.example"])
    local_oss.stop()
    with LocalOSS(data_dir, port=0, buckets=["examplebucket"]) as again:
        bucket = v4_bucket(again)
        auth = bucket.auth
        assert bucket.get_bucket_cors().rules[0].allowed_origins == ["http://page.example"]
        service = oss2.Bucket(auth, again.endpoint, "fresh-bucket", region=again.region)
        service.create_bucket()
        service.put_bucket_cors(_doc(_RULE))
        service.delete_bucket()
        service.create_bucket()  # the same name again: a new bucket, without the old one's rules
        with pytest.raises(oss2.exceptions.NoSuchCors):
            service.get_bucket_cors()


def test_local_oss_sets_rules_without_a_client(local_oss: LocalOSS, bucket_v4: oss2.Bucket) -> None:
    local_oss.allow_origins(["http://127.0.0.1:8123"])
    (rule,) = bucket_v4.get_bucket_cors().rules
    assert rule.allowed_origins == ["http://127.0.0.1:8123"]
    assert set(rule.allowed_methods) >= {"POST", "PUT", "GET", "HEAD"} and rule.allowed_headers == ["*"]
    assert "ETag" in rule.expose_headers
    local_oss.set_bucket_cors([CorsRule(("*",), ("GET",))], response_vary=True)
    assert bucket_v4.get_bucket_cors().response_vary is True
    with pytest.raises(OSSError) as exc:  # checked as PutBucketCors checks a document
        local_oss.set_bucket_cors([CorsRule(("http://*.*.example",), ("GET",))])
    assert exc.value.code == "InvalidArgument"
    local_oss.allow_origins([])
    with pytest.raises(oss2.exceptions.NoSuchCors):
        bucket_v4.get_bucket_cors()
