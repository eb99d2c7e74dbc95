"""Exactly once, end to end on the local stack: the callback function on 2 instances behind one URL, the OSS-event
backstop fed by the local OSS's events through the local FC host's asynchronous invocation (with retries), and one
shared store (the oss:// markers in the local OSS by default, a real redis-server with ``--store``).

Every event's upload runs the action once, however it was delivered; the upload whose callback URL refuses
connections runs once, through the OSS event; replays of a callback spread over both instances run nothing
more; the markers the store writes are themselves objects, and trigger nothing; ``osscallback local --once
--json`` ends with the summary line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest

from osscallback.local.stack import LOCAL_MARKER_PREFIX, LocalStack
from osscallback.upload.templates import build_callback
from tests.support import ROOT
from tests.support.delivery import RedisServer
from tests.support.oss_clients import REGION

EVENTS = sorted((ROOT / "events").glob("upload-*.json"))
DOWN = ROOT / "events" / "upload-callback-down.json"
CLI = [sys.executable, "-m", "osscallback.cli"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(template=ROOT / "template.fc2.yml", data_dir=tmp_path_factory.mktemp("oss"),  # FC 2.0 names
                    log_sink=lambda fn, line: None, instances=2, inspector=False) as running:
        yield running


@pytest.fixture(scope="module")
def results(stack: LocalStack) -> dict[str, object]:
    return {p.name: stack.run_event(p) for p in EVENTS}


def test_the_callback_function_runs_on_two_instances(stack: LocalStack) -> None:
    workers = stack.fc.workers("callback")
    assert len(workers) == 2 and len({w.pid for w in workers}) == 2
    assert len(stack.fc.workers("oss-events")) == 1  # event functions: one instance


def test_every_upload_runs_its_action_exactly_once(stack: LocalStack, results: dict[str, object]) -> None:
    assert DOWN in EVENTS
    for result in results.values():
        assert result.ok, result  # type: ignore[attr-defined]
        assert result.action_runs == 1, result  # type: ignore[attr-defined]
    keys = [r.upload_key for r in results.values()]  # type: ignore[attr-defined]
    assert len(set(keys)) == len(EVENTS)
    assert {r.key for r in stack.deliveries.runs} == set(keys)


def test_a_refused_callback_is_delivered_by_the_oss_event(results: dict[str, object]) -> None:
    down = results[DOWN.name]
    assert down.callback_status == "failed"  # type: ignore[attr-defined]
    assert down.delivered_via == ["oss_event"]  # type: ignore[attr-defined]
    others = [r for n, r in results.items() if n != DOWN.name]
    # the others are delivered by their callback, or by the OSS event when it won the race (a callback whose
    # instance was slow): one run either way
    assert all(r.delivered_via in (["callback"], ["oss_event"]) for r in others)  # type: ignore[attr-defined]
    assert all(r.callback_status == "ok" for r in others if r.delivered_via == ["callback"])  # type: ignore[attr-defined]
    assert sum(r.delivered_via == ["callback"] for r in others) >= len(others) // 2  # type: ignore[attr-defined]


def test_events_of_delivered_uploads_are_duplicates_and_retried_never(stack: LocalStack,
                                                                    results: dict[str, object]) -> None:
    """Every upload under the trigger's prefix went to the event function too: as a duplicate, except the one
    whose callback failed, and no invocation needed a retry."""
    stack.settle()
    uploads = [inv for _, invs in stack.oss_events for inv in invs]
    assert len(uploads) >= len(EVENTS)
    assert all(inv.function == "oss-events" for inv in uploads)
    records = [stack.fc.async_invocation(inv.request_id) for inv in uploads]
    assert all(r is not None and r.ok for r in records), records
    # every upload whose callback was answered was delivered twice: one of the two was a duplicate
    answered = sum(r.callback_status == "ok" for r in results.values())  # type: ignore[attr-defined]
    assert stack.deliveries.duplicates >= answered


def test_markers_trigger_nothing(stack: LocalStack, results: dict[str, object]) -> None:
    """The store's markers are objects in the same bucket: the local OSS announces each one, and no trigger
    matches (the filter's prefix excludes them; the event function would skip them too)."""
    stack.settle()
    markers = [(doc, invs) for doc, invs in stack.oss_events
               if doc["events"][0]["oss"]["object"]["key"].startswith(LOCAL_MARKER_PREFIX)]
    assert len(markers) >= len(EVENTS)  # at least a claim and a completion per upload
    assert all(invs == [] for _, invs in markers)
    info = stack.info()
    bucket = oss2.Bucket(oss2.AuthV4(info.access_key_id, info.access_key_secret), info.oss_endpoint, info.bucket, region=REGION)
    stored = [o.key for o in oss2.ObjectIterator(bucket, prefix=LOCAL_MARKER_PREFIX)]
    assert len(stored) >= len(EVENTS)


def test_replays_over_both_instances_run_nothing_more(stack: LocalStack, results: dict[str, object]) -> None:
    """A real upload's signed callback, re-sent 8 times byte for byte (the local OSS's replay, which is what an
    attacker holding a captured callback can do): the two instances answer every replay from the shared store."""
    sender = stack.oss.callback_sender
    seen: list[object] = []
    sender.add_observer(seen.append)
    try:
        info = stack.info()
        bucket = oss2.Bucket(oss2.AuthV4(info.access_key_id, info.access_key_secret), info.oss_endpoint, info.bucket, region=REGION)
        spec = build_callback("form-basic", {"callback_url": info.callback_url})
        assert bucket.put_object("examples/replayed.txt", b"once", headers=spec.headers()).status == 200
        stack.settle()
        record = next(r for r in seen if getattr(r, "key", "") == "examples/replayed.txt")
        before, duplicates = len(stack.deliveries.runs), stack.deliveries.duplicates
        by_instance = dict(stack.deliveries.duplicates_by)
        replays = [sender.replay(record) for _ in range(8)]
        assert all(r.uploader_status == 200 for r in replays)
        stack.settle()
    finally:
        sender.remove_observer(seen.append)
    assert len(stack.deliveries.runs) == before
    assert stack.deliveries.duplicates >= duplicates + 8
    answered = {label for label, n in stack.deliveries.duplicates_by.items()
                if n > by_instance.get(label, 0) and label.startswith(("callback", "oss-callback-fc-callback"))}
    assert len(answered) == 2, stack.deliveries.duplicates_by  # both instances answered replays from the store


def test_a_redis_store(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    try:
        with LocalStack(data_dir=tmp_path / "oss", log_sink=lambda fn, line: None, instances=2, inspector=False,
                        store=redis.url) as stack:
            assert stack.info().idempotency_store == redis.url
            down, put = stack.run_event(DOWN), stack.run_event(ROOT / "events" / "upload-put.json")
            info = stack.info()
            bucket = oss2.Bucket(oss2.AuthV4(info.access_key_id, info.access_key_secret), info.oss_endpoint,
                                 info.bucket, region=REGION)
            assert not list(oss2.ObjectIterator(bucket, prefix=LOCAL_MARKER_PREFIX))  # the records are in Redis
    finally:
        redis.stop()
    assert down.ok and down.delivered_via == ["oss_event"], down
    assert put.ok and put.action_runs == 1 and put.callback_status == "ok", put


def test_local_once_json_ends_with_the_summary(tmp_path: Path) -> None:
    out = subprocess.run([*CLI, "local", "--once", "--json", "--quiet-functions", "--instances", "2", "--data-dir",
                          str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [json.loads(line) for line in out.stdout.strip().splitlines()]
    summary = lines[-1]
    assert list(summary) == ["summary"]
    assert list(summary["summary"]) == ["events", "ok", "actions_run", "via_callback", "via_oss_event",
                                        "duplicates_suppressed"]
    s = summary["summary"]
    assert s["events"] == s["ok"] == len(EVENTS) == len(lines) - 1
    assert s["actions_run"] == len(EVENTS) == s["via_callback"] + s["via_oss_event"]
    assert s["via_oss_event"] >= 1 and s["duplicates_suppressed"] >= len(EVENTS) - 1
    down = next(line for line in lines[:-1] if line["event"] == DOWN.name)
    assert down["ok"] and down["callback_status"] == "failed" and down["delivered_via"] == ["oss_event"]


def test_bad_store_and_instances_are_one_line_errors(tmp_path: Path) -> None:
    for args, text in ((["--store", "mysql://x"], "CALLBACK_IDEMPOTENCY_STORE"), (["--instances", "0"], "instances")):
        out = subprocess.run([*CLI, "local", "--once", "--data-dir", str(tmp_path), *args], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and text in out.stderr and out.stderr.strip().count("\n") == 0, out.stderr
