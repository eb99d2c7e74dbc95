"""The suite's own guard (issue 29, point 3): a process a test leaves behind is found, however it was orphaned, and
ended. tests/conftest.py runs :func:`tests.support.leftovers.leftovers` at the end of the session and fails the run
if it finds any; this proves it finds one (a ``bash`` that exits leaving its background ``sleep``, the shape of the
``osscallback serve`` that test_snippets.py once left under PID 1).
"""

from __future__ import annotations

import subprocess

from tests.support import leftovers


def test_an_orphaned_grandchild_is_found_and_ended() -> None:
    out = subprocess.run(["bash", "-c", "sleep 120 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True,
                         timeout=30)
    orphan = int(out.stdout)  # bash has exited: sleep's parent is gone, so it was reparented (to us: a subreaper)
    try:
        assert orphan in leftovers.leftovers(grace=0.5), leftovers.command(orphan)
        assert "sleep 120" in leftovers.command(orphan)
    finally:
        leftovers.kill([orphan])
    assert orphan not in leftovers.leftovers(grace=0.5)
