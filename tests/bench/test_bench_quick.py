"""CI only proves the benchmark suite runs and prints every figure; it never judges a time (the machine is shared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

FIGURES = [
    "callback req/s c=1 vs no-op", "callback req/s c=16 vs no-op", "callback req/s c=64 vs no-op",
    "callback req/s c=1 vs official", "callback req/s c=16 vs official", "callback req/s c=64 vs official",
    "core verify+parse+act+render", "core + INFO log line", "callback with CALLBACK_CONFIRM=head",
    "cold start: first callback adds", "cold start: first callback, CALLBACK_CONFIRM=head adds",
    "cold start: first callback, custom template", "cold start: first callback, HTTPS key host",
    "cold start: first callback, no .pyc", "cold start: upload import adds",
    "1 KiB put p50 with callback", "MiB multipart+callback", "RSS after",
    "reconcile 2,000 objects, oss:// store", "reconcile 2,000 objects, Redis store",
]


def test_quick_benchmark_suite_runs(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "bench/run.py", "--quick", "--json", str(tmp_path / "figures.json")],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    for name in FIGURES:
        assert name in out.stdout, name
    figures = json.loads((tmp_path / "figures.json").read_text())
    # The exit status tells whether a target was missed (issue 29, point 9): it must agree with the figures, whatever
    # they are on a shared machine (which target is met is never judged here).
    missed = [f["name"] for f in figures if f["met"] is False]
    assert out.returncode == (1 if missed else 0), out.stdout[-800:] + out.stderr[-2000:]
    assert f"{len(missed)} targets missed" in out.stdout.splitlines()[-1]
    # The bench's own servers keep their local-development warnings out of the table.
    assert "UntrustedKeyUrlPrefix" not in out.stdout + out.stderr
    names = [f["name"] for f in figures]
    assert all(any(n.startswith(x) or x in n for n in names) for x in FIGURES), names
    assert "errors 0" in out.stdout
    # A figure is judged (MET/MISSED) only where the issue sets a target; the rest are shown with "-".
    judged = {f["name"] for f in figures if f["met"] is not None}
    assert "cold start: first callback adds" in judged and "core verify+parse+act+render" in judged
    assert "callback req/s c=1 vs no-op" not in judged and "callback req/s c=64 vs no-op" in judged


def test_python_dash_m_bench_is_the_same_entry_point(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "core", "--json",
                          str(tmp_path / "core.json")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode in (0, 1) and "targets missed" in out.stdout, out.stdout + out.stderr  # 1: a target missed
    assert "core verify+parse+act+render" in out.stdout
    assert [f["name"] for f in json.loads((tmp_path / "core.json").read_text())][0] == "core verify+parse+act+render"
