"""``osscallback cors`` against the local OSS (which enforces CORS as OSS does), run as a user runs it.

The rule it writes is what a web direct-upload page needs (OSS's "Upload files to OSS directly from a client" asks
for a CORS rule allowing the page's domain: https://help.aliyun.com/en/oss/user-guide/uploading-objects-to-oss-directly-from-clients/);
the proof is a preflight the local OSS answers for that origin, and oss2 reading the rules back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from oss2.models import BucketCors, CorsRule

from osscallback.local.oss import LocalOSS
from tests.support.oss_clients import v4_bucket

PAGE = "https://upload.example.test"


@pytest.fixture(scope="module")
def oss(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOSS]:
    with LocalOSS(data_dir=tmp_path_factory.mktemp("oss"), port=0, buckets=("examplebucket",)) as running:
        yield running


def _cors(oss: LocalOSS, *args: str, region: str | None = None) -> subprocess.CompletedProcess[str]:
    """The command with a user's settings; ``region`` None: the local OSS's (its endpoint, 127.0.0.1, names none)."""
    env = {"PATH": os.environ.get("PATH", ""), "OSS_ENDPOINT": oss.endpoint, "OSS_BUCKET": oss.bucket,
           "OSS_ACCESS_KEY_ID": oss.access_key_id, "OSS_ACCESS_KEY_SECRET": oss.access_key_secret,
           "OSS_REGION": oss.region if region is None else region}
    return subprocess.run([sys.executable, "-m", "osscallback.cli", "cors", *args], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def _preflight(oss: LocalOSS, origin: str) -> requests.Response:
    return requests.options(f"{oss.endpoint}/{oss.bucket}", timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})


def _bucket(oss: LocalOSS) -> Any:
    return v4_bucket(oss)


def test_it_allows_a_page_and_keeps_other_rules(oss: LocalOSS, tmp_path: Path) -> None:
    other = CorsRule(allowed_origins=["https://other.example.test"], allowed_methods=["GET"], max_age_seconds=5)
    _bucket(oss).put_bucket_cors(BucketCors([other]))
    assert _preflight(oss, PAGE).status_code == 403  # not yet: AccessForbidden, as on OSS
    done = _cors(oss, PAGE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"bucket {oss.bucket}: pages on {PAGE} may upload (rule 2)"
    allowed = _preflight(oss, PAGE)
    assert allowed.status_code == 200 and allowed.headers["Access-Control-Allow-Origin"] == PAGE
    again = _cors(oss, PAGE + "/", "--json")  # the same origins again: replaced, not added twice
    rules = json.loads(again.stdout)["rules"]
    assert [r["origins"] for r in rules] == [["https://other.example.test"], [PAGE]]
    assert rules[1]["expose"] == ["ETag", "x-oss-request-id"] and "POST" in rules[1]["methods"]


def test_show_and_remove(oss: LocalOSS) -> None:
    assert _cors(oss, PAGE).returncode == 0
    shown = _cors(oss, "--show")
    assert shown.returncode == 0 and PAGE in shown.stdout
    removed = _cors(oss, "--remove")
    assert removed.returncode == 0 and removed.stdout.strip() == f"bucket {oss.bucket}: CORS rules removed"
    assert _cors(oss, "--show").stdout.strip() == f"bucket {oss.bucket}: no CORS rules"
    assert _preflight(oss, PAGE).status_code == 403


@pytest.mark.parametrize("args", [["upload.example.test"], ["https://a.example.test/page"], [], ["--show", PAGE]])
def test_bad_arguments_are_one_line(oss: LocalOSS, args: list[str]) -> None:
    result = _cors(oss, *args)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("osscallback: error: ")


def test_it_signs_v4_and_says_when_it_has_no_region(oss: LocalOSS) -> None:
    """V4 by default (the local OSS logs each request's signature version); without a region, one line naming
    OSS_REGION and exit 2, before anything is sent."""
    refused = _cors(oss, "--show", region="")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"osscallback: error: V4 signing needs the bucket's region and the endpoint {oss.endpoint!r} names none: set "
        "OSS_REGION (e.g. OSS_REGION=cn-hangzhou), or use the standard endpoint oss-<region>.aliyuncs.com"]
