"""No library module over 500 lines (the developers' guide: small modules with one job).

A module that grows past the limit is split by job, keeping the names callers import from it importable there
(as deploy/build.py, upload/uploader.py and local/oss/model/store.py re-export theirs).
"""

from __future__ import annotations

from pathlib import Path

import osscallback

LIBRARY = Path(osscallback.__file__).resolve().parent
LIMIT = 500


def _lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def test_no_library_module_is_over_500_lines() -> None:
    modules = [p for p in LIBRARY.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(modules) > 50  # the library itself, not an empty directory
    over = {p.relative_to(LIBRARY).as_posix(): n for p in modules if (n := _lines(p)) > LIMIT}
    assert not over, f"library modules over {LIMIT} lines (split them by job): {over}"


def test_a_module_over_the_limit_is_counted_over(tmp_path: Path) -> None:
    """Lines as an editor numbers them: a last line without a newline counts too."""
    for text, expected in (("", 0), ("a\n", 1), ("a\nb", 2), ("a\n" * (LIMIT + 1), LIMIT + 1)):
        f = tmp_path / "m.py"
        f.write_text(text, encoding="utf-8")
        assert _lines(f) == expected
