"""Byte ranges as OSS reads a ``Range`` header (GetObject) or ``x-oss-copy-source-range`` (UploadPartCopy).

OSS is lenient where RFC 7233 is strict: a malformed range, a multi-range, or one that starts past the end is
ignored and the whole object is sent with 200 — unless ``x-oss-range-behavior: standard`` asks for 416.
"""

from __future__ import annotations

UNSATISFIABLE = "unsatisfiable"


def parse_range(value: str, size: int) -> tuple[int, int] | str | None:
    """``(start, end)`` (inclusive) for a satisfiable single ``bytes=`` range, :data:`UNSATISFIABLE`, or ``None``
    (no range, or one OSS ignores)."""
    value = value.strip()
    if not value.startswith("bytes="):
        return None
    spec = value[6:].strip()
    if "," in spec or "-" not in spec:
        return None
    first, _, last = spec.partition("-")
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                return None
            return (max(size - n, 0), size - 1) if size else UNSATISFIABLE
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start < 0 or (last and end < start):
        return None
    if start >= size:
        return UNSATISFIABLE
    return start, min(end, size - 1)
