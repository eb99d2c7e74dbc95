"""Where the repository is: found by the checkout's layout, and a clear error from an installed package.

The local tools default to the repository's template.yml and events/. They used to find it by counting parent
directories (``Path(__file__).resolve().parents[3]``), which from site-packages names some unrelated directory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import osscallback
from osscallback.local.project import package_parent, project_root
from osscallback.local.stack import default_events, default_template
from tests.support import ROOT


def test_the_checkout_is_found_by_its_layout() -> None:
    assert project_root() == ROOT
    assert package_parent() == ROOT / "shared"
    assert default_template() == ROOT / "template.yml" and default_template().is_file()
    assert default_events() == ROOT / "events" and default_events().is_dir()


def test_the_old_module_constants_still_resolve() -> None:
    import osscallback.local.stack as stack

    assert stack.DEFAULT_TEMPLATE == ROOT / "template.yml"
    assert stack.DEFAULT_EVENTS == ROOT / "events"


def _installed_copy(tmp_path: Path) -> Path:
    """The package as a wheel installs it: ``site-packages/osscallback``, no repository around it."""
    site = tmp_path / "site-packages"
    shutil.copytree(Path(osscallback.__file__).parent, site / "osscallback",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return site


def test_an_installed_package_says_what_to_pass(tmp_path: Path) -> None:
    site = _installed_copy(tmp_path)
    event = ROOT / "events" / "upload-put.json"
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from osscallback.cli import main; sys.exit(main(sys.argv[1:]))",
         "invoke", "upload", "--event-file", str(event)],
        cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("osscallback: error: osscallback is installed"), out.stderr
    assert "--template" in lines[0]


def test_an_installed_package_still_knows_its_own_directory(tmp_path: Path) -> None:
    site = _installed_copy(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", "from osscallback.local.project import package_parent; print(package_parent())"],
        cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert out.stdout.strip() == str(site.resolve())
