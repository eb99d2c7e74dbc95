"""The delivered index and reconciliation's checkpoints of the ``oss://`` store, as objects beside its markers.

An entry is ``<store prefix>delivered/<bucket>/<key>``: its body is the delivered upload's ETag, its
``x-oss-meta-source`` the path that delivered it. Reconciliation never reads an entry's body: a listing of the
index gives each entry's own ETag (the MD5 of the body) and Last-Modified (OSS's clock, like the object's), which is
all :meth:`DeliveredEntry.covers` needs. The entries sort as the objects do, so :class:`OssView` walks the index
once, beside the bucket's listing (a merge): a run over N objects costs about N/1000 list requests of each.

An object key too long to fit under the prefix (OSS names stop at 1,023 bytes) gets no entry; reconciliation then
cannot tell that it was delivered (docs/DELIVERY.md names the limit). The lifecycle rule on the store's prefix
(docs/DEPLOY.md) expires the entries with the markers.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterator
from typing import Any

import oss2

from osscallback.callback.idempotency.delivered import INDEX_DIR, STATE_DIR, DeliveredEntry, ListedObject, normalize
from osscallback.errors import StoreUnavailable

log = logging.getLogger("osscallback.idempotency")

MAX_NAME = 1023
#: Listing pages take longer than a marker's GET: their own timeout.
LIST_TIMEOUT = 10.0


def list_pages(bucket: oss2.Bucket, prefix: str, start_after: str = "") -> Iterator[list[Any]]:
    """ListObjectsV2 under ``prefix`` after ``start_after``, 1,000 a request: one page per request."""
    token = ""
    while True:
        result = bucket.list_objects_v2(prefix=prefix, start_after=start_after if not token else "",
                                        continuation_token=token, max_keys=1000)
        yield list(result.object_list)
        if not result.is_truncated:
            return
        token = result.next_continuation_token


class OssView:
    """The index of one bucket, walked in step with the bucket's listing."""

    def __init__(self, index: OssIndex, bucket: str, start_after: str) -> None:
        self.index = index
        self.prefix = f"{index.prefix}{bucket}/"
        self._pages = list_pages(index.lister, self.prefix, self.prefix + start_after if start_after else "")
        self._buffer: deque[tuple[str, DeliveredEntry]] = deque()
        self._done = False
        self.requests = 0

    def _more(self) -> bool:
        if self._done:
            return False
        try:
            page = next(self._pages, None)
        except oss2.exceptions.OssError as exc:
            raise self.index.layer._fail("listing the delivered index", exc) from None
        if page is None:
            self._done = True
            return False
        self.requests += 1
        cut = len(self.prefix)
        self._buffer.extend((info.key[cut:], DeliveredEntry(at=float(info.last_modified), digest=normalize(info.etag),
                                                           tolerance=0.0)) for info in page)
        if not page:
            self._done = True
        return bool(page)

    def lookup(self, page: list[ListedObject]) -> dict[str, DeliveredEntry]:
        if not page:
            return {}
        last = page[-1].key
        wanted = {o.key for o in page}
        out: dict[str, DeliveredEntry] = {}
        while True:
            while self._buffer and self._buffer[0][0] <= last:  # str order is UTF-8 byte order: OSS's
                key, entry = self._buffer.popleft()
                if key in wanted:
                    out[key] = entry
            if self._buffer or not self._more():
                return out


class OssIndex:
    """Entries and checkpoints under the ``oss://`` store's prefix, with the store's client and credentials."""

    def __init__(self, layer: Any) -> None:  # the OssMarkerLayer (which builds this; no import back: no cycle)
        self.layer = layer
        self.prefix = layer.prefix + INDEX_DIR
        self.state_prefix = layer.prefix + STATE_DIR
        self.lister = layer.oss_client.bucket(layer.endpoint, layer.bucket_name, layer.region, LIST_TIMEOUT)

    def _name(self, bucket: str, key: str) -> str | None:
        name = f"{self.prefix}{bucket}/{key}"
        return name if len(name.encode("utf-8")) <= MAX_NAME else None

    def put_delivered(self, bucket: str, key: str, etag: str, source: str) -> None:
        name = self._name(bucket, key)
        if name is None:
            log.warning(json.dumps({"warning": "NotIndexed", "object": key,
                                    "message": "the key is too long for the delivered index"}))
            return
        try:
            self.layer.bucket.put_object(name, normalize(etag).encode("ascii", "replace"),
                                         headers={"x-oss-meta-source": source, "Content-Type": "text/plain"})
        except oss2.exceptions.OssError as exc:
            raise self.layer._fail(f"writing index entry {name}", exc) from None

    def get_delivered(self, bucket: str, key: str) -> DeliveredEntry | None:
        name = self._name(bucket, key)
        if name is None:
            return None
        try:
            head = self.layer.bucket.head_object(name)
        except oss2.exceptions.NotFound:
            return None
        except oss2.exceptions.OssError as exc:
            raise self.layer._fail(f"reading index entry {name}", exc) from None
        return DeliveredEntry(at=float(head.last_modified), digest=normalize(head.etag), tolerance=0.0,
                              source=head.headers.get("x-oss-meta-source", ""))

    def delivered_view(self, bucket: str, start_after: str = "") -> OssView:
        return OssView(self, bucket, start_after)

    def load_state(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.layer.bucket.get_object(f"{self.state_prefix}{name}.json").read()))
        except oss2.exceptions.NoSuchKey:
            return None
        except oss2.exceptions.OssError as exc:
            raise self.layer._fail("reading the reconcile checkpoint", exc) from None
        except ValueError as exc:
            raise StoreUnavailable(f"{self.layer.description}: the reconcile checkpoint is corrupt ({exc})") from None

    def save_state(self, name: str, doc: dict[str, Any]) -> None:
        try:
            self.layer.bucket.put_object(f"{self.state_prefix}{name}.json", json.dumps(doc).encode("utf-8"),
                                         headers={"Content-Type": "application/json"})
        except oss2.exceptions.OssError as exc:
            raise self.layer._fail("writing the reconcile checkpoint", exc) from None


__all__ = ["OssIndex", "OssView", "list_pages"]
