"""The delivered index: which stored objects' uploads already reached the action, readable without OSS request ids.

The dedupe key (:func:`~osscallback.callback.actions.upload_key`) includes the upload's OSS request id, which a
bucket listing never shows. Reconciliation (:mod:`osscallback.callback.reconcile`) therefore needs a second view of
the same facts, keyed by what a listing *does* show: bucket, object key, ETag and Last-Modified. Every path that
completes an action (callback, OSS event, reconcile) writes one entry for the object, in the same store as the
records, right after the record:

- ``oss://`` store: an object ``<store prefix>delivered/<bucket>/<key>`` whose body is the upload's ETag and whose
  ``x-oss-meta-source`` is the path. A listing of that prefix returns, per entry, its own ETag (the MD5 of the
  body, so of the upload's ETag) and its Last-Modified, on OSS's clock: the entry covers the listed object when the
  digests match and the entry is not older than the object. The entries sort exactly as the objects do (one
  constant prefix), so a run lists both side by side and merges them: no per-object request;
- Redis: a key per object holding ``{etag, at, source}``; a run asks for a page's 1,000 keys in one pipeline;
- memory: a dict (one process: tests, and ``osscallback serve``).

Why ETag *and* time: the same bytes uploaded again have the same ETag but are another upload, with a newer
Last-Modified; an entry written before that upload was stored does not cover it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

#: Below the store prefix: the index's sub-prefix (oss://) and the checkpoints' (all stores).
INDEX_DIR = "delivered/"
STATE_DIR = "reconcile/"
#: Redis and memory entries carry the delivering instance's clock, compared with OSS's Last-Modified (whole
#: seconds): this much skew between FC's and OSS's clocks is tolerated.
CLOCK_TOLERANCE = 1.0
#: How long an entry is kept unless the factory says otherwise: the records' default TTL.
DEFAULT_INDEX_TTL = 7 * 86400.0


def normalize(etag: str) -> str:
    """One spelling of an ETag: unquoted, upper case (OSS's ``${etag}`` and its ``ETag`` header differ)."""
    return etag.strip().strip('"').upper()


def etag_digest(etag: str) -> str:
    """What OSS reports as the ETag of an ``oss://`` index entry, whose body is the upload's normalized ETag."""
    return hashlib.md5(normalize(etag).encode("ascii", "replace")).hexdigest().upper()  # noqa: S324 - OSS's ETag


@dataclass(frozen=True)
class ListedObject:
    """One object as a listing shows it: no request id, but enough to tell one upload of a key from the next."""

    key: str
    etag: str
    last_modified: float  # epoch seconds (OSS: whole seconds)
    size: int = 0


@dataclass(frozen=True)
class DeliveredEntry:
    """One object's entry: the delivered upload's ETag (or, in OSS, its digest), when, and by which path."""

    at: float
    etag: str = ""
    digest: str = ""
    source: str = ""
    tolerance: float = CLOCK_TOLERANCE  # 0 for oss:// entries: their time is OSS's own clock

    def matches(self, etag: str) -> bool:
        return normalize(etag) == normalize(self.etag) if self.etag else etag_digest(etag) == self.digest

    def covers(self, obj: ListedObject) -> bool:
        """Whether this entry records the upload that stored ``obj`` (or a later delivery of it)."""
        return self.matches(obj.etag) and self.at + self.tolerance >= obj.last_modified

    def to_doc(self) -> dict[str, Any]:
        return {"etag": self.etag, "at": self.at, "source": self.source}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> DeliveredEntry:
        return cls(at=float(doc.get("at") or 0), etag=str(doc.get("etag") or ""), source=str(doc.get("source") or ""))


class DeliveredView(Protocol):
    """The index of one bucket, read page by page in listing order (a merge for OSS, a pipeline for Redis)."""

    requests: int  # index requests made so far (list pages, pipelines)

    def lookup(self, page: list[ListedObject]) -> dict[str, DeliveredEntry]: ...


class DeliveredIndex(Protocol):
    """What a store layer offers reconciliation and the delivery paths; every method may raise StoreUnavailable."""

    def put_delivered(self, bucket: str, key: str, etag: str, source: str) -> None: ...

    def get_delivered(self, bucket: str, key: str) -> DeliveredEntry | None: ...

    def delivered_view(self, bucket: str, start_after: str = "") -> DeliveredView: ...

    def load_state(self, name: str) -> dict[str, Any] | None: ...

    def save_state(self, name: str, doc: dict[str, Any]) -> None: ...


class DictView:
    """A view over a mapping lookup (memory), one "request" per page as Redis' pipeline."""

    def __init__(self, fetch: Any) -> None:
        self._fetch = fetch
        self.requests = 0

    def lookup(self, page: list[ListedObject]) -> dict[str, DeliveredEntry]:
        self.requests += 1
        return self._fetch([o.key for o in page])


class MemoryIndex:
    """The memory store's index and checkpoints: one process's dicts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], DeliveredEntry] = {}
        self._states: dict[str, dict[str, Any]] = {}

    def put_delivered(self, bucket: str, key: str, etag: str, source: str) -> None:
        with self._lock:
            self._entries[(bucket, key)] = DeliveredEntry(at=time.time(), etag=normalize(etag), source=source)

    def get_delivered(self, bucket: str, key: str) -> DeliveredEntry | None:
        with self._lock:
            return self._entries.get((bucket, key))

    def _many(self, bucket: str, keys: Iterable[str]) -> dict[str, DeliveredEntry]:
        with self._lock:
            return {k: e for k in keys if (e := self._entries.get((bucket, k))) is not None}

    def delivered_view(self, bucket: str, start_after: str = "") -> DeliveredView:
        return DictView(lambda keys: self._many(bucket, keys))

    def load_state(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._states.get(name)
            return dict(found) if found is not None else None

    def save_state(self, name: str, doc: dict[str, Any]) -> None:
        with self._lock:
            self._states[name] = dict(doc)


__all__ = ["CLOCK_TOLERANCE", "DEFAULT_INDEX_TTL", "DeliveredEntry", "DeliveredIndex", "DeliveredView", "DictView",
           "INDEX_DIR", "ListedObject", "MemoryIndex", "STATE_DIR", "etag_digest", "normalize"]
