"""The tree shows the architecture, and the import contracts hold: what ships to FC never imports local tooling.

``lint-imports`` also runs in ``.ci/run``; running it here too means ``python -m pytest`` alone catches a broken
contract. A contract that could not fail would prove nothing, so one test plants a forbidden import in a copy of
the library and expects import-linter to refuse it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

LIBRARY = ROOT / "shared" / "osscallback"
ARCHITECTURE = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
ROOMS = ("callback", "upload", "local", "doctor", "deploy", "cli")
LINT_IMPORTS = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or shutil.which("lint-imports")


def _lint_imports(library_parent: Path, config: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS, "lint-imports is not installed (pip install -e '.[dev]')"
    env = dict(os.environ, PYTHONPATH=str(library_parent))
    return subprocess.run(
        [LINT_IMPORTS, "--config", str(config), "--no-cache"],
        cwd=library_parent, capture_output=True, text=True, env=env, timeout=120, check=False,
    )


def test_the_library_is_its_rooms_and_the_shared_top_level() -> None:
    rooms = sorted(p.name for p in LIBRARY.iterdir() if p.is_dir() and (p / "__init__.py").is_file())
    assert rooms == sorted(ROOMS)
    top = sorted(p.name for p in LIBRARY.glob("*.py"))
    assert top == ["__init__.py", "_lazy.py", "errors.py", "keygen.py", "logconfig.py", "osslocation.py", "testing.py"]


def test_architecture_md_names_every_room_and_module() -> None:
    """docs/ARCHITECTURE.md matches the tree: each room has its paragraph, and each module is named in it."""
    for room in ROOMS:
        assert f"**`{room}/`" in ARCHITECTURE, f"ARCHITECTURE.md has no paragraph for {room}/"
    missing = []
    for path in sorted(LIBRARY.rglob("*.py")):
        if path.name == "__init__.py" or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(LIBRARY)
        names = {path.name, path.stem + "/", f"{rel.parent.name}/"} if path.name == "__main__.py" else {path.name}
        if not any(n in ARCHITECTURE for n in names):
            missing.append(str(rel))
    assert not missing, f"modules not described in docs/ARCHITECTURE.md: {missing}"
    for sub in sorted(p for p in LIBRARY.rglob("*") if p.is_dir() and (p / "__init__.py").is_file()):
        rel = sub.relative_to(LIBRARY).as_posix()
        assert f"{sub.name}/" in ARCHITECTURE, f"subpackage {rel}/ not described in docs/ARCHITECTURE.md"


def test_import_contracts_hold() -> None:
    proc = _lint_imports(ROOT / "shared", ROOT / ".importlinter")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kept = re.search(r"Contracts: (\d+) kept, 0 broken", proc.stdout)
    assert kept and int(kept.group(1)) >= 4, proc.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("callback/body.py", "import osscallback.upload.templates", "cold start"),
        ("callback/core.py", "import oss2", "cold start"),
        ("upload/uploader.py", "from osscallback.local import httpserver", "Deployed code never imports"),
        ("local/stack.py", "import osscallback.cli", "Nothing imports the CLI"),
        # The local FC host's layers: the old host <-> control plane cycle, and the model reaching up into the API.
        ("local/fc/api/controlplane.py", "import osscallback.local.fc.host", "The local FC host"),
        ("local/fc/model/registry.py", "from osscallback.local.fc.api import dispatch", "The local FC host"),
        ("local/fc/spec.py", "import osscallback.local.fc.model.registry", "The local FC host"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path: Path, module: str, planted: str, contract: str) -> None:
    shutil.copytree(LIBRARY, tmp_path / "osscallback", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "osscallback" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{planted}  # planted by the test\n", encoding="utf-8")
    proc = _lint_imports(tmp_path, ROOT / ".importlinter")
    assert proc.returncode != 0, proc.stdout
    broken = [line for line in proc.stdout.splitlines() if "BROKEN" in line or contract in line]
    assert any(contract in line for line in broken), proc.stdout
