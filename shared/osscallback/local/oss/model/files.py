"""The store's files, written so that a crash never leaves a torn one: request bodies spooled to disk with the
digests OSS reports (MD5, CRC-64), JSON replaced atomically, keys hashed into safe file names."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from osscallback.local.oss.crc64 import Crc64


@dataclass(frozen=True)
class StagedFile:
    """A request body spooled to disk, with the digests OSS reports for it."""

    path: Path
    size: int
    md5: bytes
    crc64: int

    @property
    def md5_hex(self) -> str:
        return self.md5.hex().upper()

    @property
    def md5_b64(self) -> str:
        return base64.b64encode(self.md5).decode("ascii")


class Stager:
    """Writes a body to a temp file while computing its size, MD5 and CRC-64; ``discard()`` if not committed."""

    def __init__(self, tmp_dir: Path) -> None:
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="body-", suffix=".part")
        self.path = Path(name)
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self._md5 = hashlib.md5()  # noqa: S324 - OSS's ETag and Content-MD5 are MD5 by definition
        self._crc = Crc64()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._md5.update(data)
        self._crc.update(data)
        self.size += len(data)

    def finish(self) -> StagedFile:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return StagedFile(self.path, self.size, self._md5.digest(), self._crc.value)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_id() -> str:
    return secrets.token_hex(16).upper()


_upload_id_lock = threading.Lock()
_last_upload_stamp = 0


def new_upload_id() -> str:
    """32 upper-case hex characters that sort in creation order: a strictly increasing nanosecond stamp, then
    random bits.

    OSS lists one key's multipart uploads by upload ID and pages with ``upload-id-marker`` ("UploadId greater
    than upload-id-marker", https://www.alibabacloud.com/help/en/oss/developer-reference/listmultipartuploads).
    IDs that rise with time make that order also the order of initiation, as S3-style clients expect.
    """
    global _last_upload_stamp
    with _upload_id_lock:
        stamp = max(time.time_ns(), _last_upload_stamp + 1)
        _last_upload_stamp = stamp
    return f"{stamp:016X}{secrets.token_hex(8).upper()}"


def write_json_atomic(path: Path, doc: Any) -> None:
    """Write JSON to ``path`` via a temp file in the same directory and ``os.replace``: all or nothing."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return json.load(f)
