"""The whole bundle on one machine: local OSS + local FC host from template.yml, in-process and as `osscallback local`."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import fc2
import oss2
import pytest

from osscallback.local.stack import LocalStack
from osscallback.upload.templates import build_callback
from tests.support import ROOT
from tests.support.oss_clients import REGION

EVENTS = sorted((ROOT / "events").glob("upload-*.json"))
CLI = [sys.executable, "-m", "osscallback.cli"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """The FC 2.0 bundle (template.fc2.yml: fc2's InvokeFunction, proxy paths); test_fc3.py runs template.yml."""
    with LocalStack(template=ROOT / "template.fc2.yml", data_dir=tmp_path_factory.mktemp("oss"),
                    log_sink=lambda fn, line: None) as running:
        yield running


@pytest.mark.parametrize("event", EVENTS, ids=[p.name for p in EVENTS])
def test_every_event_in_process(stack: LocalStack, event: Path) -> None:
    result = stack.run_event(event)
    assert result.ok, result
    assert result.action_runs == 1, result
    if event.name == "upload-callback-down.json":  # its callback URL refuses connections: the OSS event delivers it
        assert result.callback_status == "failed" and result.delivered_via == ["oss_event"], result
        return
    assert result.callback_status == "ok"
    assert result.callback["Status"] == "OK"
    assert result.callback["object"] == result.key


def test_fc2_client_invokes_the_upload_function(stack: LocalStack) -> None:
    info = stack.info()
    client = fc2.Client(endpoint=info.fc_endpoint, accessKeyID=info.fc_access_key_id,
                        accessKeySecret=info.fc_access_key_secret, securityToken=info.fc_security_token)
    payload = json.dumps({"action": "put", "key": "fc2/invoked.txt", "content": "via fc2"}).encode()
    resp = client.invoke_function(info.service, "upload", payload=payload)
    result = json.loads(resp.data)
    assert result["ok"] and result["callback_status"] == "ok", result
    assert result["callback"]["object"] == "fc2/invoked.txt"
    assert resp.headers["X-Fc-Request-Id"]


def test_oss2_upload_with_callback_to_the_proxy_path(stack: LocalStack) -> None:
    """The callback URL is the FC 2.0 proxy path on the local host: the callback function verifies the signature
    OSS made over that full path, which only works through fc.request_uri."""
    info = stack.info()
    assert "/2016-08-15/proxy/" in info.callback_url
    bucket = oss2.Bucket(oss2.AuthV4(info.access_key_id, info.access_key_secret), info.oss_endpoint, info.bucket, region=REGION)
    spec = build_callback("json-full", {"callback_url": info.callback_url + "hook%20path?app=try"}, {"x:who": "test"})
    result = bucket.put_object("proxy/path.txt", b"hello", headers=spec.headers())
    assert result.status == 200
    assert json.loads(result.resp.read()) == {"Status": "OK", "bucket": info.bucket, "object": "proxy/path.txt"}


def test_forged_callback_to_the_function_is_refused(stack: LocalStack) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(stack.callback_url, data=b"bucket=b&object=forged", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - local URL
    assert info.value.code == 400
    assert json.loads(info.value.read())["error"] == "MissingAuthorization"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _read_json_lines(proc: subprocess.Popen[str], want: str, timeout: float = 120) -> list[dict]:
    """JSON lines from the process's stdout until one has ``want``. A reader thread, because select() on a buffered
    text pipe misses lines already pulled into Python's buffer."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(json.loads(line))
        if want in seen[-1]:
            return seen
    raise AssertionError(f"no line with {want!r} in {seen}")


def test_local_serving_json_then_sigterm_leaves_no_child(tmp_path: Path) -> None:
    proc = subprocess.Popen([*CLI, "local", "--json", "--quiet-functions", "--data-dir", str(tmp_path),
                             "--template", "template.fc2.yml"],  # FC 2.0: invoked with fc2 below
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = _read_json_lines(proc, "fc_endpoint")
        events, ready = lines[:-1], lines[-1]
        assert len(events) == len(EVENTS) and all(e["ok"] for e in events), events
        assert {"oss_endpoint", "fc_endpoint", "callback_url", "bucket", "access_key_id"} <= set(ready)
        children = _children(proc.pid)
        assert children, "the FC host runs its functions in worker processes"
        client = fc2.Client(endpoint=ready["fc_endpoint"], accessKeyID=ready["fc_access_key_id"],
                            accessKeySecret=ready["fc_access_key_secret"], securityToken=ready["fc_security_token"])
        payload = (ROOT / "events" / "upload-put.json").read_bytes()
        assert json.loads(client.invoke_function(ready["service"], "upload", payload=payload).data)["ok"]
        assert _takes_v1(ready) is False  # the stack's OSS is a bucket created today (docs/LOCAL_OSS.md)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [c for c in children if _alive(c)]
    finally:
        if proc.poll() is None:
            proc.kill()


def _takes_v1(ready: dict[str, str]) -> bool:
    """Whether the stack's local OSS accepts an oss2.Auth (V1) request; False: refused with EC 0002-00000080."""
    v1 = oss2.Bucket(oss2.Auth(ready["access_key_id"], ready["access_key_secret"]), ready["oss_endpoint"],
                     ready["bucket"])
    try:
        v1.get_bucket_info()
    except oss2.exceptions.AccessDenied as refused:
        assert refused.ec == "0002-00000080" and "--allow-v1" in refused.message
        return False
    return True


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen([*CLI, "local", "--json", "--quiet-functions", "--data-dir", str(tmp_path),
                             "--event", "events/upload-put.json", "--allow-v1"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert _takes_v1(_read_json_lines(proc, "fc_endpoint")[-1]) is True  # --allow-v1: a bucket made before
        # 2025-09-01 (and the events still run: the functions sign V4 either way)
        children = _children(proc.pid)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) in (0, 130)
        time.sleep(0.5)
        assert not [c for c in children if _alive(c)]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_local_once_exits_zero(tmp_path: Path) -> None:
    out = subprocess.run([*CLI, "local", "--once", "--quiet-functions", "--data-dir", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(EVENTS)}/{len(EVENTS)} events succeeded" in out.stdout


def test_broken_event_exits_nonzero_with_a_readable_line(tmp_path: Path) -> None:
    broken = tmp_path / "upload-broken.json"
    broken.write_text(json.dumps({"action": "put_file", "key": "x", "path": "/etc/passwd"}))
    out = subprocess.run([*CLI, "local", "--once", "--quiet-functions", "--data-dir", str(tmp_path / "d"),
                          "--event", str(broken)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert "upload-broken.json" in out.stdout and "outside the allowed roots" in out.stdout
    assert "0/1 events succeeded" in out.stdout


def test_invoke_command_exit_codes(tmp_path: Path) -> None:
    cache = tmp_path / "user-cache"  # where the default local OSS data directory would be (platformdirs)
    ok = subprocess.run([*CLI, "invoke", "upload", "--event-file", "events/upload-put.json", "--json"], cwd=ROOT,
                        capture_output=True, text=True, timeout=300, env={**os.environ, "XDG_CACHE_HOME": str(cache)})
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["callback_status"] == "ok"
    assert not cache.exists()  # a fresh stack per invoke: a throw-away data directory, never a running stack's
    bad = tmp_path / "upload-bad.json"
    bad.write_text('{"action": "nope"}')
    failed = subprocess.run([*CLI, "invoke", "upload", "--event-file", str(bad), "--json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["error"] == "UploadError"
    missing = subprocess.run([*CLI, "invoke", "upload", "--event-file", "nope.json"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "no such event file" in missing.stderr


@pytest.mark.parametrize("command", [[], ["serve"], ["local"], ["local", "oss"], ["invoke"], ["template"],
                                     ["template", "render"], ["template", "list"], ["build"]])
def test_every_command_has_help(command: list[str]) -> None:
    out = subprocess.run([*CLI, *command, "--help"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "NO_COLOR": "1"})
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout


def test_function_credentials_outlive_a_long_running_stack(stack: LocalStack) -> None:
    """The workers get one set of role credentials at start-up; STS's usual hour would make every upload of a
    stack left running overnight fail with an expired token, so the local OSS accepts them for weeks."""
    assert stack.fc is not None and stack.oss is not None
    role = stack.oss.credentials.get(stack.fc.credentials.access_key_id)
    assert role is not None and role.security_token == stack.fc.credentials.security_token
    assert role.expires_at is not None and role.expires_at - time.time() > 7 * 24 * 3600
