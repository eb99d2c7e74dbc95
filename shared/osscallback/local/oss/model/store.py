"""The local OSS's on-disk store: buckets, objects and in-progress multipart uploads under one data directory.

Layout (all JSON is UTF-8)::

    <root>/tmp/                                   staging area for request bodies (same filesystem: rename works)
    <root>/buckets/<bucket>/bucket.json           bucket record (name, creation time, ACL)
    <root>/buckets/<bucket>/objects/<h>.json      object metadata (type, digests, headers, ACL, tags, symlink target);
                                                  h = sha256(key); names the data file
    <root>/buckets/<bucket>/objects/<h>.<id>.data object bytes (a new file per write)
    <root>/buckets/<bucket>/uploads/<upload id>/upload.json, <n>.json, <n>.<id>.data   multipart parts

Why this shape: every write lands in a fresh data file first and only then does an atomic ``os.replace`` of the
small metadata file make it visible, so a server killed at any instant leaves either the old object or the new
one, never a torn one; orphaned data files are swept at start-up. Appends are the one in-place write: the bytes go
past the recorded size first and the metadata moves forward after, so readers (who never read past the recorded
size) see the old object or the new one, and a torn tail is cut off by the next append. Metadata-only changes
(ACL, tags) rewrite the metadata file alone, atomically. Keys are hashed into file names so any
1023-byte UTF-8 key (slashes, ``..``, emoji) is safe on every filesystem. An in-memory index of metadata (an
explicit cache, rebuilt from disk on start) serves listings without rescanning.

The records (:mod:`.records`) and the file primitives (:mod:`.files`) live beside this module; the names callers
import from here are re-exported.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, BinaryIO

from osscallback.local.oss.crc64 import Crc64
from osscallback.local.oss.model.files import (
    StagedFile,
    Stager,
    key_hash,
    new_id,
    new_upload_id,
    read_json,
    write_json_atomic,
)
from osscallback.local.oss.model.records import (
    Committed,
    Conflict,
    ObjectMeta,
    ObjectReplaced,
    PartMeta,
    UploadMeta,
)

__all__ = [
    "Committed", "Conflict", "ObjectMeta", "ObjectReplaced", "PartMeta", "StagedFile", "Stager", "Store",
    "UploadMeta", "write_json_atomic",
]

log = logging.getLogger("osscallback.local.oss.storage")

_CHUNK = 1024 * 1024


class Store:
    """Buckets, objects and multipart uploads on disk; safe for concurrent use by the server's threads."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.buckets_dir = self.root / "buckets"
        self._lock = threading.RLock()
        self._append_lock = threading.Lock()  # appends write in place: one at a time, outside the main lock
        self._buckets: dict[str, float] = {}
        self._bucket_acls: dict[str, str] = {}
        self._objects: dict[str, dict[str, ObjectMeta]] = {}
        self._sorted: dict[str, list[str]] = {}  # explicit cache: each bucket's keys in order, until one comes or goes
        self._load()

    # --- start-up ------------------------------------------------------------------------------------------------

    def _load(self) -> None:
        self.buckets_dir.mkdir(parents=True, exist_ok=True)
        if self.tmp_dir.exists():  # bodies of requests that never finished
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        for bucket_dir in sorted(p for p in self.buckets_dir.iterdir() if p.is_dir()):
            try:
                record = read_json(bucket_dir / "bucket.json")
            except (OSError, ValueError):
                log.warning("ignoring %s: no readable bucket.json", bucket_dir)
                continue
            name = bucket_dir.name
            self._buckets[name] = float(record.get("created", 0))
            self._bucket_acls[name] = str(record.get("acl", "private"))
            self._objects[name] = self._load_objects(bucket_dir / "objects")
            self._sweep_uploads(bucket_dir / "uploads")

    def _load_objects(self, objects_dir: Path) -> dict[str, ObjectMeta]:
        objects: dict[str, ObjectMeta] = {}
        objects_dir.mkdir(parents=True, exist_ok=True)
        referenced: set[str] = set()
        for meta_path in objects_dir.glob("*.json"):
            try:
                meta = ObjectMeta(**read_json(meta_path))
            except (OSError, ValueError, TypeError):
                log.warning("ignoring unreadable object metadata %s", meta_path)
                continue
            if not (objects_dir / meta.data_file).is_file():
                log.warning("object %r lost its data file; dropping it", meta.key)
                continue
            objects[meta.key] = meta
            referenced.add(meta.data_file)
        for stale in objects_dir.iterdir():  # data files of writes that never became visible, temp files
            if (stale.suffix != ".json" and stale.name not in referenced) or stale.name.startswith(".tmp-"):
                with contextlib.suppress(OSError):
                    stale.unlink()
        return objects

    def _sweep_uploads(self, uploads_dir: Path) -> None:
        uploads_dir.mkdir(parents=True, exist_ok=True)
        for upload_dir in uploads_dir.iterdir():
            referenced = set()
            for part_json in upload_dir.glob("[0-9]*.json"):
                with contextlib.suppress(OSError, ValueError, TypeError):
                    referenced.add(PartMeta(**read_json(part_json)).data_file)
            for f in upload_dir.iterdir():
                if (f.suffix == ".data" and f.name not in referenced) or f.name.startswith(".tmp-"):
                    with contextlib.suppress(OSError):
                        f.unlink()

    # --- staging -------------------------------------------------------------------------------------------------

    def stager(self) -> Stager:
        return Stager(self.tmp_dir)

    @contextlib.contextmanager
    def staged_bytes(self, data: bytes) -> Iterator[StagedFile]:
        stager = self.stager()
        try:
            stager.write(data)
            staged = stager.finish()
            yield staged
        finally:
            stager.discard()

    # --- buckets -------------------------------------------------------------------------------------------------

    def _bucket_dir(self, bucket: str) -> Path:
        return self.buckets_dir / bucket

    def create_bucket(self, bucket: str, acl: str = "private") -> bool:
        """Create a bucket; ``False`` if it already existed."""
        with self._lock:
            if bucket in self._buckets:
                return False
            d = self._bucket_dir(bucket)
            (d / "objects").mkdir(parents=True, exist_ok=True)
            (d / "uploads").mkdir(parents=True, exist_ok=True)
            created = time.time()
            write_json_atomic(d / "bucket.json", {"name": bucket, "created": created, "acl": acl})
            self._buckets[bucket] = created
            self._bucket_acls[bucket] = acl
            self._objects[bucket] = {}
            self._sorted.pop(bucket, None)
            return True

    def bucket_acl(self, bucket: str) -> str:
        with self._lock:
            return self._bucket_acls.get(bucket, "private")

    def set_bucket_acl(self, bucket: str, acl: str) -> None:
        with self._lock:
            if bucket not in self._buckets:
                raise FileNotFoundError(bucket)
            record = {"name": bucket, "created": self._buckets[bucket], "acl": acl}
            write_json_atomic(self._bucket_dir(bucket) / "bucket.json", record)
            self._bucket_acls[bucket] = acl

    def bucket_created(self, bucket: str) -> float:
        with self._lock:
            return self._buckets.get(bucket, 0.0)

    def bucket_exists(self, bucket: str) -> bool:
        with self._lock:
            return bucket in self._buckets

    def list_buckets(self) -> list[tuple[str, float]]:
        with self._lock:
            return sorted(self._buckets.items())

    def delete_bucket(self, bucket: str) -> None:
        with self._lock:
            shutil.rmtree(self._bucket_dir(bucket), ignore_errors=True)
            self._buckets.pop(bucket, None)
            self._bucket_acls.pop(bucket, None)
            self._objects.pop(bucket, None)
            self._sorted.pop(bucket, None)

    def bucket_is_empty(self, bucket: str) -> bool:
        with self._lock:
            return not self._objects.get(bucket)

    # --- objects -------------------------------------------------------------------------------------------------

    def put_object(
        self,
        bucket: str,
        key: str,
        staged: StagedFile,
        *,
        content_type: str,
        user_meta: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        object_type: str = "Normal",
        etag: str | None = None,
        content_md5: str | None = None,
        acl: str = "default",
        tags: dict[str, str] | None = None,
        symlink_target: str = "",
        symlink_header: str = "",
        crc64: int | None = None,
        expect: str | None = None,
    ) -> Committed:
        """Make ``staged`` the object's data, atomically; the staged file is moved, not copied.

        ``expect``: commit only if the object's current data file is this one ("" = the key must not exist);
        otherwise raise :class:`Conflict` (an append or copy raced with another write).
        """
        objects_dir = self._bucket_dir(bucket) / "objects"
        h = key_hash(key)
        data_file = f"{h}.{new_id()}.data"
        meta = ObjectMeta(
            key=key,
            size=staged.size,
            etag=etag or staged.md5_hex,
            crc64=staged.crc64 if crc64 is None else crc64,
            content_type=content_type,
            last_modified=time.time(),
            data_file=data_file,
            object_type=object_type,
            content_md5=staged.md5_b64 if content_md5 is None else content_md5,
            user_meta=dict(user_meta or {}),
            headers=dict(headers or {}),
            acl=acl,
            tags=dict(tags or {}),
            symlink_target=symlink_target,
            symlink_header=symlink_header,
        )
        os.replace(staged.path, objects_dir / data_file)
        with self._lock:
            if bucket not in self._buckets:
                with contextlib.suppress(OSError):
                    (objects_dir / data_file).unlink()
                raise FileNotFoundError(f"bucket {bucket} was deleted")
            old = self._objects[bucket].get(key)
            if old is None:
                self._sorted.pop(bucket, None)
            if expect is not None and (old.data_file if old is not None else "") != expect:
                with contextlib.suppress(OSError):
                    (objects_dir / data_file).unlink()
                raise Conflict(key)
            write_json_atomic(objects_dir / f"{h}.json", asdict(meta))
            self._objects[bucket][key] = meta
        if old is not None:
            with contextlib.suppress(OSError):
                (objects_dir / old.data_file).unlink()
        return Committed(meta, old)

    def update_object(self, bucket: str, key: str, **changes: Any) -> ObjectMeta | None:
        """Change an object's metadata only (ACL, tags), atomically; ``None`` if there is no such object."""
        objects_dir = self._bucket_dir(bucket) / "objects"
        with self._lock:
            old = self._objects.get(bucket, {}).get(key)
            if old is None:
                return None
            meta = replace(old, **changes)
            write_json_atomic(objects_dir / f"{key_hash(key)}.json", asdict(meta))
            self._objects[bucket][key] = meta
            return meta

    def copy_to_stage(self, data: BinaryIO, size: int, start: int = 0, length: int | None = None) -> StagedFile:
        """A staged copy of (a byte range of) an object's bytes, opened with :meth:`open_current`, with its digests
        (for copies). ``data`` is closed."""
        with data as f:
            stager = self.stager()
            try:
                left = size - start if length is None else length
                f.seek(start)
                while left > 0 and (chunk := f.read(min(_CHUNK, left))):
                    stager.write(chunk)
                    left -= len(chunk)
                return stager.finish()
            except BaseException:
                stager.discard()
                raise

    def append(self, bucket: str, key: str, position: int, staged: StagedFile) -> Committed:
        """Append ``staged`` to an Appendable object whose size is ``position``.

        The bytes go to the end of the object's data file and only then does the metadata (size, CRC-64, ETag)
        move forward, atomically; readers never look past the recorded size, so a crash mid-append leaves the
        old object, and the next append first cuts off any torn tail. Raises :class:`Conflict` if the object
        is not at ``position`` any more (a concurrent append or overwrite), ``FileNotFoundError`` if it is gone.
        """
        objects_dir = self._bucket_dir(bucket) / "objects"
        with self._append_lock:
            old = self.get_object(bucket, key)
            if old is None:
                raise FileNotFoundError(key)
            if old.size != position:
                raise Conflict(key)
            with (objects_dir / old.data_file).open("r+b") as out, staged.path.open("rb") as src:
                out.truncate(old.size)
                out.seek(old.size)
                shutil.copyfileobj(src, out, _CHUNK)
                out.flush()
                os.fsync(out.fileno())
            crc = Crc64().combine(old.crc64, staged.crc64, staged.size)
            etag = hashlib.md5(f"{old.etag}{staged.md5_hex}".encode()).hexdigest().upper()  # noqa: S324
            meta = replace(
                old, size=old.size + staged.size, crc64=crc, etag=etag, content_md5="", last_modified=time.time()
            )
            with self._lock:
                current = self._objects.get(bucket, {}).get(key)
                if current is None or current.data_file != old.data_file or current.size != old.size:
                    raise Conflict(key)
                write_json_atomic(objects_dir / f"{key_hash(key)}.json", asdict(meta))
                self._objects[bucket][key] = meta
            return Committed(meta, old)

    def get_object(self, bucket: str, key: str) -> ObjectMeta | None:
        with self._lock:
            return self._objects.get(bucket, {}).get(key)

    def open_object(self, bucket: str, meta: ObjectMeta) -> BinaryIO:
        return (self._bucket_dir(bucket) / "objects" / meta.data_file).open("rb")

    def open_current(self, bucket: str, key: str) -> tuple[ObjectMeta, BinaryIO]:
        """The key's object as it is now and its bytes, opened together; :class:`ObjectReplaced` if it is gone.

        A writer swaps the metadata under the lock and unlinks the replaced data file after it, so a reader that
        looked an object up and opened its data file later could find it unlinked (the answer's headers sent, its
        body never). Taking the metadata and opening its file in one step under the lock closes that gap: the open
        handle keeps those bytes readable (POSIX) however the key is overwritten or deleted the next moment.
        """
        with self._lock:
            meta = self._objects.get(bucket, {}).get(key)
            if meta is None:
                raise ObjectReplaced(key)
            return meta, (self._bucket_dir(bucket) / "objects" / meta.data_file).open("rb")

    def object_path(self, bucket: str, meta: ObjectMeta) -> Path:
        return self._bucket_dir(bucket) / "objects" / meta.data_file

    def delete_object(self, bucket: str, key: str) -> bool:
        objects_dir = self._bucket_dir(bucket) / "objects"
        with self._lock:
            meta = self._objects.get(bucket, {}).pop(key, None)
            self._sorted.pop(bucket, None)
            if meta is None:
                return False
            with contextlib.suppress(OSError):
                (objects_dir / f"{key_hash(key)}.json").unlink()
        with contextlib.suppress(OSError):
            (objects_dir / meta.data_file).unlink()
        return True

    def objects_from(self, bucket: str, start: str = "") -> Iterator[ObjectMeta]:
        """The bucket's objects in key order from ``start`` on: a page of a listing costs its own length, not the
        bucket's (the sorted keys are kept until a key is added or removed)."""
        with self._lock:
            keys = self._sorted.get(bucket)
            if keys is None:
                keys = self._sorted[bucket] = sorted(self._objects.get(bucket, {}))
            objects = self._objects.get(bucket, {})
        for i in range(bisect.bisect_left(keys, start), len(keys)):
            meta = objects.get(keys[i])
            if meta is not None:
                yield meta

    def sorted_objects(self, bucket: str) -> list[ObjectMeta]:
        with self._lock:
            return [m for _, m in sorted(self._objects.get(bucket, {}).items())]

    # --- multipart -----------------------------------------------------------------------------------------------

    def _upload_dir(self, bucket: str, upload_id: str) -> Path:
        return self._bucket_dir(bucket) / "uploads" / upload_id

    def init_upload(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str,
        user_meta: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        acl: str = "default",
        tags: dict[str, str] | None = None,
    ) -> UploadMeta:
        upload = UploadMeta(
            new_upload_id(),
            key,
            time.time(),
            content_type,
            dict(user_meta or {}),
            dict(headers or {}),
            acl,
            dict(tags or {}),
        )
        d = self._upload_dir(bucket, upload.upload_id)
        d.mkdir(parents=True)
        write_json_atomic(d / "upload.json", asdict(upload))
        return upload

    def get_upload(self, bucket: str, upload_id: str) -> UploadMeta | None:
        if not upload_id or not all(c in "0123456789ABCDEF" for c in upload_id):
            return None
        try:
            return UploadMeta(**read_json(self._upload_dir(bucket, upload_id) / "upload.json"))
        except (OSError, ValueError, TypeError):
            return None

    def list_uploads(self, bucket: str) -> list[UploadMeta]:
        uploads = []
        for d in (self._bucket_dir(bucket) / "uploads").glob("*"):
            upload = self.get_upload(bucket, d.name)
            if upload is not None:
                uploads.append(upload)
        return sorted(uploads, key=lambda u: (u.key, u.upload_id))  # OSS's order: key, then upload ID

    def put_part(self, bucket: str, upload_id: str, number: int, staged: StagedFile) -> PartMeta:
        d = self._upload_dir(bucket, upload_id)
        part = PartMeta(
            number=number,
            size=staged.size,
            etag=staged.md5_hex,
            md5_hex=staged.md5_hex,
            crc64=staged.crc64,
            last_modified=time.time(),
            data_file=f"{number}.{new_id()}.data",
        )
        os.replace(staged.path, d / part.data_file)
        with self._lock:
            old = self._read_part(d, number)
            write_json_atomic(d / f"{number}.json", asdict(part))
        if old is not None and old.data_file != part.data_file:
            with contextlib.suppress(OSError):
                (d / old.data_file).unlink()
        return part

    @staticmethod
    def _read_part(d: Path, number: int) -> PartMeta | None:
        try:
            return PartMeta(**read_json(d / f"{number}.json"))
        except (OSError, ValueError, TypeError):
            return None

    def list_parts(self, bucket: str, upload_id: str) -> list[PartMeta]:
        d = self._upload_dir(bucket, upload_id)
        parts = []
        for f in d.glob("[0-9]*.json"):
            part = self._read_part(d, int(f.stem))
            if part is not None:
                parts.append(part)
        return sorted(parts, key=lambda p: p.number)

    def part_path(self, bucket: str, upload_id: str, part: PartMeta) -> Path:
        return self._upload_dir(bucket, upload_id) / part.data_file

    def assemble(self, bucket: str, upload_id: str, parts: list[PartMeta]) -> StagedFile:
        """Concatenate ``parts`` into a staged file (streamed, bounded memory)."""
        stager = self.stager()
        try:
            for part in parts:
                with self.part_path(bucket, upload_id, part).open("rb") as f:
                    while chunk := f.read(_CHUNK):
                        stager.write(chunk)
            return stager.finish()
        except BaseException:
            stager.discard()
            raise

    def drop_upload(self, bucket: str, upload_id: str) -> None:
        shutil.rmtree(self._upload_dir(bucket, upload_id), ignore_errors=True)
