"""The local FC host's modules that moved in the api/model split keep their old import paths for one release, as
aliases that warn (docs/ARCHITECTURE.md, "Deprecated import paths")."""

from __future__ import annotations

import importlib
import sys

import pytest

MOVED = {
    "osscallback.local.fc.asyncinvoke": "osscallback.local.fc.model.asyncinvoke",
    "osscallback.local.fc.process": "osscallback.local.fc.model.process",
    "osscallback.local.fc.controlplane": "osscallback.local.fc.api.controlplane",
    "osscallback.local.fc.fcapi": "osscallback.local.fc.api.fcapi",
    "osscallback.local.fc.fc3api": "osscallback.local.fc.api.fc3api",
}


@pytest.mark.parametrize(("old_path", "new_path"), sorted(MOVED.items()))
def test_the_old_path_warns_and_gives_the_same_objects(monkeypatch: pytest.MonkeyPatch, old_path: str,
                                                       new_path: str) -> None:
    monkeypatch.delitem(sys.modules, old_path, raising=False)
    with pytest.warns(DeprecationWarning, match=new_path.replace(".", r"\.")):
        old = importlib.import_module(old_path)
    new = importlib.import_module(new_path)
    protocol = importlib.import_module("osscallback.local.fc.protocol")
    assert old.__all__
    for name in old.__all__:
        assert getattr(old, name) is getattr(new, name, None) or getattr(old, name) is getattr(protocol, name), name
