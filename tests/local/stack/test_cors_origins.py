"""`LocalStack(cors_origins=[...])` gives its bucket a CORS rule for those browser origins (issue 22: the local upload
page lives on another origin than the local OSS, as in production, so the bucket must allow it as OSS's would)."""

from __future__ import annotations

from pathlib import Path

import oss2
import requests

from osscallback.local.stack import LocalStack
from tests.support import ROOT
from tests.support.oss_clients import REGION

PAGE = "http://127.0.0.1:8765"


def test_the_stack_bucket_allows_the_given_origins(tmp_path: Path) -> None:
    with LocalStack(template=ROOT / "template.fc2.yml", data_dir=tmp_path / "oss", inspector=False,
                    cors_origins=[PAGE], log_sink=lambda fn, line: None) as stack:
        oss = stack.oss
        url = f"{oss.endpoint}/{stack.bucket}"

        def preflight(origin: str) -> requests.Response:
            headers = {"Origin": origin, "Access-Control-Request-Method": "POST",
                       "Access-Control-Request-Headers": "content-type"}
            return requests.options(url, headers=headers, timeout=10)

        allowed = preflight(PAGE)
        assert allowed.status_code == 200 and allowed.headers["Access-Control-Allow-Origin"] == PAGE
        assert preflight("http://127.0.0.1:9").status_code == 403  # any other origin: AccessForbidden, as on OSS
        bucket = oss2.Bucket(oss2.AuthV4(oss.access_key_id, oss.access_key_secret), oss.endpoint, stack.bucket, region=REGION)
        page = stack.info().upload_page_url.split("/2016-08-15/")[0]  # the stack's own upload page, FC 2.0's origin
        assert bucket.get_bucket_cors().rules[0].allowed_origins == [PAGE, page]
        assert preflight(page).headers["Access-Control-Allow-Origin"] == page
