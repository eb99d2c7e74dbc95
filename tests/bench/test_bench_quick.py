"""CI only proves the benchmark suite runs and prints every figure; it never judges a time (the machine is shared)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = [
    "callback req/s c=1 vs no-op", "callback req/s c=16 vs official", "callback req/s c=64 vs no-op",
    "core verify+parse+act+render", "cold start: callback import adds", "cold start: upload import adds",
    "1 KiB put p50 with callback", "MiB multipart+callback", "RSS after",
]


def test_quick_benchmark_suite_runs(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "bench/run.py", "--quick", "--json", str(tmp_path / "figures.json")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    for name in FIGURES:
        assert name in out.stdout, name
    assert (tmp_path / "figures.json").read_text().startswith("[")
    assert "errors 0" in out.stdout
