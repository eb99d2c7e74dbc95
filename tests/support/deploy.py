"""Shared constants for the deploy tests (tests/deploy); ``RUNNER`` is the script that imports a built package
in an isolated interpreter."""

from __future__ import annotations

import sys

from tests.support import ROOT

TEMPLATES = tuple(p for p in (ROOT / "template.yml", ROOT / "template.fc2.yml") if p.is_file())
RUNNER = ROOT / "tests" / "support" / "isolated_runner.py"
HOST_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
