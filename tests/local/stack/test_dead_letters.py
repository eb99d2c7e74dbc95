"""No upload lost when every retry fails (issue 23): the backstop's retries, its on-failure destination (the
dead-letters function writing to the local OSS), and ``osscallback redeliver``, end to end on the local stack with a
real ``redis-server`` as the store, two callback instances, and real worker processes.

Durations stay small by configuration, never by sleeping: the local FC host's retry back-off starts at 0.02 s
(``LocalStack(async_backoff=)``; FC's 0.5 s in the templates), so the template's 8 retries span 5.1 s, and the claim
TTL is 2 s (60 s deployed): the same ratio that docs/DEPLOY.md derives, retries outlasting a dead run's claim.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest

from osscallback.callback.deadletter import DeadLetter
from osscallback.deploy.asyncconfig import BackstopPolicy
from osscallback.local.stack import LocalStack
from osscallback.local.wiring import LOCAL_DEAD_LETTER_PREFIX
from osscallback.upload.templates import build_callback
from tests.support import ROOT
from tests.support.delivery import FIXTURES, RedisServer, runs
from tests.support.oss_clients import REGION

BACKOFF = 0.02
CLAIM_TTL = 2.0
CLI = [sys.executable, "-m", "osscallback.cli"]


@pytest.fixture()
def make_stack(tmp_path: Path, redis: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., LocalStack]]:
    """A local stack (template.fc2.yml unless told; the FC 3.0 test passes template.yml) over the Redis store, the
    counting action, short retries and claim TTL."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(FIXTURES), os.environ.get("PYTHONPATH")) if p))
    started: list[LocalStack] = []

    def make(template: Path | None = None, **env: str) -> LocalStack:
        stack = LocalStack(template=template or ROOT / "template.fc2.yml", data_dir=tmp_path / "oss",
                           log_sink=lambda fn, line: None, instances=2, inspector=False, store=redis.url, async_backoff=BACKOFF, env={
                               "CALLBACK_ACTION": "counting_action:record",
                               "COUNTING_ACTION_LOG": str(tmp_path / "runs.jsonl"),
                               "COUNTING_ACTION_STARTED": str(tmp_path / "started.jsonl"),
                               "CALLBACK_IDEMPOTENCY_CLAIM_TTL": str(CLAIM_TTL),
                               "CALLBACK_IDEMPOTENCY_WAIT": "0.2",
                               **env,
                           })
        started.append(stack.start())
        return stack

    yield make
    for stack in started:
        stack.stop()


def _bucket(stack: LocalStack) -> oss2.Bucket:
    info = stack.info()
    return oss2.Bucket(oss2.AuthV4(info.access_key_id, info.access_key_secret), info.oss_endpoint, info.bucket, region=REGION)


def _upload(stack: LocalStack, key: str, body: bytes = b"payload") -> Any:
    """A real upload with the shipped form-basic callback to the stack's callback function: callback and event."""
    spec = build_callback("form-basic", {"callback_url": stack.info().callback_url})
    return _bucket(stack).put_object(key, body, headers=spec.headers())


def _dead_letters(stack: LocalStack) -> list[DeadLetter]:
    bucket = _bucket(stack)
    return [DeadLetter.from_json(bucket.get_object(o.key).read())
            for o in oss2.ObjectIteratorV2(bucket, prefix=LOCAL_DEAD_LETTER_PREFIX)]


