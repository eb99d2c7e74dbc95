"""Whether a function's package can run on this host's Python alone, or leans on the host's installed copies.

``osscallback build`` packages wheels for the template's runtime (cp312 for ``python3.12``): extension modules
named ``<name>.cpython-312-x86_64-linux-gnu.so``. CPython loads an extension only with one of its own
``importlib.machinery.EXTENSION_SUFFIXES`` (PEP 3149 tags; ``abi3`` modules load on any 3.x), so a Python 3.11
host skips those files and, when the module is also installed on the host, imports the host's copy instead: the
callback package's ``_cffi_backend`` (cffi, which ``cryptography.hazmat.bindings._rust`` imports) is the case
found by running the deployed packages with ``python3.11 -I -S`` (every function but the policy one fails there
with ``No module named '_cffi_backend'``; under ``python3.12 -I -S`` all import). The local run then works, but
is not the package alone: the host says so once per function, naming the modules, instead of pretending.
"""

from __future__ import annotations

import importlib.machinery
import os
import re
import sys
from pathlib import Path

#: ``name.cpython-312-x86_64-linux-gnu.so`` / ``name.cpython-312.so`` -> ``312`` (abi3 and others never match).
_TAGGED = re.compile(r"\.cpython-(\d+)[-.]")


def foreign_extensions(code_dir: str | os.PathLike[str], suffixes: tuple[str, ...] | None = None) -> list[str]:
    """The dotted names of the CPython extension modules under ``code_dir`` that this interpreter cannot load."""
    own = {m.group(1) for s in (suffixes or importlib.machinery.EXTENSION_SUFFIXES) if (m := _TAGGED.search(s))}
    root = Path(code_dir)
    found = []
    for path in sorted(root.rglob("*.cpython-*")):
        tagged = _TAGGED.search(path.name)
        if tagged and tagged.group(1) not in own and path.suffix in (".so", ".pyd"):
            parts = path.relative_to(root).parts
            found.append(".".join([*parts[:-1], path.name.split(".", 1)[0]]))
    return found


def host_fit_note(runtime: str, code_dir: str | os.PathLike[str], *, shown: int = 4) -> str | None:
    """One line when the package holds extensions for another CPython than this host's, else None."""
    foreign = foreign_extensions(code_dir)
    if not foreign:
        return None
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    more = f" and {len(foreign) - shown} more" if len(foreign) > shown else ""
    return (f"note: the package was built for {runtime or 'another Python'}, and this host runs Python {host}, "
            f"which cannot load its native modules {', '.join(foreign[:shown])}{more}: where the host has its own "
            f"copy installed it imports that one, so this local run is not the package alone (run the host on "
            f"Python matching the runtime to run exactly what FC runs)")
