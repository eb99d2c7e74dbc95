"""`osscallback local` serves the upload page: its URL is printed, `--json` carries it as `upload_page_url` in the
endpoints line, the page is on another origin than the local OSS, and the bucket's CORS rule allows that origin
(a preflight the local OSS answers as OSS does), so a browser there can upload (tests/upload/browser/test_page.py)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tests.cli.test_local_inspector import _lines, _run_local, _stop


def test_json_endpoints_line_carries_the_upload_page_url(tmp_path: Path) -> None:
    proc = _run_local(tmp_path, "--json")
    try:
        ready = [json.loads(line) for line in _lines(proc, '"upload_page_url"')][-1]
        page = ready["upload_page_url"]
        assert page.startswith("http://127.0.0.1:") and page.endswith("/")  # FC 3.0 (template.yml): a function URL
        got = requests.get(page, timeout=10)
        assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/html")
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(page))
        assert origin != ready["oss_endpoint"]  # two origins, as deployed
        preflight = requests.options(f"{ready['oss_endpoint']}/{ready['bucket']}", timeout=10, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == origin
        policy = requests.get(page + "policy", timeout=10).json()  # the templates' anonymous authorizer
        assert policy["key_prefix"].startswith("uploads/") and policy["host"].startswith(ready["oss_endpoint"])
    finally:
        _stop(proc)


def test_the_human_output_prints_the_upload_page_url(tmp_path: Path) -> None:
    proc = _run_local(tmp_path)
    try:
        line = next(x for x in _lines(proc, "Upload page: ") if "Upload page: " in x)
        url = line.split("Upload page: ", 1)[1].split()[0]
        assert requests.get(url, timeout=10).status_code == 200
    finally:
        _stop(proc)