def _redeliver(stack: LocalStack, *extra: str) -> tuple[int, dict[str, Any]]:
    """``osscallback redeliver --endpoint`` as a user runs it against the running stack, as docs/DELIVERY.md shows
    it: no OSS_BUCKET or FC_REGION exported (the stack says where its dead-letter function writes; issue 29)."""
    info = stack.info()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OSS_", "FC_", "ALIBABA_CLOUD_"))}
    env = {**clean, "FC_ACCESS_KEY_ID": info.fc_access_key_id, "FC_ACCESS_KEY_SECRET": info.fc_access_key_secret,
           "FC_SECURITY_TOKEN": info.fc_security_token, "OSS_ACCESS_KEY_ID": info.access_key_id,
           "OSS_ACCESS_KEY_SECRET": info.access_key_secret}
    proc = subprocess.run([*CLI, "redeliver", "--endpoint", info.fc_endpoint, "--oss-endpoint", info.oss_endpoint,
                           "--json", "--template", str(stack.template), *extra], env=env, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_the_retries_outlast_the_claim_in_this_configuration() -> None:
    """The template's 8 retries at this back-off wait longer than the claim TTL: what DEPLOY.md derives for 60 s."""
    assert BackstopPolicy.waits(8, BACKOFF) > CLAIM_TTL


def test_a_store_down_longer_than_the_retries_dead_letters_then_redeliver_runs_once(
        make_stack: Callable[..., LocalStack], redis: RedisServer, tmp_path: Path) -> None:
    stack = make_stack()
    redis.stop()
    first = _upload(stack, "examples/outage-1.txt")
    second = _upload(stack, "examples/outage-2.txt")
    assert first.status == second.status == 203  # the callbacks answered 503: OSS's CallbackFailed
    stack.settle(timeout=60)
    assert runs(tmp_path / "runs.jsonl") == []  # never without a claim
    letters = sorted(_dead_letters(stack), key=lambda d: d.uploads[0][1])
    assert [d.uploads for d in letters] == [[("examplebucket", "examples/outage-1.txt")],
                                             [("examplebucket", "examples/outage-2.txt")]]
    for letter in letters:
        assert letter.attempts == 9  # the first attempt and the template's 8 retries
        assert "idempotency store unavailable" in letter.reason
        assert letter.condition == "UnhandledInvocationError"
        assert letter.function_arn.endswith(":services/oss-callback-fc/functions/oss-events")
    backstop = [r for r in stack.fc.async_invocations() if r.function == "oss-events"]
    assert sum(r.status == "failed" for r in backstop) == 2

    redis.restart()
    status, dry = _redeliver(stack, "--dry-run")
    assert status == 0 and dry["summary"]["would_redeliver"] == 2 and len(_dead_letters(stack)) == 2
    status, report = _redeliver(stack, "--prefix", "2")  # names start with the failure's UTC year
    assert status == 0, report
    assert report["summary"] == {"dead_letters": 2, "delivered": 2, "ran": 2, "already_delivered": 0, "failed": 0,
                                 "invalid": 0, "would_redeliver": 0, "dry_run": False}
    done = runs(tmp_path / "runs.jsonl")
    assert sorted(r["object"] for r in done) == ["examples/outage-1.txt", "examples/outage-2.txt"]
    assert {r["source"] for r in done} == {"oss_event"}
    assert _dead_letters(stack) == []
    status, again = _redeliver(stack)
    assert status == 0 and again["summary"]["dead_letters"] == 0
    assert len(runs(tmp_path / "runs.jsonl")) == 2


def test_an_upload_delivered_meanwhile_does_not_run_twice(make_stack: Callable[..., LocalStack], redis: RedisServer,
                                                         tmp_path: Path) -> None:
    stack = make_stack()
    seen: list[Any] = []
    stack.oss.callback_sender.add_observer(seen.append)
    redis.stop()
    _upload(stack, "examples/late.txt")
    stack.settle(timeout=60)
    assert len(_dead_letters(stack)) == 1 and runs(tmp_path / "runs.jsonl") == []
    redis.restart()
    record = next(r for r in seen if getattr(r, "key", "") == "examples/late.txt")
    assert stack.oss.callback_sender.replay(record).uploader_status == 200  # the callback, delivered late
    stack.settle()
    status, report = _redeliver(stack)
    assert status == 0
    (event,) = report["events"]
    assert event["outcome"] == "delivered" and [r["outcome"] for r in event["records"]] == ["duplicate"]
    (run,) = runs(tmp_path / "runs.jsonl")
    assert run["source"] == "callback"
    assert _dead_letters(stack) == []


def test_an_action_that_always_fails_is_dead_lettered_with_its_error(make_stack: Callable[..., LocalStack],
                                                                    tmp_path: Path) -> None:
    stack = make_stack(COUNTING_ACTION_FAIL="1")
    _upload(stack, "examples/broken.txt")
    stack.settle(timeout=60)
    (letter,) = _dead_letters(stack)
    assert "the action failed: ConnectionError" in letter.reason
    assert letter.attempts == 9 and letter.uploads == [("examplebucket", "examples/broken.txt")]
    assert json.loads(letter.payload)["events"][0]["oss"]["object"]["key"] == "examples/broken.txt"
    status, report = _redeliver(stack)  # still failing: reported, and the dead letter stays
    assert status == 1 and report["summary"]["failed"] == 1
    assert "ConnectionError" in report["events"][0]["detail"]
    assert len(_dead_letters(stack)) == 1 and runs(tmp_path / "runs.jsonl") == []


def test_a_callback_instance_killed_mid_action_completes_once_after_the_claim_lapses(
        make_stack: Callable[..., LocalStack], tmp_path: Path) -> None:
    stack = make_stack(COUNTING_ACTION_DELAY="60", COUNTING_ACTION_DELAY_SOURCE="callback")
    started = tmp_path / "started.jsonl"
    pids = {w.pid for w in stack.fc.workers("callback")}
    answer: list[Any] = []
    uploader = threading.Thread(target=lambda: answer.append(_upload(stack, "examples/killed.txt")))
    uploader.start()
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    (run,) = [json.loads(line) for line in started.read_text().splitlines()]
    assert run["source"] == "callback" and run["pid"] in pids
    os.kill(run["pid"], signal.SIGKILL)  # the instance dies holding the upload's claim
    uploader.join(30)
    assert answer and answer[0].status == 203  # OSS: CallbackFailed
    stack.settle(timeout=60)
    (done,) = runs(tmp_path / "runs.jsonl")
    assert done["source"] == "oss_event" and done["object"] == "examples/killed.txt"
    backstop = [r for r in stack.fc.async_invocations() if r.function == "oss-events"]
    (invocation,) = backstop
    assert invocation.ok and len(invocation.attempts) > 1  # refused while the claim was alive, then took it over
    assert "in progress elsewhere" in (invocation.attempts[0].error_message or "")
    assert _dead_letters(stack) == []


def test_a_burst_of_duplicates_over_two_instances_and_their_events_runs_once_per_upload(
        make_stack: Callable[..., LocalStack], tmp_path: Path) -> None:
    stack = make_stack(COUNTING_ACTION_DELAY="0.2")
    seen: list[Any] = []
    sender = stack.oss.callback_sender
    sender.add_observer(seen.append)
    keys = [f"examples/burst-{i}.txt" for i in range(4)]
    for key in keys:
        _upload(stack, key, key.encode())
    records = [next(r for r in seen if getattr(r, "key", "") == key) for key in keys]
    documents = [doc for doc, _ in stack.oss_events]
    barrier = threading.Barrier(16)

    def burst(i: int) -> None:
        barrier.wait()
        sender.replay(records[i % len(records)])

    threads = [threading.Thread(target=burst, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for doc in documents:  # every OSS event delivered twice more, concurrently with the replays
        stack.fc.dispatch_oss_event(doc)
        stack.fc.dispatch_oss_event(doc)
    for t in threads:
        t.join(60)
    stack.settle(timeout=60)
    done = runs(tmp_path / "runs.jsonl")
    assert sorted(r["object"] for r in done) == keys  # one completed run per upload
    assert stack.deliveries.duplicates >= 16
    assert _dead_letters(stack) == []


def test_when_the_dead_letter_write_fails_too_the_event_is_lost_loudly(make_stack: Callable[..., LocalStack],
                                                                      redis: RedisServer, tmp_path: Path) -> None:
    """The one loss left after the backstop (docs/DELIVERY.md): the dead-letter function cannot write (here its
    OSS endpoint refuses connections). FC retries that invocation too; after it, nothing keeps the event, and all
    that remains is the failed invocations and their logged errors."""
    from tests.support.delivery import closed_port

    dead = f"oss://examplebucket/{LOCAL_DEAD_LETTER_PREFIX}?region=cn-hangzhou&endpoint=http://127.0.0.1:{closed_port()}"
    stack = make_stack(CALLBACK_DEAD_LETTERS=dead)
    redis.stop()
    _upload(stack, "examples/lost.txt")
    stack.settle(timeout=60)
    records = stack.fc.async_invocations()
    (backstop,) = [r for r in records if r.function == "oss-events"]
    (letter,) = [r for r in records if r.function == "dead-letters"]
    assert backstop.status == "failed" and letter.source == "destination:oss-events"
    assert letter.status == "failed" and len(letter.attempts) == 4  # FC's default 3 retries: no config of its own
    assert "writing" in (letter.attempts[-1].error_message or "")
    assert _dead_letters(stack) == [] and runs(tmp_path / "runs.jsonl") == []


def test_fc3_the_same_with_fc3s_asyncinvokeconfig(make_stack: Callable[..., LocalStack], redis: RedisServer,
                                                 tmp_path: Path) -> None:
    """template.yml (FC 3.0): the destination is named by FC 3.0's ARN (acs:fc:<region>::functions/<name>), the record
    by the function's FC 3.0 ARN, and redeliver goes through FC 3.0's InvokeFunction (the FC 3.0 SDK)."""
    stack = make_stack(template=ROOT / "template.yml")
    redis.stop()
    _upload(stack, "examples/fc3.txt")
    stack.settle(timeout=60)
    (letter,) = _dead_letters(stack)
    assert letter.function_arn == f"acs:fc:cn-hangzhou:{stack.fc.account_id}:functions/oss-callback-fc-oss-events"
    assert letter.attempts == 9
    redis.restart()
    status, report = _redeliver(stack, "--template", str(ROOT / "template.yml"))
    assert status == 0 and report["summary"]["ran"] == 1
    (run,) = runs(tmp_path / "runs.jsonl")
    assert run["object"] == "examples/fc3.txt" and _dead_letters(stack) == []
