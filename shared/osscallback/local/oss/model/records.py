"""What the store records: an object's, a multipart upload's and a part's metadata (the JSON files on disk), a
write that became visible, and the two ways a racing write shows up to a reader or a conditional commit."""

from __future__ import annotations

from dataclasses import dataclass, field


class ObjectReplaced(Exception):
    """The object a read looked up was overwritten or deleted before its bytes were opened: run the read again
    (OSS serves either version to a read that races a write; never a mix, never an error)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class ObjectMeta:
    key: str
    size: int
    etag: str  # without quotes: upper-case hex MD5, or "<hex>-<parts>" for multipart
    crc64: int
    content_type: str
    last_modified: float
    data_file: str
    object_type: str = "Normal"
    content_md5: str = ""  # base64, for single-request uploads
    user_meta: dict[str, str] = field(default_factory=dict)  # x-oss-meta-* (lower-case names)
    headers: dict[str, str] = field(default_factory=dict)  # Cache-Control, Content-Disposition, ...
    acl: str = "default"  # x-oss-object-acl: default (the bucket's), private, public-read, public-read-write
    tags: dict[str, str] = field(default_factory=dict)  # object tagging, in the order given
    symlink_target: str = ""  # for object_type "Symlink": the target key
    symlink_header: str = ""  # ... and x-oss-symlink-target as the client sent it (GetSymlink echoes it)


@dataclass(frozen=True)
class Committed:
    """A write that became visible: the new metadata and what it replaced (``None`` if the key was new)."""

    meta: ObjectMeta
    previous: ObjectMeta | None


@dataclass(frozen=True)
class UploadMeta:
    upload_id: str
    key: str
    initiated: float
    content_type: str
    user_meta: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    acl: str = "default"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PartMeta:
    number: int
    size: int
    etag: str
    md5_hex: str
    crc64: int
    last_modified: float
    data_file: str


class Conflict(Exception):
    """A conditional commit found the object changed since it was read."""
