"""Shared constants for the deploy tests (a module of its own: every test directory has a ``conftest``)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = tuple(p for p in (ROOT / "template.yml", ROOT / "template.fc3.yml") if p.is_file())
HOST_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
