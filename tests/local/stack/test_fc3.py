"""template.yml (FC 3.0) runs locally: the callback function at its FC 3.0 function URL, events through FC 3.0's API."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest
import requests

from osscallback.local.stack import LocalStack
from osscallback.upload.templates import build_callback
from tests.support import ROOT
from tests.support.oss_clients import REGION

TEMPLATE = ROOT / "template.yml"
EVENTS = sorted((ROOT / "events").glob("upload-*.json"))
CLI = [sys.executable, "-m", "osscallback.cli"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(template=TEMPLATE, data_dir=tmp_path_factory.mktemp("oss"),
                    log_sink=lambda fn, line: None) as running:
        yield running


def test_the_stack_describes_fc3(stack: LocalStack) -> None:
    info = stack.info()
    assert info.fc_version == 3 and info.service == ""
    assert info.functions == ["oss-callback-fc-callback", "oss-callback-fc-dead-letters", "oss-callback-fc-oss-events",
                              "oss-callback-fc-reconcile", "oss-callback-fc-upload", "oss-callback-fc-policy"]
    # the upload page: the policy function's own function URL, another origin than the callback's and the OSS's
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", info.upload_page_url)
    assert len({info.upload_page_url.rsplit("/", 1)[0], info.callback_url.rsplit("/", 1)[0], info.oss_endpoint}) == 3
    assert info.callback_url.startswith("http://127.0.0.1:") and "/2016-08-15/" not in info.callback_url
    assert [p.name for p in stack.events(ROOT / "events")] == [p.name for p in EVENTS]  # by module name


@pytest.mark.parametrize("event", EVENTS[:3], ids=[p.name for p in EVENTS[:3]])
def test_events_through_fc3_invoke(stack: LocalStack, event: Path) -> None:
    result = stack.run_event(event)
    assert result.ok, result
    assert result.action_runs == 1, result
    if event.name == "upload-callback-down.json":  # its callback URL refuses connections: the OSS event delivers it
        assert result.callback_status == "failed" and result.delivered_via == ["oss_event"], result
        return
    assert result.callback["Status"] == "OK" and result.callback["object"] == result.key


def test_oss2_upload_with_callback_to_the_function_url(stack: LocalStack) -> None:
    """OSS signs the function URL's raw path and query; the FC 3.0 adapter verifies them from the HTTP event."""
    info = stack.info()
    bucket = oss2.Bucket(oss2.AuthV4(info.access_key_id, info.access_key_secret), info.oss_endpoint, info.bucket, region=REGION)
    spec = build_callback("json-full", {"callback_url": info.callback_url + "hook%20path/x?app=try"},
                          {"x:who": "fc3"})
    result = bucket.put_object("fc3/hello world.txt", b"hello", headers=spec.headers())
    assert result.status == 200
    assert json.loads(result.resp.read()) == {"Status": "OK", "bucket": info.bucket, "object": "fc3/hello world.txt"}


def test_forged_callback_is_refused_as_json(stack: LocalStack) -> None:
    resp = requests.post(stack.info().callback_url, data="bucket=b&object=o", timeout=30)
    assert resp.status_code == 400 and resp.json()["error"] == "MissingAuthorization"
    assert resp.headers["X-Fc-Request-Id"]
    get = requests.get(stack.info().callback_url, timeout=30)  # the trigger allows POST only
    assert get.status_code == 403 and get.json()["ErrorCode"] == "MethodNotAllowed"


def test_local_once_json_with_the_fc3_template(tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, "local", "--once", "--json", "--template", str(TEMPLATE), "--data-dir",
                           str(tmp_path), "--quiet-functions"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{\"event\"")]
    assert len(results) == len(EVENTS) and all(r["ok"] for r in results)


def test_invoke_command_with_the_fc3_template(tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, "invoke", "upload", "--template", str(TEMPLATE), "--json", "--event-file",
                           str(ROOT / "events" / "upload-put.json")], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, env={**__import__("os").environ, "XDG_CACHE_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["callback_status"] == "ok"


def _invoke(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FC_", "ALIBABA_CLOUD_"))}
    return subprocess.run([*CLI, "invoke", *args, "--json", "--event-file", str(ROOT / "events" / "upload-put.json")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env={**clean, **env})


def test_invoke_endpoint_picks_the_sdk_by_template(stack: LocalStack) -> None:
    info = stack.info()
    local = {"FC_ACCESS_KEY_ID": info.fc_access_key_id, "FC_ACCESS_KEY_SECRET": info.fc_access_key_secret,
             "FC_SECURITY_TOKEN": info.fc_security_token}
    # FC 3.0 template: the FC 3.0 SDK, by the module key or the FC function name
    for function in ("upload", "oss-callback-fc-upload"):
        proc = _invoke([function, "--template", str(TEMPLATE), "--endpoint", info.fc_endpoint], local)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["callback_status"] == "ok"
    # FC 2.0 template against this FC 3.0 stack: fc2 asks for service oss-callback-fc, which it does not have
    proc = _invoke(["upload", "--template", str(ROOT / "template.fc2.yml"), "--endpoint", info.fc_endpoint], local)
    assert proc.returncode == 2 and "ServiceNotFound" in proc.stderr
    # ... unless told to use FC 3.0 for a function the template does not name
    proc = _invoke(["oss-callback-fc-upload", "--template", str(ROOT / "template.fc2.yml"), "--fc-version", "3",
                    "--endpoint", info.fc_endpoint], local)
    assert proc.returncode == 0, proc.stderr


def test_invoke_remote_uses_the_fc3_sdk_and_remote_credentials(stack: LocalStack) -> None:
    info = stack.info()
    remote = {"FC_ENDPOINT": info.fc_endpoint, "ALIBABA_CLOUD_ACCESS_KEY_ID": info.fc_access_key_id,
              "ALIBABA_CLOUD_ACCESS_KEY_SECRET": info.fc_access_key_secret,
              "ALIBABA_CLOUD_SECURITY_TOKEN": info.fc_security_token}
    proc = _invoke(["upload", "--template", str(TEMPLATE), "--remote"], remote)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
    wrong = {**remote, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "wrong"}
    proc = _invoke(["upload", "--template", str(TEMPLATE), "--remote"], wrong)
    assert proc.returncode == 2 and "SignatureNotMatch" in proc.stderr and len(proc.stderr.splitlines()) == 1
    proc = _invoke(["upload", "--template", str(TEMPLATE), "--remote"], {})
    assert proc.returncode == 2 and "FC_ENDPOINT" in proc.stderr
