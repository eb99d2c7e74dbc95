"""The upload page's V4 signer (static/ossv4.js, Web Crypto) against ali-oss's own (npm, pinned in package.json,
unchanged: ``lib/common/signUtils.js`` ``authorizationV4``, what ali-oss signs every V4 request with) on the same
fixed requests: InitiateMultipartUpload (``?uploads``), UploadPart (``?partNumber=1&uploadId=…``), ListParts,
CompleteMultipartUpload with ``x-oss-callback`` / ``x-oss-callback-var``, AbortMultipartUpload, a key with spaces,
brackets and CJK, and long-term credentials without a token. Node 20's ``globalThis.crypto.subtle`` runs the same
file the browser does; test_page_multipart.py runs these cases in Chromium too.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from typing import Any

import pytest

from tests.support import ROOT

SCRIPT = ROOT / "tests" / "upload" / "browser" / "js" / "ossv4_vs_ali_oss.js"


@functools.cache
def signatures() -> dict[str, Any]:
    """``{cases, ali, ours}``: the fixed requests, ali-oss's Authorization for each, and ours (in Node)."""
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ali-oss" / "package.json").is_file():
        pytest.fail("ali-oss is not installed: run `npm ci` at the repository root (.ci/run does)")
    out = subprocess.run(["node", str(SCRIPT)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def test_our_signer_gives_ali_oss_authorization_byte_for_byte() -> None:
    doc = signatures()
    assert len(doc["cases"]) == len(doc["ali"]) == len(doc["ours"]) >= 7
    for case, ali, ours in zip(doc["cases"], doc["ali"], doc["ours"], strict=True):
        assert ali.startswith("OSS4-HMAC-SHA256 Credential=" + case["creds"]["accessKeyId"] + "/20261207/"), ali
        assert ours == ali, case["name"]
    assert len(set(doc["ali"])) == len(doc["ali"])  # every case signs something different


def test_the_canonical_request_of_an_upload_part() -> None:
    """The canonical request itself, as OSS's V4 document lays it out (method, /bucket/key, the sorted query, the
    signed headers, an empty additional-headers line, UNSIGNED-PAYLOAD)."""
    script = """
    const v4 = require(process.argv[1]);
    console.log(JSON.stringify(v4.canonicalRequest('PUT', 'examplebucket', 'dir/a b(1).bin',
      {uploadId: 'ID', partNumber: '2'}, {'Content-Type': 'application/octet-stream', 'x-oss-date': '20261207T093000Z',
      'x-oss-content-sha256': 'UNSIGNED-PAYLOAD', 'Host': 'not signed', 'x-oss-security-token': ' T '})));
    """
    signer = ROOT / "shared" / "osscallback" / "upload" / "browser" / "static" / "ossv4.js"
    out = subprocess.run(["node", "-e", script, str(signer)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == "\n".join([
        "PUT", "/examplebucket/dir/a%20b%281%29.bin", "partNumber=2&uploadId=ID",
        "content-type:application/octet-stream\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20261207T093000Z\n"
        "x-oss-security-token:T\n", "", "UNSIGNED-PAYLOAD"])
