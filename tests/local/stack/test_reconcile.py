"""Reconciliation end to end in the local stack (issue 30): uploads whose callback fails (its URL refuses
connections: OSS's CallbackFailed) and whose OSS event is dropped on purpose (``drop_events``, the documented
fault-injection option), a real ``redis-server`` or the ``oss://`` markers as the store, real worker processes.

The reconcile function is fired by its timer trigger (``LocalFCHost.fire_timer``: FC's time-trigger event) and run
by ``osscallback reconcile --endpoint`` as a user runs it: the action runs once per upload, a second run runs
nothing, an upload the callback delivered is left alone; on FC 2.0 (template.fc2.yml) and FC 3.0 (template.yml).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest
import requests

from osscallback.callback.reconcile import MIN_SETTLE
from osscallback.local.inspector.views import event_view
from osscallback.local.stack import LocalStack
from osscallback.upload.templates import build_callback
from tests.callback.test_oss_event import event_for
from tests.support import ROOT
from tests.support.delivery import FIXTURES, RedisServer, closed_port, runs

CLI = [sys.executable, "-m", "osscallback.cli"]
#: Seconds after an upload before a run with --settle 0 takes it: the window's floor plus Last-Modified's rounding.
SETTLED = MIN_SETTLE + 1.1


@pytest.fixture(params=[("template.fc2.yml", "redis"), ("template.yml", "oss")], ids=["fc2-redis", "fc3-oss"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    template, store = request.param
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(FIXTURES), os.environ.get("PYTHONPATH")) if p))
    redis_url = request.getfixturevalue("redis").url if store == "redis" else None
    s = LocalStack(template=ROOT / template, data_dir=tmp_path / "oss", log_sink=lambda fn, line: None,
                   inspector=request.node.name.startswith("test_a_lost_upload"), store=redis_url, async_backoff=0.02, drop_events=["examples/lost-*", "uploads/*/lost-*"],
                   env={"CALLBACK_ACTION": "counting_action:record", "COUNTING_ACTION_LOG": str(tmp_path / "runs.jsonl"),
                        "COUNTING_ACTION_STARTED": str(tmp_path / "started.jsonl"),
                        "COUNTING_ACTION_DELAY": "2" if request.node.get_closest_marker("slow_reconcile") else "0",
                        "COUNTING_ACTION_DELAY_SOURCE": "reconcile",
                        "CALLBACK_IDEMPOTENCY_CLAIM_TTL": "4", "CALLBACK_RECONCILE_SETTLE": "0", "FC_ROLE_ARN": ""})
    s.start()
    yield s
    s.stop()


def _bucket(stack: LocalStack) -> oss2.Bucket:
    info = stack.info()
    return oss2.Bucket(oss2.AuthV4(info.access_key_id, info.access_key_secret), info.oss_endpoint, info.bucket,
                       region=info.region)


def _upload(stack: LocalStack, key: str, callback_url: str) -> Any:
    spec = build_callback("form-basic", {"callback_url": callback_url})
    return _bucket(stack).put_object(key, b"payload of " + key.encode(), headers=spec.headers())


def _cli(stack: LocalStack, template: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """``osscallback reconcile --endpoint`` as a user runs it against the running stack."""
    info = stack.info()
    env = {**os.environ, "FC_ACCESS_KEY_ID": info.fc_access_key_id, "FC_ACCESS_KEY_SECRET": info.fc_access_key_secret,
           "FC_SECURITY_TOKEN": info.fc_security_token}
    return subprocess.run([*CLI, "reconcile", "--endpoint", info.fc_endpoint, "--template", template, "--json",
                           *extra], env=env, capture_output=True, text=True, timeout=120)


def _reconcile(stack: LocalStack, template: str, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = _cli(stack, template, *extra)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_a_lost_upload_runs_once_by_the_timer_and_never_again(stack: LocalStack, tmp_path: Path) -> None:
    template = str(stack.template)
    lost = _upload(stack, "examples/lost-1.txt", f"http://127.0.0.1:{closed_port()}/")
    assert lost.status == 203  # CallbackFailed: the object is stored, the callback never ran
    fine = _upload(stack, "examples/fine.txt", stack.info().callback_url)
    assert fine.status == 200
    stack.settle(timeout=30)
    assert stack.drops.dropped == ["examples/lost-1.txt"]  # the event was dropped on purpose
    assert [r["object"] for r in runs(tmp_path / "runs.jsonl")] == ["examples/fine.txt"]  # the lost one: not run
    time.sleep(SETTLED)  # older than the settle window's 3 s floor (Last-Modified has whole seconds)

    status, dry = _reconcile(stack, template, "--dry-run")
    assert status == 0 and dry["summary"]["would_deliver"] == 1 and runs(tmp_path / "runs.jsonl")[1:] == []

    invocation = stack.fc.fire_timer("reconcile")  # FC's time-trigger event, as the schedule would send it
    assert invocation.source == "timer:reconcile-timer"
    stack.fc.wait_async(60, [invocation.request_id])
    done = stack.fc.async_invocation(invocation.request_id)
    assert done is not None and done.status == "succeeded", done
    rows = [event_view(e) for e in stack.inspector.history.events()] if stack.inspector else []
    assert [(r["event_name"], r["object"]) for r in rows if r["trigger"] == "reconcile"] == [
        ("via reconcile", "examples/lost-1.txt")]  # the inspector's row for the upload the timer's run delivered
    delivered = runs(tmp_path / "runs.jsonl")
    assert sorted((r["object"], r["source"]) for r in delivered) == [
        ("examples/fine.txt", "callback"), ("examples/lost-1.txt", "reconcile")]

    status, again = _reconcile(stack, template)
    assert status == 0, again
    assert again["summary"]["delivered"] == 0 and again["summary"]["already_delivered"] == 2
    assert len(runs(tmp_path / "runs.jsonl")) == 2

    time.sleep(2.2)  # a newer Last-Modified (whole seconds; Redis entries allow 1 s of clock skew)
    again_lost = _upload(stack, "examples/lost-1.txt", f"http://127.0.0.1:{closed_port()}/")  # the same bytes
    assert again_lost.status == 203 and again_lost.etag == lost.etag
    stack.settle(timeout=30)
    time.sleep(SETTLED)
    status, third = _reconcile(stack, template)
    assert status == 0 and third["summary"]["delivered"] == 1, third  # a new upload: delivered, once
    assert stack.inspector is not None and len([e for e in stack.inspector.history.events()
                                                if e.invocation.source == "reconcile"]) == 2  # this run's row too
    assert [r["object"] for r in runs(tmp_path / "runs.jsonl")].count("examples/lost-1.txt") == 2


def test_page_and_app_uploads_under_uploads_are_delivered_by_the_event_or_reconcile(
        stack: LocalStack, tmp_path: Path) -> None:
    """The page and ``/sts`` put uploads under the authorizer's prefix, ``uploads/<random>/`` for ``anonymous``
    (the local stack's authorizer). The templates' second OSS trigger and reconcile's second prefix cover it: an
    app upload that skips the callback is delivered once by its OSS event; one whose event is also dropped
    (``drop_events``), once by the timer's reconcile run; a second run delivers nothing."""
    answer = requests.get(stack.info().upload_page_url + "sts", timeout=30)
    assert answer.status_code == 200, answer.text
    sts = answer.json()
    assert sts["key_prefix"].startswith("uploads/") and len(sts["key_prefix"].split("/")) == 3  # uploads/<x>/
    bucket = oss2.Bucket(oss2.StsAuth(sts["AccessKeyId"], sts["AccessKeySecret"], sts["SecurityToken"],
                                      auth_version="v4"), sts["endpoint"], sts["bucket"], region=sts["region"])
    by_event, lost = sts["key_prefix"] + "no-callback.bin", sts["key_prefix"] + "lost-no-callback.bin"
    assert bucket.put_object(by_event, b"sent without x-oss-callback").status == 200
    assert bucket.put_object(lost, b"no callback, and its event is lost").status == 200
    stack.settle(timeout=30)
    assert stack.drops.dropped == [lost]
    assert [(r["object"], r["source"]) for r in runs(tmp_path / "runs.jsonl")] == [(by_event, "oss_event")]
    time.sleep(SETTLED)

    invocation = stack.fc.fire_timer("reconcile")
    stack.fc.wait_async(60, [invocation.request_id])
    done = stack.fc.async_invocation(invocation.request_id)
    assert done is not None and done.status == "succeeded", done
    assert sorted((r["object"], r["source"]) for r in runs(tmp_path / "runs.jsonl")) == sorted(
        [(by_event, "oss_event"), (lost, "reconcile")])
    status, again = _reconcile(stack, str(stack.template))
    assert status == 0 and again["summary"]["delivered"] == 0 and again["summary"]["already_delivered"] == 2, again
    assert again["summary"]["complete"] is True and again["summary"]["list_requests"] == 2  # one listing a prefix
    assert len(runs(tmp_path / "runs.jsonl")) == 2


def _started(path: Path, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"{count} runs did not start")


def _background(stack: LocalStack, *extra: str) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(_cli(stack, str(stack.template), *extra)))
    thread.start()
    return thread, out


