"""OSS errors name the setting to change (issue 29, point 8): ``upload``, ``cors`` and ``redeliver`` run as a user
runs them, against the real local OSS with one setting wrong at a time; each refusal is one line, exit status 2,
with OSS's code, the variable to check and the value used (an access key id may show, a secret never).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from osscallback.local.oss import LocalOSS
from tests.support.delivery import closed_port

OSSCALLBACK = str(Path(sys.executable).parent / "osscallback")
SECRET = "not-the-secret-0123456789abcdef"  # noqa: S105 - a wrong secret the output must never show


@pytest.fixture(scope="module")
def oss(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOSS]:
    with LocalOSS(tmp_path_factory.mktemp("oss")) as server:
        yield server


def _run(oss: LocalOSS, tmp_path: Path, args: list[str], **wrong: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OSS_", "FC_", "ALIBABA_CLOUD_"))}
    env = {**clean, "OSS_ENDPOINT": oss.endpoint, "OSS_BUCKET": "examplebucket", "OSS_REGION": "cn-hangzhou",
           "OSS_ACCESS_KEY_ID": oss.access_key_id, "OSS_ACCESS_KEY_SECRET": oss.access_key_secret, **wrong}
    out = subprocess.run([OSSCALLBACK, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("osscallback: error: ") and "Traceback" not in out.stderr
    assert SECRET not in out.stdout + out.stderr and oss.access_key_secret not in out.stdout + out.stderr
    return line


def _upload(tmp_path: Path) -> list[str]:
    (tmp_path / "hello.txt").write_text("hello")
    return ["upload", "hello.txt", "--template", "none"]


def test_upload_names_the_setting_for_each_refusal(oss: LocalOSS, tmp_path: Path) -> None:
    args = _upload(tmp_path)
    line = _run(oss, tmp_path, args, OSS_BUCKET="nosuchbucket")
    assert "NoSuchBucket" in line and "check OSS_BUCKET='nosuchbucket'" in line and "OSS_ENDPOINT" in line, line
    line = _run(oss, tmp_path, args, OSS_ACCESS_KEY_SECRET=SECRET)
    assert "SignatureDoesNotMatch" in line and "check OSS_ACCESS_KEY_SECRET" in line, line
    assert f"OSS_ACCESS_KEY_ID={oss.access_key_id!r}" in line, line  # the id may show: it says which pair
    line = _run(oss, tmp_path, args, OSS_ACCESS_KEY_ID="LTAInosuchkey")
    assert "InvalidAccessKeyId" in line and "check OSS_ACCESS_KEY_ID='LTAInosuchkey'" in line, line
    dead = f"http://127.0.0.1:{closed_port()}"
    line = _run(oss, tmp_path, args, OSS_ENDPOINT=dead)
    assert f"cannot connect to OSS endpoint {dead}" in line and line.endswith("check OSS_ENDPOINT"), line
    line = _run(oss, tmp_path, args, OSS_BUCKET="Bad_Name")
    assert "'Bad_Name' is invalid" in line and line.endswith("check OSS_BUCKET"), line


def test_cors_names_the_setting(oss: LocalOSS, tmp_path: Path) -> None:
    line = _run(oss, tmp_path, ["cors", "--show"], OSS_BUCKET="nosuchbucket")
    assert "NoSuchBucket" in line and "check OSS_BUCKET='nosuchbucket'" in line, line
    line = _run(oss, tmp_path, ["cors", "--show"], OSS_ACCESS_KEY_SECRET=SECRET)
    assert "SignatureDoesNotMatch" in line and "check OSS_ACCESS_KEY_SECRET" in line, line
    line = _run(oss, tmp_path, ["cors", "--show"], OSS_BUCKET="Bad_Name")  # was a traceback: make_bucket raised
    assert "'Bad_Name' is invalid" in line and line.endswith("check OSS_BUCKET"), line


def test_redeliver_remote_names_the_setting(oss: LocalOSS, tmp_path: Path) -> None:
    """``--remote`` reading the dead letters at the local OSS (``--oss-endpoint``); a dry run invokes nothing, so FC's
    endpoint only has to take a connection (the local OSS's does)."""
    def redeliver(bucket: str) -> list[str]:
        return ["redeliver", "--remote", "--dry-run", "--dead-letters",
                f"oss://{bucket}/.osscallback/dead-letters/?region=cn-hangzhou", "--oss-endpoint", oss.endpoint]

    line = _run(oss, tmp_path, redeliver("nosuchbucket"), FC_ENDPOINT=oss.endpoint)
    assert "NoSuchBucket" in line and "check --dead-letters" in line and "'nosuchbucket'" in line, line
    line = _run(oss, tmp_path, redeliver("examplebucket"), FC_ENDPOINT=oss.endpoint, OSS_ACCESS_KEY_ID="LTAInosuch")
    assert "InvalidAccessKeyId" in line and "check OSS_ACCESS_KEY_ID='LTAInosuch'" in line, line


def _oss_error(body: bytes) -> Exception:
    """oss2's own exception for an error document OSS answers (parsed by oss2, as from the wire)."""
    import oss2

    details = oss2.exceptions._parse_error_body(body)
    return oss2.exceptions.AccessDenied(403, {"x-oss-request-id": "r"}, body, details)


def test_access_denied_for_another_regions_endpoint_names_oss_endpoint() -> None:
    """OSS's AccessDenied for a bucket addressed through another region's endpoint (message as OSS's 403 guide
    gives it: alibabacloud.com/help/en/oss/how-to-troubleshoot-403-status-code-when-you-access-oss); the local OSS
    has one region, so this one is built from OSS's error document."""
    from osscallback.cli.osserrors import OssSettings, explain

    used = OssSettings("https://oss-cn-shanghai.aliyuncs.com", "b", "LTAIid")
    line = explain(_oss_error(
        b"<Error><Code>AccessDenied</Code><Message>The bucket you are attempting to access must be addressed using the "
        b"specified endpoint. Please send all future requests to this endpoint.</Message><RequestId>r</RequestId>"
        b"<Endpoint>oss-cn-hangzhou.aliyuncs.com</Endpoint></Error>"), used)
    assert "check OSS_ENDPOINT='https://oss-cn-shanghai.aliyuncs.com'" in line, line
    line = explain(_oss_error(b"<Error><Code>AccessDenied</Code><Message>You have no right to access this object."
                              b"</Message><RequestId>r</RequestId></Error>"), used)
    assert "check what OSS_ACCESS_KEY_ID='LTAIid' may do on bucket 'b'" in line, line
