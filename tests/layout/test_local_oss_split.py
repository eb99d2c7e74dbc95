"""The local OSS's split holds: its model (state and OSS's rules) never imports its HTTP side. A contract that
could not fail would prove nothing, so a forbidden import is planted in a copy of the library and must break it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

LIBRARY = ROOT / "shared" / "osscallback"
CONTRACT = "The local OSS's model"


def _lint(parent: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or shutil.which("lint-imports")
    assert exe, "lint-imports is not installed (pip install -e '.[dev]')"
    return subprocess.run(
        [exe, "--config", str(ROOT / ".importlinter"), "--no-cache"],
        cwd=parent, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(parent)), timeout=120,
        check=False,
    )


def test_model_never_imports_the_http_side(tmp_path: Path) -> None:
    kept = _lint(ROOT / "shared")
    assert kept.returncode == 0 and CONTRACT in kept.stdout, kept.stdout
    shutil.copytree(LIBRARY, tmp_path / "osscallback", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "osscallback" / "local" / "oss" / "model" / "tags.py"
    target.write_text(target.read_text(encoding="utf-8") + "\nimport osscallback.local.oss.api.request  # planted\n")
    broken = _lint(tmp_path)
    assert broken.returncode != 0
    out = " ".join(broken.stdout.split())  # import-linter wraps long contract names
    assert f"{CONTRACT} (state and OSS's rules) never imports its HTTP side" in out and "BROKEN" in out, out
    assert ", 1 broken" in out, out
