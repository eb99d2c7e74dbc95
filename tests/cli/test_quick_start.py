"""The README's first command as a newcomer runs it (issue 29, points 1 and 5): two quick starts side by side (two
checkouts, or two stacks of one) both succeed, a serving stack whose per-user data directory is held by another
local OSS says so in one line and serves anyway, and ``--once`` prints the results only (the functions' log lines
of a failed event, or all of them with ``--function-logs``). Real processes throughout, with ``XDG_CACHE_HOME`` and
``TMPDIR`` of the test's own, so the per-user directory and the throw-away ones can be checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OSSCALLBACK = str(Path(sys.executable).parent / "osscallback")
EVENT = str(ROOT / "events" / "upload-put.json")


def _env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "TMPDIR": str(tmp_path / "tmp"),
            "NO_COLOR": "1"}


def test_two_quick_starts_at_the_same_time_both_succeed(tmp_path: Path) -> None:
    env = _env(tmp_path)
    runs = [subprocess.Popen([OSSCALLBACK, "local", "--once", "--event", EVENT], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [run.communicate(timeout=300) for run in runs]
    for run, (stdout, stderr) in zip(runs, outs, strict=True):
        assert run.returncode == 0, stdout + stderr
        assert "1/1 events succeeded" in stdout
        assert stderr == ""  # no collision note, no function logs: what the README shows
    assert not (tmp_path / "cache" / "osscallback").exists()  # --once never touches the per-user directory
    assert list((tmp_path / "tmp").iterdir()) == []  # and removes its throw-away one


def test_a_serving_stack_whose_data_directory_is_held_says_where_it_went(tmp_path: Path) -> None:
    env = _env(tmp_path)
    holder = subprocess.Popen([OSSCALLBACK, "local", "oss", "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        assert holder.stdout is not None
        assert "endpoint" in json.loads(holder.stdout.readline())  # it serves the per-user directory
        stack = subprocess.Popen([OSSCALLBACK, "local", "--json", "--quiet-functions", "--no-inspector", "--event",
                                  EVENT], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert stack.stdout is not None and stack.stderr is not None
            lines = [json.loads(stack.stdout.readline()) for _ in range(2)]
            assert lines[0]["ok"] is True and "oss_endpoint" in lines[1]
        finally:
            stack.terminate()
            _, stderr = stack.communicate(timeout=60)
        held = tmp_path / "cache" / "osscallback" / "local-oss"
        note = stderr.strip().splitlines()
        assert len(note) == 1, stderr
        assert f"{held} is in use by another local OSS (pid {holder.pid})" in note[0]
        assert str(tmp_path / "tmp") in note[0] and "--data-dir" in note[0]
        assert list((tmp_path / "tmp").iterdir()) == []  # the stand-in directory went with the stack
    finally:
        holder.terminate()
        holder.communicate(timeout=60)


def test_once_prints_a_failed_events_function_logs_and_only_those(tmp_path: Path) -> None:
    broken = tmp_path / "upload-broken.json"
    broken.write_text(json.dumps({"action": "put_file", "key": "x", "path": "/etc/passwd"}))
    out = subprocess.run([OSSCALLBACK, "local", "--once", "--event", str(broken), "--event", EVENT], cwd=ROOT,
                         env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    logs = out.stderr.splitlines()
    assert any(line.startswith(("upload | ", "oss-callback-fc-upload | ")) and '"upload_error"' in line and "/etc/passwd" in line for line in logs)
    assert not any("UntrustedKeyUrlPrefix" in line for line in logs)  # start-up notices: the first line says it
    assert not any("examples/put/" in line for line in logs)  # the event that succeeded keeps its lines


def test_function_logs_prints_them_all_as_they_come(tmp_path: Path) -> None:
    out = subprocess.run([OSSCALLBACK, "local", "--once", "--function-logs", "--event", EVENT], cwd=ROOT,
                         env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    functions = {line.split(" | ", 1)[0].removeprefix("oss-callback-fc-")  # FC 3.0 (template.yml) names
                 for line in out.stderr.splitlines() if " | " in line}
    assert {"upload", "callback"} <= functions, out.stderr[:800]
