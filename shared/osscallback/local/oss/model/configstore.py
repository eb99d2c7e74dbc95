"""Where stored bucket configurations live: ``<root>/buckets/<bucket>/config/<name>.doc``, one file each.

A configuration is kept as the bytes the client sent (OSS returns it as sent) and replaced atomically, so a reader
sees the old document or the new one. Documents keyed by an id (inventories) are named by the id's hash, the id
being inside the document. The directory goes with the bucket: DeleteBucket removes the bucket's whole directory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from osscallback.local.oss.model.files import key_hash


class BucketGone(Exception):
    """The bucket was deleted while its configuration was written."""


class ConfigStore:
    def __init__(self, buckets_dir: Path) -> None:
        self.buckets_dir = buckets_dir

    def _dir(self, bucket: str) -> Path:
        return self.buckets_dir / bucket / "config"

    def _path(self, bucket: str, name: str, key: str) -> Path:
        return self._dir(bucket) / (f"{name}.{key_hash(key)}.doc" if key else f"{name}.doc")

    def get(self, bucket: str, name: str, key: str = "") -> bytes | None:
        try:
            return self._path(bucket, name, key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, bucket: str, name: str, doc: bytes, key: str = "") -> None:
        directory = self._dir(bucket)
        try:
            directory.mkdir(exist_ok=True)  # no parents: a deleted bucket stays deleted
        except FileNotFoundError:
            raise BucketGone(bucket) from None
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".doc")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(doc)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path(bucket, name, key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def delete(self, bucket: str, name: str, key: str = "") -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(bucket, name, key).unlink()

    def keyed(self, bucket: str, name: str) -> list[bytes]:
        """Every keyed document stored under ``name`` (inventories), in no particular order."""
        found = []
        for path in self._dir(bucket).glob(f"{name}.*.doc"):
            with contextlib.suppress(FileNotFoundError):
                found.append(path.read_bytes())
        return found
