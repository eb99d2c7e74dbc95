"""The stated public API (docs/ARCHITECTURE.md, "Public API"): each package's ``__all__`` resolves, and the
re-exports stay lazy, so that importing a package (the callback function's cold path goes through ``osscallback``
and ``osscallback.callback``) imports none of the modules it re-exports from.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys

import pytest

from tests.support import ROOT

ARCHITECTURE = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")

#: The packages users import from, each with an ``__all__``.
PUBLIC = (
    "osscallback",
    "osscallback.callback",
    "osscallback.upload",
    "osscallback.local",
    "osscallback.local.oss",
    "osscallback.local.fc",
    "osscallback.local.inspector",
    "osscallback.deploy",
    "osscallback.doctor",
    "osscallback.testing",
)
#: Packages whose re-exports are lazy, and what importing each may load of ours besides itself and its parents.
LAZY = ("osscallback", "osscallback.callback", "osscallback.upload", "osscallback.local", "osscallback.deploy")
HEAVY = ("oss2", "cryptography", "jinja2", "redis", "waitress", "yaml", "fc2", "tqdm", "requests")


def _loaded_after(statement: str) -> list[str]:
    """``sys.modules`` of a fresh interpreter after ``statement``: ours and the heavy third-party ones."""
    code = (f"import sys; {statement}; "
            f"print('\\n'.join(m for m in sys.modules if m.startswith('osscallback') or m.split('.')[0] in {HEAVY!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return sorted(out.stdout.split())


@pytest.mark.parametrize("package", LAZY)
def test_importing_a_package_imports_none_of_its_reexports(package: str) -> None:
    parents = [".".join(package.split(".")[: i + 1]) for i in range(package.count(".") + 1)]
    assert _loaded_after(f"import {package}") == sorted({*parents, "osscallback._lazy"})


def test_the_first_access_imports_only_the_module_that_defines_the_name() -> None:
    loaded = _loaded_after("import osscallback; osscallback.CallbackEvent")
    assert "osscallback.callback.actions" in loaded
    assert not [m for m in loaded if m.split(".")[0] in ("oss2", "redis", "yaml", "waitress")], loaded
    assert not [m for m in loaded if m.startswith(("osscallback.upload", "osscallback.local"))], loaded


@pytest.mark.parametrize("package", PUBLIC)
def test_every_name_in_all_resolves(package: str) -> None:
    module = importlib.import_module(package)
    names = module.__all__
    assert names and len(names) == len(set(names)), f"{package}.__all__ is empty or has duplicates"
    for name in names:
        value = getattr(module, name)
        assert value is not None, f"{package}.{name}"
        assert name in dir(module), f"{package}.{name} missing from dir()"
    if hasattr(module, "__path__"):  # a re-export named like a submodule would hide it (or be hidden by it)
        submodules = {m.name for m in pkgutil.iter_modules(module.__path__)}
        assert not submodules & set(names), f"{package}.__all__ shadows submodules {submodules & set(names)}"
    exports = getattr(module, "_EXPORTS", None)
    if exports is not None:  # lazy: the same object as in the module named for it, and nothing listed twice
        assert set(exports) == set(names) - {"__version__"}, package
        for name, source in exports.items():
            assert getattr(module, name) is getattr(importlib.import_module(source), name), f"{package}.{name}"


def test_an_unknown_name_is_an_attribute_error_and_subpackages_still_import() -> None:
    import osscallback

    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        osscallback.NoSuchName  # noqa: B018
    from osscallback import doctor  # a subpackage, not a re-export: imported as usual

    assert doctor.__name__ == "osscallback.doctor"


def test_the_docs_list_every_public_name() -> None:
    section = ARCHITECTURE.split("## Public API", 1)[1].split("\n## ", 1)[0]
    for package in PUBLIC:
        module = importlib.import_module(package)
        assert f"`{package}`" in section, f"docs/ARCHITECTURE.md's Public API does not name {package}"
        if package == "osscallback.local.fc":  # its own list lives with it (the local FC host's room)
            continue
        assert f"`{package}`" in section, f"docs/ARCHITECTURE.md's Public API does not name {package}"
        for name in module.__all__:
            assert re.search(rf"`{re.escape(name)}`", section), f"{package}.{name} not listed in the Public API"
