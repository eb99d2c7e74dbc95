"""OSS event notifications from the local OSS: the FC OSS-trigger document after every object-creating write.

Driven with the unmodified oss2 SDK (and a browser-style PostObject form). Each test checks what a sink sees —
eventName per operation, the committed object's key, size, deltaSize and eTag, and the request id the upload
answered with (which a callback's ``${reqId}`` also carried) — and that a slow or failing sink never delays or
breaks an upload.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import oss2
import pytest

from osscallback.local.oss import LocalOSS
from tests.support.oss import CallbackSpec, Receiver
from tests.support.oss_clients import post_fields_v4, post_form, v4_bucket


class Sink:
    """Records every event document; ``wait(n)`` blocks until ``n`` have arrived."""

    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, doc: dict[str, Any]) -> None:
        with self._cond:
            self.docs.append(doc)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def wait(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.docs) >= n, timeout), f"only {len(self.docs)} of {n} events"
            return [d["events"][0] for d in self.docs]


@pytest.fixture()
def sink() -> Sink:
    return Sink()


@pytest.fixture()
def oss_with_sink(tmp_path: Path, sink: Sink) -> Iterator[LocalOSS]:
    with LocalOSS(tmp_path / "oss", callback_timeout=3, on_object_created=sink) as oss:
        yield oss


def _bucket(oss: LocalOSS) -> oss2.Bucket:
    return v4_bucket(oss)


def test_put_object_event_is_fc_oss_trigger_format(oss_with_sink: LocalOSS, sink: Sink) -> None:
    bucket = _bucket(oss_with_sink)
    data = b"hello events"
    result = bucket.put_object("events/中文 key.txt", data)
    (event,) = sink.wait(1)
    assert set(sink.docs[0]) == {"events"} and len(sink.docs[0]["events"]) == 1
    assert set(event) == {
        "eventName", "eventSource", "eventTime", "eventVersion", "oss", "region", "requestParameters",
        "responseElements", "userIdentity",
    }
    assert event["eventName"] == "ObjectCreated:PutObject"
    assert event["eventSource"] == "acs:oss" and event["eventVersion"] == "1.0"
    assert event["region"] == oss_with_sink.region
    assert abs(datetime.strptime(event["eventTime"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() - time.time()) < 300
    assert event["responseElements"] == {"requestId": result.request_id}
    assert event["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
    oss_part = event["oss"]
    assert set(oss_part) == {"bucket", "object", "ossSchemaVersion", "ruleId"}
    assert oss_part["bucket"]["name"] == oss_with_sink.bucket
    owner = oss_part["bucket"]["ownerIdentity"]
    assert oss_part["bucket"]["arn"] == f"acs:oss:{oss_with_sink.region}:{owner}:{oss_with_sink.bucket}"
    assert event["userIdentity"] == {"principalId": owner}
    assert oss_part["object"] == {
        "deltaSize": len(data),
        "eTag": hashlib.md5(data).hexdigest().upper(),
        "key": "events/中文 key.txt",
        "objectMeta": {"mimeType": "text/plain"},  # FC 3.0's event format (tests/callback/golden/)
        "size": len(data),
    }
    assert oss_part["object"]["eTag"] == result.etag  # oss2 strips the quotes too: the same text
    # Overwriting: deltaSize is the change in size.
    bucket.put_object("events/中文 key.txt", b"x")
    assert sink.wait(2)[1]["oss"]["object"]["deltaSize"] == 1 - len(data)


def test_every_object_creating_operation_has_its_event_name(oss_with_sink: LocalOSS, sink: Sink) -> None:
    bucket = _bucket(oss_with_sink)
    bucket.put_object("src.txt", b"source")
    big = b"p" * (100 * 1024)
    upload_id = bucket.init_multipart_upload("mp.bin").upload_id
    parts = [oss2.models.PartInfo(n, bucket.upload_part("mp.bin", upload_id, n, big).etag) for n in (1, 2)]
    complete = bucket.complete_multipart_upload("mp.bin", upload_id, parts)
    copied = bucket.copy_object(bucket.bucket_name, "src.txt", "copy.txt")
    first = bucket.append_object("log.txt", 0, b"line 1\n")
    bucket.append_object("log.txt", first.next_position, b"line 2\n")
    bucket.put_symlink("src.txt", "link.txt")
    form = {"key": "form.txt", **post_fields_v4(oss_with_sink, [])}
    assert post_form(oss_with_sink, form, b"from a form").status_code == 204
    events = sink.wait(7)
    names = [(e["eventName"], e["oss"]["object"]["key"]) for e in events]
    assert names == [
        ("ObjectCreated:PutObject", "src.txt"),
        ("ObjectCreated:CompleteMultipartUpload", "mp.bin"),
        ("ObjectCreated:CopyObject", "copy.txt"),
        ("ObjectCreated:AppendObject", "log.txt"),
        ("ObjectCreated:AppendObject", "log.txt"),
        ("ObjectCreated:PutSymlink", "link.txt"),
        ("ObjectCreated:PostObject", "form.txt"),
    ]
    mp = events[1]["oss"]["object"]
    assert mp["eTag"] == complete.etag and mp["size"] == 2 * len(big)
    assert events[1]["responseElements"]["requestId"] == complete.request_id
    assert events[2]["oss"]["object"]["eTag"] == copied.etag
    assert [e["oss"]["object"]["deltaSize"] for e in events[3:5]] == [7, 7]
    assert events[4]["oss"]["object"]["size"] == 14


def test_event_request_id_is_the_upload_and_callback_request_id(
    oss_with_sink: LocalOSS, sink: Sink, receiver: Receiver
) -> None:
    spec = CallbackSpec(receiver.url, body="req=${reqId}&object=${object}")
    result = _bucket(oss_with_sink).put_object("cb.txt", b"with a callback", headers=spec.headers())
    assert result.status == 200
    (event,) = sink.wait(1)
    assert receiver.last.form["req"] == result.request_id == event["responseElements"]["requestId"]


def test_a_failing_sink_never_breaks_uploads(tmp_path: Path) -> None:
    calls: list[str] = []

    def broken(doc: dict[str, Any]) -> None:
        calls.append(doc["events"][0]["oss"]["object"]["key"])
        raise RuntimeError("the sink is broken")

    with LocalOSS(tmp_path / "oss", on_object_created=broken) as oss:
        bucket = _bucket(oss)
        for n in range(3):
            assert bucket.put_object(f"k{n}", b"v").status == 200
        deadline = time.monotonic() + 20
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert calls == ["k0", "k1", "k2"]  # the next event still came after each failure
        assert bucket.get_object("k2").read() == b"v"


def test_a_slow_sink_never_delays_the_upload_answer(tmp_path: Path) -> None:
    release = threading.Event()
    seen: list[dict[str, Any]] = []

    def slow(doc: dict[str, Any]) -> None:
        release.wait(30)
        seen.append(doc)

    with LocalOSS(tmp_path / "oss", on_object_created=slow) as oss:
        bucket = _bucket(oss)
        # The sink blocks until released; the uploads must still be answered meanwhile.
        results = [bucket.put_object(f"slow{n}", b"v") for n in range(3)]
        assert all(r.status == 200 for r in results) and not seen
        release.set()
        deadline = time.monotonic() + 20
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [d["events"][0]["oss"]["object"]["key"] for d in seen] == ["slow0", "slow1", "slow2"]


def test_sink_runs_after_commit_and_off_the_request_thread(tmp_path: Path) -> None:
    observed: list[tuple[bytes, str]] = []
    done = threading.Event()
    holder: dict[str, oss2.Bucket] = {}

    def check(doc: dict[str, Any]) -> None:  # reads the object back from inside the sink: it is committed
        key = doc["events"][0]["oss"]["object"]["key"]
        observed.append((holder["bucket"].get_object(key).read(), threading.current_thread().name))
        done.set()

    with LocalOSS(tmp_path / "oss", on_object_created=check) as oss:
        holder["bucket"] = _bucket(oss)
        holder["bucket"].put_object("committed.txt", b"visible")
        assert done.wait(20)
    assert observed == [(b"visible", "local-oss-events")]


def test_no_sink_no_thread(local_oss: LocalOSS) -> None:
    _bucket(local_oss).put_object("quiet.txt", b"v")
    assert not any(t.name == "local-oss-events" for t in threading.enumerate())