@pytest.mark.slow_reconcile
def test_an_event_delivered_during_a_run_runs_once(stack: LocalStack, tmp_path: Path) -> None:
    """Reconcile lists both lost uploads, then spends 2 s on the first; meanwhile the second's OSS event arrives
    and delivers it. Reached afterwards, the second is found delivered inside reconcile's claim: it runs once."""
    refused = f"http://127.0.0.1:{closed_port()}/"
    _upload(stack, "examples/lost-a.txt", refused)
    late = _upload(stack, "examples/lost-b.txt", refused)
    stack.settle(timeout=30)
    time.sleep(SETTLED)
    thread, out = _background(stack)
    assert _started(tmp_path / "started.jsonl", 1)[0]["source"] == "reconcile"  # lost-a is being delivered
    event = event_for(stack.bucket, "examples/lost-b.txt", late.etag, len(b"payload of examples/lost-b.txt"),
                      late.request_id)
    (invocation,) = stack.fc.dispatch_oss_event(event)  # the event OSS had not sent, arriving now
    stack.fc.wait_async(30, [invocation.request_id])
    assert [r["source"] for r in runs(tmp_path / "runs.jsonl")] == ["oss_event"]  # while reconcile still runs
    thread.join(120)
    assert out[0].returncode == 0, out[0].stderr
    report = json.loads(out[0].stdout)
    assert report["summary"]["delivered"] == 1 and report["summary"]["already_delivered"] == 1
    assert sorted((r["object"], r["source"]) for r in runs(tmp_path / "runs.jsonl")) == [
        ("examples/lost-a.txt", "reconcile"), ("examples/lost-b.txt", "oss_event")]


