"""``osscallback reconcile`` refuses what it cannot run with one line and exit status 2, before any SDK call: no
place to run, a negative settle window, a template without a reconcile function, an FC endpoint that takes no
connection (a stack not running). The runs themselves: tests/local/stack/test_reconcile.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT
from tests.support.delivery import closed_port

CLI = [sys.executable, "-m", "osscallback.cli", "reconcile"]
ENV = {**os.environ, "FC_ACCESS_KEY_ID": "id", "FC_ACCESS_KEY_SECRET": "secret"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=ENV, capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_where_to_run_is_required() -> None:
    proc = _run()
    assert proc.returncode == 2 and "--endpoint" in proc.stderr and proc.stdout == ""


def test_a_negative_settle_window_is_refused() -> None:
    proc = _run("--endpoint", "http://127.0.0.1:1", "--settle", "-1")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--settle" in proc.stderr


def test_a_template_without_a_reconcile_function_is_named(tmp_path: Path) -> None:
    text = (ROOT / "template.yml").read_text(encoding="utf-8").replace("handler: reconcile.handler",
                                                                      "handler: index.handler")
    (tmp_path / "template.yml").write_text(text)
    proc = _run("--endpoint", "http://127.0.0.1:1", "--template", str(tmp_path / "template.yml"))
    assert proc.returncode == 2 and "declares no reconcile function" in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1


def test_a_dead_endpoint_is_one_line_within_seconds() -> None:
    proc = _run("--endpoint", f"http://127.0.0.1:{closed_port()}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "127.0.0.1" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
