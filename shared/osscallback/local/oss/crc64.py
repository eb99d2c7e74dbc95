"""CRC-64/ECMA-182 as OSS computes it for ``x-oss-hash-crc64ecma``.

oss2 checks this value on every upload and download by default, so the local OSS must produce exactly what the
SDK computes: we reuse oss2's own implementation (``oss2.utils.Crc64``, backed by crcmod's C extension) instead
of writing another one that could drift from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from oss2.utils import Crc64 as _Oss2Crc64

_CHUNK = 1024 * 1024


class Crc64:
    """Incremental CRC-64/ECMA: ``update()`` with chunks, read ``value``."""

    def __init__(self) -> None:
        self._crc = _Oss2Crc64()

    def update(self, data: bytes) -> None:
        self._crc.update(data)

    @property
    def value(self) -> int:
        return int(self._crc.crc)

    def combine(self, crc1: int, crc2: int, len2: int) -> int:
        """CRC of ``a + b`` from ``crc(a)``, ``crc(b)`` and ``len(b)``, without reading the data again."""
        return int(self._crc.combine(crc1, crc2, len2))


def crc64_of_stream(stream: BinaryIO) -> int:
    crc = Crc64()
    while chunk := stream.read(_CHUNK):
        crc.update(chunk)
    return crc.value


def crc64_of_file(path: Path) -> int:
    with path.open("rb") as f:
        return crc64_of_stream(f)


def crc64_of_bytes(data: bytes) -> int:
    crc = Crc64()
    crc.update(data)
    return crc.value
