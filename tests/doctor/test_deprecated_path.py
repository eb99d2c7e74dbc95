"""The doctor moved from ``osscallback.local.doctor`` to ``osscallback.doctor``; the old path stays for one release
as an alias that warns (docs/ARCHITECTURE.md, "Deprecated import paths")."""

from __future__ import annotations

import importlib
import sys

import pytest

import osscallback.doctor


def test_the_old_path_warns_and_gives_the_same_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "osscallback.local.doctor", raising=False)
    with pytest.warns(DeprecationWarning, match="osscallback.doctor"):
        old = importlib.import_module("osscallback.local.doctor")
    for name in osscallback.doctor.__all__:
        assert getattr(old, name) is getattr(osscallback.doctor, name), name
    for name in old.__all__:
        assert hasattr(old, name), name
