"""Quiet logs in the local stack: the functions' output shows what they decided, not oss2's expected control flow.

With the ``oss://`` idempotency store (the local stack's default), the OSS-event backstop's duplicate check meets a
409 ``FileAlreadyExists`` and a 404 ``NoSuchKey`` for every upload the callback already delivered; oss2 used to log
each as an INFO ``Exception: {...}`` line in the function's log (issue 19, item 6). Warnings still show: the stack's
own ``UntrustedKeyUrlPrefix`` warning (the local key URL override) is one every run prints.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

CLI = [sys.executable, "-m", "osscallback.cli"]


def test_one_upload_s_function_logs_hold_no_oss2_exception_lines(tmp_path: Path) -> None:
    out = subprocess.run([*CLI, "local", "--once", "--function-logs", "--event", "events/upload-put.json", "--data-dir",
                          str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout + out.stderr
    assert '"outcome": "duplicate"' in text  # the backstop's duplicate check did run, and said so in one line
    assert "[WARNING]" in text and "UntrustedKeyUrlPrefix" in text  # warnings are not silenced
    noise = [line for line in text.splitlines() if "Exception: {" in line or "FileAlreadyExists" in line
             or "NoSuchKey" in line]
    assert not noise, "\n".join(noise)
    assert "1/1 events succeeded" in out.stdout