@pytest.mark.slow_reconcile
def test_a_run_killed_midway_resumes_from_its_checkpoint(stack: LocalStack, tmp_path: Path) -> None:
    refused = f"http://127.0.0.1:{closed_port()}/"
    keys = [f"examples/lost-{i}.txt" for i in range(4)]
    for key in keys:
        _upload(stack, key, refused)
    stack.settle(timeout=30)
    time.sleep(SETTLED)
    thread, out = _background(stack)
    third = _started(tmp_path / "started.jsonl", 3, timeout=90)[2]  # two delivered, the third in its action
    os.kill(third["pid"], signal.SIGKILL)  # the function dies mid-run (as FC's timeout would end it)
    thread.join(120)
    assert out[0].returncode == 1 and "Process exited unexpectedly" in out[0].stderr  # the invocation failed
    assert sorted(r["object"] for r in runs(tmp_path / "runs.jsonl")) == keys[:2]
    time.sleep(4.2)  # the killed run's claim lapses (claim TTL 4 s here: longer than the 2 s action; 60 s deployed)
    status, report = _reconcile(stack, str(stack.template))
    assert status == 0, report
    assert report["summary"]["resumed_after"] == keys[1]  # from the checkpoint, not from the start
    assert [u["key"] for u in report["uploads"]] == keys[2:]
    assert sorted(r["object"] for r in runs(tmp_path / "runs.jsonl")) == keys  # each once




@pytest.mark.slow_reconcile
def test_two_runs_at_once_deliver_each_upload_once(stack: LocalStack, tmp_path: Path) -> None:
    """Two reconcile runs started together (a timer firing beside `osscallback reconcile`) claim the same dedupe
    key per upload: each upload runs once; the other run finds it delivered or in progress (tried again later)."""
    refused = f"http://127.0.0.1:{closed_port()}/"
    keys = [f"examples/lost-{i}.txt" for i in range(3)]
    for key in keys:
        _upload(stack, key, refused)
    stack.settle(timeout=30)
    time.sleep(SETTLED)
    first, first_out = _background(stack)
    second, second_out = _background(stack)
    first.join(120)
    second.join(120)
    reports = [json.loads(out[0].stdout) for out in (first_out, second_out)]
    assert all(out[0].returncode == 0 for out in (first_out, second_out)), [out[0].stderr for out in (first_out,
                                                                                                      second_out)]
    assert sorted(r["object"] for r in runs(tmp_path / "runs.jsonl")) == keys  # each once
    assert sum(r["summary"]["delivered"] for r in reports) == 3
    status, after = _reconcile(stack, str(stack.template))
    assert status == 0 and after["summary"]["already_delivered"] == 3 and after["summary"]["delivered"] == 0

