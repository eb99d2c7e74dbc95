"""``osscallback invoke --endpoint`` fails as one line, fast, and never prints a credential (issue 24, points 2-3).

fc2 logs every error answer through the root logger with the request's headers (``x-fc-security-token``,
``authorization: FC <id>:<signature>``) — see aliyun/fc-python-sdk, fc2/client.py, ``Client._do_request``
(``logging.error(errmsg)`` with ``Request headers: {4}``) — and retries a refused connection five times with
back-off (``requestWithTry``: ``retries = 5``, ``backoff_factor = 1``). Every test here runs the real CLI as a
process against a real ``osscallback local`` stack (or a port nothing listens on).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import ROOT

OSSCALLBACK = str(Path(sys.executable).parent / "osscallback")
EVENT = str(ROOT / "events" / "upload-put.json")
FC2 = str(ROOT / "template.fc2.yml")  # fc2's behaviour is what these tests pin; template.yml is FC 3.0


@contextmanager
def running_stack(data_dir: Path, *extra: str) -> Iterator[dict[str, object]]:
    """``osscallback local --json`` as a process; yields its endpoints line, stops it with SIGTERM."""
    proc = subprocess.Popen(
        [OSSCALLBACK, "local", "--json", "--quiet-functions", "--no-inspector", "--data-dir", str(data_dir),
         "--event", EVENT, *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            doc = json.loads(line)
            if "fc_endpoint" in doc:
                yield doc
                break
        else:
            pytest.fail(f"osscallback local exited ({proc.wait()}) without printing its endpoints")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def invoke(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}  # noqa: S108
    return subprocess.run([OSSCALLBACK, "invoke", "upload", "--event-file", EVENT, *args], cwd=ROOT,
                          env={**base, **env}, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def fc2_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    with running_stack(tmp_path_factory.mktemp("fc2"), "--template", FC2) as info:
        yield info


def test_bad_credentials_print_no_token_and_no_signature(fc2_stack: dict[str, object]) -> None:
    token = "SECRET-TOKEN-" + "x" * 24
    out = invoke("--endpoint", str(fc2_stack["fc_endpoint"]), "--template", FC2,
                 FC_ACCESS_KEY_ID="bad-key-id", FC_ACCESS_KEY_SECRET="bad-secret", FC_SECURITY_TOKEN=token)
    assert out.returncode == 2
    both = out.stdout + out.stderr
    assert token not in both
    assert "authorization" not in both.lower() and "FC bad-key-id:" not in both  # the request signature
    assert "ERROR:root" not in both
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("osscallback: error: ") and "InvalidAccessKeyID" in lines[0]
    assert "('" not in lines[0]  # not FcError's tuple repr


def test_a_dead_endpoint_fails_within_seconds_without_retry_warnings() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    out = invoke("--endpoint", f"http://127.0.0.1:{port}", "--template", FC2, FC_ACCESS_KEY_ID="id",
                 FC_ACCESS_KEY_SECRET="secret")
    elapsed = time.monotonic() - started
    assert out.returncode == 2
    assert "Retrying" not in out.stderr and "urllib3" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "refused" in lines[0], out.stderr
    assert elapsed < 20  # fc2 alone retries for ~30 s; the bound is loose, the retry warnings are the real check


def test_fc2_template_against_an_fc3_stack_names_the_template(tmp_path: Path) -> None:
    with running_stack(tmp_path) as info:  # the default template.yml: FC 3.0
        out = invoke("--endpoint", str(info["fc_endpoint"]), "--template", FC2,
                     FC_ACCESS_KEY_ID=str(info["fc_access_key_id"]),
                     FC_ACCESS_KEY_SECRET=str(info["fc_access_key_secret"]),
                     FC_SECURITY_TOKEN=str(info["fc_security_token"]))
        assert out.returncode == 2
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "--template template.yml" in lines[0], out.stderr
        assert str(info["fc_security_token"]) not in out.stderr
        # the FC 3.0 SDK with bad credentials: one line, no token, no signature either
        token = "SECRET-TOKEN-" + "y" * 24
        bad = invoke("--endpoint", str(info["fc_endpoint"]), "--template", "template.yml",
                     FC_ACCESS_KEY_ID="bad-key-id", FC_ACCESS_KEY_SECRET="bad-secret", FC_SECURITY_TOKEN=token)
        assert bad.returncode == 2 and token not in bad.stdout + bad.stderr, bad.stderr
        assert "authorization" not in bad.stderr.lower() and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        # ... and with the template it names, the same call succeeds
        ok = invoke("--endpoint", str(info["fc_endpoint"]), "--template", "template.yml",
                    FC_ACCESS_KEY_ID=str(info["fc_access_key_id"]),
                    FC_ACCESS_KEY_SECRET=str(info["fc_access_key_secret"]),
                    FC_SECURITY_TOKEN=str(info["fc_security_token"]))
        assert ok.returncode == 0, ok.stderr


def test_quiet_sdk_drops_only_fc2s_records_and_urllib3s_retries(caplog: pytest.LogCaptureFixture) -> None:
    """The filters stop fc2's own lines at the root logger and urllib3's retry warnings; every other record passes."""
    import logging

    import fc2.client

    from osscallback.cli.fcsdk import quiet_sdk

    root = logging.getLogger()
    caplog.set_level(logging.INFO)
    with quiet_sdk():
        # a record exactly as fc2's module-level logging.error() makes it: on the root logger, from fc2/client.py
        root.handle(root.makeRecord("root", logging.ERROR, fc2.client.__file__, 1, "x-fc-security-token: T", (),
                                    None))
        logging.getLogger("urllib3.connectionpool").warning("Retrying (Retry(total=4)) after connection broken")
        logging.getLogger("urllib3.connectionpool").warning("Connection pool is full, discarding connection")
        root.warning("a root record of our own")
        logging.getLogger("osscallback.cli").info("a named record")
    root.handle(root.makeRecord("root", logging.ERROR, fc2.client.__file__, 1, "after the call", (), None))
    messages = [r.getMessage() for r in caplog.records]
    assert "x-fc-security-token: T" not in messages and not any(m.startswith("Retrying") for m in messages)
    assert {"Connection pool is full, discarding connection", "a root record of our own", "a named record",
            "after the call"} <= set(messages)


def _template_functions() -> str:
    from osscallback.deploy.fcyaml import load_template

    functions = load_template(ROOT / "template.yml", {}).functions  # FC 3.0: "module (FC function name)"
    return ", ".join(f.module if f.module == f.name else f"{f.module} ({f.name})" for f in functions)


@pytest.mark.parametrize(("function", "event", "says"), [
    ("upload", '{"action": "put",\n "key": }\n', "line 2 column 9: Expecting value"),
    ("upload", '[{"action": "put"}]\n', "the event must be a JSON object {...}, not list"),  # JSON, not an event
    ("nosuch", '{"action": "put"}', f"template.yml has no function 'nosuch'; its functions: {_template_functions()}"),
])
def test_invoke_checks_the_event_and_the_function_before_starting_anything(
        tmp_path: Path, function: str, event: str, says: str) -> None:
    """Issue 29, point 6: as ``local --event`` does, before any server starts (the stack's throw-away data
    directory would appear in TMPDIR, its functions' logs on stderr)."""
    path = tmp_path / "event.json"
    path.write_text(event)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = subprocess.run([OSSCALLBACK, "invoke", function, "--event-file", str(path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "TMPDIR": str(scratch)})
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stdout == "" and out.stderr.count("\n") == 1 and says in out.stderr, out.stderr
    assert list(scratch.iterdir()) == []  # no stack was started
