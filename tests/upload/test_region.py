"""The region V4 signs with, found without asking where possible (``osscallback.osslocation``): each rule.

Sources: OSS's endpoint forms (public ``oss-<region>.aliyuncs.com``, internal ``oss-<region>-internal.aliyuncs.com``,
dual-stack ``<region>.oss.aliyuncs.com``; acceleration ``oss-accelerate.aliyuncs.com`` is global), "Regions and
endpoints", https://www.alibabacloud.com/help/en/oss/user-guide/regions-and-endpoints ; FC's ``FC_REGION`` system
variable, "Configure environment variables", https://www.alibabacloud.com/help/en/functioncompute/fc/environment-variables
; ``context.region`` in FC's Python runtimes, "Context", https://www.alibabacloud.com/help/en/functioncompute/user-guide/context-1
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from osscallback.errors import ConfigError, UploadError
from osscallback.osslocation import bucket_region, region_from_endpoint, resolve_location
from osscallback.upload.uploader import UploadEvent, UploadSettings

KEYS = {"OSS_ACCESS_KEY_ID": "id", "OSS_ACCESS_KEY_SECRET": "secret", "OSS_BUCKET": "examplebucket"}


@pytest.mark.parametrize(("endpoint", "region"), [
    ("oss-cn-hangzhou.aliyuncs.com", "cn-hangzhou"),
    ("https://oss-cn-hangzhou.aliyuncs.com", "cn-hangzhou"),
    ("http://oss-ap-southeast-1.aliyuncs.com/", "ap-southeast-1"),
    ("oss-cn-shanghai-internal.aliyuncs.com", "cn-shanghai"),
    ("https://OSS-CN-SHANGHAI-INTERNAL.aliyuncs.com:443", "cn-shanghai"),
    ("https://oss-cn-hangzhou-finance.aliyuncs.com", "cn-hangzhou-finance"),
    ("cn-beijing.oss.aliyuncs.com", "cn-beijing"),
    ("https://oss-accelerate.aliyuncs.com", None),
    ("oss-accelerate-overseas.aliyuncs.com", None),
    ("https://files.example.com", None),
    ("http://127.0.0.1:9000", None),
    ("examplebucket.oss-cn-hangzhou.aliyuncs.com.evil.example", None),
    ("", None),
])
def test_a_standard_endpoint_names_its_region(endpoint: str, region: str | None) -> None:
    assert region_from_endpoint(endpoint) == region


def test_the_endpoint_beats_the_setting_which_beats_fc() -> None:
    fc = SimpleNamespace(region="cn-beijing")
    assert bucket_region("https://oss-cn-hangzhou.aliyuncs.com", "cn-shanghai", fc, {"FC_REGION": "x"}) == "cn-hangzhou"
    assert bucket_region("https://files.example.com", "cn-shanghai", fc, {}) == "cn-shanghai"
    assert bucket_region("https://files.example.com", None, fc, {"FC_REGION": "cn-qingdao"}) == "cn-beijing"
    assert bucket_region("https://files.example.com", "", None, {"FC_REGION": "cn-qingdao"}) == "cn-qingdao"
    assert bucket_region("https://oss-accelerate.aliyuncs.com", None, None, {}) is None


def _settings(env: dict[str, str], context: object = None, **event: str) -> UploadSettings:
    return UploadSettings.resolve(UploadEvent(action="put", key="k", content="x", **event), context, {**KEYS, **env})


def test_the_upload_settings_find_the_region_by_the_same_rules() -> None:
    assert _settings({"OSS_ENDPOINT": "oss-cn-hangzhou-internal.aliyuncs.com"}).region == "cn-hangzhou"
    assert _settings({"OSS_ENDPOINT": "https://files.example.com", "OSS_REGION": "cn-shanghai"}).region == "cn-shanghai"
    on_fc = _settings({"OSS_ENDPOINT": "https://files.example.com"}, SimpleNamespace(region="cn-beijing"))
    assert on_fc.region == "cn-beijing"
    assert _settings({"OSS_ENDPOINT": "https://files.example.com", "FC_REGION": "cn-qingdao"}).region == "cn-qingdao"
    event = _settings({"OSS_ENDPOINT": "https://files.example.com", "OSS_REGION": "cn-shanghai"}, region="cn-wulanchabu")
    assert event.region == "cn-wulanchabu"  # the event's own region overrides OSS_REGION, as its other fields do


def test_no_region_is_one_line_naming_oss_region() -> None:
    from osscallback.upload.settings import make_bucket

    settings = _settings({"OSS_ENDPOINT": "https://oss-accelerate.aliyuncs.com"})
    assert settings.auth_version == "v4" and settings.region is None
    with pytest.raises(UploadError) as refused:
        make_bucket(settings)
    assert str(refused.value) == (
        "V4 signing needs the bucket's region and the endpoint 'https://oss-accelerate.aliyuncs.com' names none: set "
        "OSS_REGION (e.g. OSS_REGION=cn-hangzhou), or use the standard endpoint oss-<region>.aliyuncs.com")
    assert "\n" not in str(refused.value)


def test_an_oss_url_setting_takes_its_region_from_its_endpoint_too() -> None:
    query = {"endpoint": "https://oss-cn-shenzhen.aliyuncs.com"}
    assert resolve_location("V", "oss://b/p", query, {"FC_REGION": "cn-hangzhou"}) == \
        ("cn-shenzhen", "https://oss-cn-shenzhen.aliyuncs.com")
    assert resolve_location("V", "oss://b/p", {}, {"FC_REGION": "cn-hangzhou"}) == \
        ("cn-hangzhou", "https://oss-cn-hangzhou-internal.aliyuncs.com")
    with pytest.raises(ConfigError, match=r"no region \(add \?region=cn-hangzhou, or run on FC\)"):
        resolve_location("V", "oss://b/p", {"endpoint": "http://127.0.0.1:9"}, {})