def test_the_timer_fires_on_its_schedule_and_delivers_within_settle_plus_one_period(
        tmp_path: Path, redis: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The template's timer trigger with a 2 s period (the shipped one says 10 minutes) and the shortest settle window
    (3 s): a lost upload is delivered by the scheduled run alone, within settle + one period (+ the run), as
    DELIVERY.md says."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(FIXTURES), os.environ.get("PYTHONPATH")) if p))
    text = (ROOT / "template.fc2.yml").read_text(encoding="utf-8")
    assert "schedule: '@every 10m'" in text
    (tmp_path / "template.yml").write_text(text.replace("schedule: '@every 10m'", "schedule: '@every 2s'"))
    (tmp_path / "functions").symlink_to(ROOT / "functions")  # the sources beside the template, as in the checkout
    stack = LocalStack(template=tmp_path / "template.yml", data_dir=tmp_path / "oss", log_sink=lambda fn, line: None,
                       inspector=False, store=redis.url, drop_events=["examples/lost-*"],
                       env={"CALLBACK_ACTION": "counting_action:record", "COUNTING_ACTION_LOG": str(tmp_path / "runs"),
                            "CALLBACK_RECONCILE_SETTLE": "1"})
    with stack:
        uploaded = time.time()
        _upload(stack, "examples/lost-timer.txt", f"http://127.0.0.1:{closed_port()}/")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not runs(tmp_path / "runs"):
            time.sleep(0.1)
        delay = time.time() - uploaded
        while time.monotonic() < deadline and len(stack.fc.timers.fired) < 3:
            time.sleep(0.1)
        fired = [f for f in stack.fc.timers.fired if f[1] == "reconcile-timer"]
        status = [stack.fc.async_invocation(r.request_id) for r in stack.fc.async_invocations()
                  if r.source == "timer:reconcile-timer"]
    assert [(r["object"], r["source"]) for r in runs(tmp_path / "runs")] == [("examples/lost-timer.txt", "reconcile")]
    assert len(fired) >= 3 and all(b[2] - a[2] >= 1.9 for a, b in zip(fired, fired[1:], strict=False))  # every 2 s
    assert len(status) >= 3 and all(s is not None and s.status in ("succeeded", "running", "queued") for s in status)
    assert delay < MIN_SETTLE + 1 + 2 + 10, delay  # settle (+1 s: Last-Modified's seconds) + one period + the run

def test_timer_schedules_follow_fcs_syntax() -> None:
    """``@every`` and six cron fields, seconds first (FC's TimerTriggerConfig), and FC's time-trigger event."""
    from osscallback.local.fc.errors import LocalFCError
    from osscallback.local.fc.timertrigger import Schedule, TimerTrigger

    start = 1796630400.0  # 2026-12-07T08:00:00Z, a Monday
    assert Schedule.parse("@every 10m").next_after(start) == start + 600
    assert Schedule.parse("@every 1h30m").next_after(start) == start + 5400
    assert Schedule.parse("0 */10 * * * *").next_after(start) == start + 600
    assert Schedule.parse("0 0 4 * * *").next_after(start) == start + 20 * 3600
    assert Schedule.parse("CRON_TZ=Asia/Shanghai 0 0 4 * * *").next_after(start) == start + 12 * 3600
    for bad in ("@every", "*/10 * * * *", "0 0 25 * * *"):
        with pytest.raises(LocalFCError):
            Schedule.parse(bad)
    trigger = TimerTrigger.from_config("reconcile-timer", {"cronExpression": "@every 10m", "enable": True})
    assert json.loads(trigger.event(start)) == {"triggerTime": "2026-12-07T08:00:00Z",
                                                "triggerName": "reconcile-timer", "payload": ""}
