"""``osscallback local --once`` prints a failed event's function logs even when they arrive after the result.

The workers' output reaches the CLI through pipes read by other threads; on a loaded machine (CI's two shared cores)
the event's result came first and its log lines after the flush, so a failed event showed no lines at all
(``test_once_prints_a_failed_events_function_logs_and_only_those`` failed in a fresh-clone run under load).
"""

from __future__ import annotations

import io
import threading
import time

import pytest

from osscallback.cli.stack import _FunctionLogs, _Style


def test_a_failed_events_late_lines_are_waited_for_until_the_invocation_ends(capsys: pytest.CaptureFixture[str]) -> None:
    sink = _FunctionLogs("on-failure", _Style(io.StringIO()))
    sink("upload", "FC Invoke Start RequestId: r1")

    def late() -> None:
        time.sleep(0.3)
        sink("upload", '[ERROR] {"event": "upload_error"}')
        sink("upload", "FC Invoke End RequestId: r1")

    writer = threading.Thread(target=late)
    writer.start()
    sink.flush(failed=True)
    writer.join()
    assert capsys.readouterr().err.splitlines() == [
        "upload | FC Invoke Start RequestId: r1",
        'upload | [ERROR] {"event": "upload_error"}',
        "upload | FC Invoke End RequestId: r1",
    ]


def test_a_successful_events_lines_are_dropped_without_waiting(capsys: pytest.CaptureFixture[str]) -> None:
    sink = _FunctionLogs("on-failure", _Style(io.StringIO()))
    sink.LATE_LINES = 60.0  # a wait would show as a minute
    sink("upload", "FC Invoke Start RequestId: r2")
    started = time.monotonic()
    sink.flush(failed=False)
    assert time.monotonic() - started < 30  # no wait for the end line
    assert capsys.readouterr().err == ""
