"""Reconciliation's core (issue 30) against the real local OSS and both shared stores (a real ``redis-server``,
marker objects in the local OSS): the function's app (:class:`ReconcileApp`) over uploads whose callback and event
never came, beside the OSS-event app over the same store.

Each upload's action runs once whichever of the three paths delivers it: reconcile delivers what nothing delivered,
and only once; an upload the event delivered is recognised without asking for it; a later event (a redelivered dead
letter) for an upload reconcile delivered is a duplicate; the same bytes uploaded again are a new upload. The costs
are counted: one list request of the bucket and one of the index (or one pipeline) per 1,000 objects.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import oss2
import pytest

from osscallback.callback import reconcile as reconcile_core
from osscallback.callback.oss_event import OssEventApp
from osscallback.callback.reconcile_oss import (
    BrokenReconcileApp,
    ReconcileApp,
    ReconcileSettings,
    load_reconcile_app,
    make_reconcile_handler,
    parse_since,
)
from osscallback.errors import ConfigError
from osscallback.local.oss import LocalOSS
from tests.callback.test_oss_event import event_for
from tests.support.delivery import REGION, runs

BUCKET = "examplebucket"


class Context:
    def __init__(self, request_id: str = "reconcile-run") -> None:
        self.request_id = request_id


@pytest.fixture()
def setup(local_oss: LocalOSS, shared_store_env: dict[str, str], tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("COUNTING_ACTION_LOG", str(tmp_path / "runs.jsonl"))
    # No callback runs here, so the 3 s floor of the settle window has nothing to wait for (the stack tests keep it).
    monkeypatch.setattr(reconcile_core, "MIN_SETTLE", 0.0)
    key_id, secret, token = local_oss.issue_sts_token()
    env = {**shared_store_env, "CALLBACK_ACTION": "counting_action:record", "FC_REGION": REGION,
           "ALIBABA_CLOUD_ACCESS_KEY_ID": key_id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
           "ALIBABA_CLOUD_SECURITY_TOKEN": token,
           "CALLBACK_RECONCILE": f"oss://{BUCKET}/examples/?region={REGION}&endpoint={local_oss.endpoint}",
           "CALLBACK_RECONCILE_SINCE": "0",
           "CALLBACK_DEAD_LETTERS": f"oss://{BUCKET}/.osscallback/dead-letters/?region={REGION}"
                                    f"&endpoint={local_oss.endpoint}"}
    bucket = oss2.Bucket(oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret), local_oss.endpoint, BUCKET, region=REGION)
    return {"env": env, "bucket": bucket, "log": tmp_path / "runs.jsonl"}


def reconcile(env: dict[str, str], **options: Any) -> dict[str, Any]:
    """One invocation as ``osscallback reconcile`` sends it (settle 0: these uploads are old enough)."""
    payload = json.dumps({"reconcile": {"settle": 0, **options}}).encode()
    return ReconcileApp(env).handle(payload, Context())


def test_what_nothing_delivered_runs_once_and_a_second_run_runs_nothing(setup: dict[str, Any]) -> None:
    for i in range(3):
        setup["bucket"].put_object(f"examples/lost-{i}.txt", b"x%d" % i)  # no callback, no event: lost today
    setup["bucket"].put_object("elsewhere/outside.txt", b"out of the prefix")
    first = reconcile(setup["env"])
    assert first["summary"]["delivered"] == 3 and first["summary"]["seen"] == 3
    assert [u["outcome"] for u in first["uploads"]] == ["delivered"] * 3
    done = runs(setup["log"])
    assert sorted(r["object"] for r in done) == [f"examples/lost-{i}.txt" for i in range(3)]
    assert {r["source"] for r in done} == {"reconcile"}
    second = reconcile(setup["env"])
    assert second["summary"]["already_delivered"] == 3 and second["summary"]["delivered"] == 0
    assert second["uploads"] == [] and len(runs(setup["log"])) == 3
    # the cost: one page of the bucket, one of the index (oss://) or one pipeline (redis)
    assert second["summary"]["list_requests"] == 1 and second["summary"]["index_requests"] == 1


def test_an_upload_the_event_delivered_is_recognised_and_a_later_event_after_reconcile_is_a_duplicate(
        setup: dict[str, Any]) -> None:
    env = setup["env"]
    events = OssEventApp.from_env(env)
    put = setup["bucket"].put_object("examples/by-event.txt", b"event")
    events.handle(event_for(BUCKET, "examples/by-event.txt", put.etag, 5, put.request_id))
    lost = setup["bucket"].put_object("examples/by-reconcile.txt", b"reconcile")
    report = reconcile(env)
    assert report["summary"]["already_delivered"] == 1 and report["summary"]["delivered"] == 1
    # the event of the upload reconcile delivered arrives after all (a dead letter redelivered): a duplicate
    late = events.handle(event_for(BUCKET, "examples/by-reconcile.txt", lost.etag, 9, lost.request_id))
    assert late["records"][0]["outcome"] == "duplicate"
    assert sorted((r["object"], r["source"]) for r in runs(setup["log"])) == [
        ("examples/by-event.txt", "oss_event"), ("examples/by-reconcile.txt", "reconcile")]


def test_the_same_bytes_uploaded_again_are_a_new_upload(setup: dict[str, Any]) -> None:
    setup["bucket"].put_object("examples/again.txt", b"same bytes")
    assert reconcile(setup["env"])["summary"]["delivered"] == 1
    time.sleep(2.2)  # Last-Modified has whole seconds; Redis entries allow 1 s of clock skew (CLOCK_TOLERANCE)
    setup["bucket"].put_object("examples/again.txt", b"same bytes")
    assert reconcile(setup["env"])["summary"]["delivered"] == 1
    assert len(runs(setup["log"])) == 2
    assert reconcile(setup["env"])["summary"]["delivered"] == 0


#: FC's time-trigger event (FC, "Formats of event for different triggers", Time trigger), as the timer sends it.
TIMER_EVENT = b'{"triggerTime": "2018-02-09T05:49:00Z", "triggerName": "timer-trigger", "payload": "awesome-fc"}'


def test_settle_window_since_and_dry_run(setup: dict[str, Any]) -> None:
    setup["bucket"].put_object("examples/young.txt", b"young")
    timer = ReconcileApp(setup["env"]).handle(TIMER_EVENT, Context())  # the timer's run: the defaults, 600 s settle
    assert timer["summary"]["settling"] == 1 and timer["summary"]["complete"] and timer["uploads"] == []
    assert reconcile(setup["env"], settle=600)["summary"]["settling"] == 1
    assert reconcile(setup["env"], since=time.time() + 60)["summary"]["before_since"] == 1
    dry = reconcile(setup["env"], dry_run=True)
    assert dry["summary"]["would_deliver"] == 1 and dry["uploads"][0]["outcome"] == "would deliver"
    assert runs(setup["log"]) == []


def test_a_failing_upload_is_retried_then_kept_as_a_dead_letter_that_redelivers_once(
        setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    env = setup["env"]
    setup["bucket"].put_object("examples/failing.txt", b"fails")
    monkeypatch.setenv("COUNTING_ACTION_FAIL", "1")
    outcomes = [reconcile(env)["uploads"][0] for _ in range(3)]
    assert [o["outcome"] for o in outcomes] == ["failed", "failed", "dead-lettered"]
    assert "ConnectionError" in outcomes[-1]["reason"] and outcomes[-1]["attempts"] == 3
    assert reconcile(env)["uploads"] == []  # kept as a dead letter: not tried again
    names = [o.key for o in oss2.ObjectIteratorV2(setup["bucket"], prefix=".osscallback/dead-letters/")]
    assert len(names) == 1
    letter = json.loads(setup["bucket"].get_object(names[0]).read())
    assert letter["condition"] == "ReconcileFailed" and letter["attempts"] == 3
    monkeypatch.delenv("COUNTING_ACTION_FAIL")
    events = OssEventApp.from_env(env)
    assert events.handle(json.dumps(letter["event"]))["records"][0]["outcome"] == "ran"  # redeliver's path
    assert events.handle(json.dumps(letter["event"]))["records"][0]["outcome"] == "duplicate"
    assert reconcile(env)["summary"]["already_delivered"] == 1
    assert len(runs(setup["log"])) == 1


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="CALLBACK_RECONCILE"):
        ReconcileSettings.from_env({"CALLBACK_RECONCILE": "s3://b/x", "FC_REGION": REGION})
    settings = ReconcileSettings.from_env({"CALLBACK_RECONCILE": "oss://my-bucket/examples/", "FC_REGION": REGION})
    assert (settings.bucket, settings.key_prefixes, settings.settle) == ("my-bucket", ("examples/",), 600.0)
    assert settings.endpoint == f"https://oss-{REGION}-internal.aliyuncs.com"
    several = ReconcileSettings.from_env({"CALLBACK_RECONCILE": "oss://my-bucket/examples/,uploads/?region=cn-beijing"})
    assert (several.key_prefixes, several.region) == (("examples/", "uploads/"), "cn-beijing")
    for overlapping in ("examples/,examples/a/", "uploads/,uploads/", ",uploads/"):  # each listed once, or refused
        with pytest.raises(ConfigError, match="overlap"):
            ReconcileSettings.from_env({"CALLBACK_RECONCILE": f"oss://my-bucket/{overlapping}", "FC_REGION": REGION})
    assert parse_since("2026-12-07T08:00:00Z") == 1796630400.0
    with pytest.raises(ConfigError):
        parse_since("yesterday")


def test_memory_store_is_refused_and_a_bad_setting_fails_every_run_saying_why(setup: dict[str, Any]) -> None:
    env = {**setup["env"], "CALLBACK_IDEMPOTENCY_STORE": "memory"}
    with pytest.raises(ConfigError, match="memory"):
        reconcile(env)
    broken = load_reconcile_app({**setup["env"], "CALLBACK_RECONCILE": "oss://Bad_Bucket/"})
    assert isinstance(broken, BrokenReconcileApp)
    with pytest.raises(ConfigError, match="CALLBACK_RECONCILE="):
        make_reconcile_handler(broken)(b'{"triggerTime": "2026-12-07T08:00:00Z", "triggerName": "t", "payload": ""}')


def test_a_run_beside_a_live_one_makes_its_own_pass_and_a_stale_checkpoint_is_resumed(
        setup: dict[str, Any]) -> None:
    """Two runs at once (the timer beside ``osscallback reconcile``) used to share the checkpoint: the second
    resumed the first's place mid-run and reported the first's deliveries as its own ("delivered now 5" when it ran
    none; seen in an independent check). A checkpoint younger than the claim TTL is a live run: the second makes its
    own pass and counts only what it did; one older than that (a killed run's) is resumed."""
    env = {**setup["env"], "CALLBACK_IDEMPOTENCY_CLAIM_TTL": "2"}
    keys = [f"examples/lost-{i}.txt" for i in range(3)]
    for key in keys:
        setup["bucket"].put_object(key, key.encode())
    cut = reconcile(env, budget=0)  # stops after its first upload, as a run near its timeout does
    assert cut["summary"]["complete"] is False and [u["key"] for u in cut["uploads"]] == keys[:1]
    beside = reconcile(env)  # at once: the first run's checkpoint is live
    assert beside["summary"]["resumed_after"] == "" and beside["summary"]["complete"] is True
    assert beside["summary"]["delivered"] == 2 and beside["summary"]["already_delivered"] == 1
    assert [u["key"] for u in beside["uploads"]] == keys[1:]
    setup["bucket"].put_object("examples/lost-3.txt", b"3")
    setup["bucket"].put_object("examples/lost-4.txt", b"4")
    cut = reconcile(env, budget=0)  # stops after its first object (lost-0, delivered before)
    assert cut["summary"]["complete"] is False and cut["uploads"] == []
    time.sleep(2.1)  # older than the claim TTL: a run that died there
    resumed = reconcile(env)
    assert resumed["summary"]["resumed_after"] == keys[0] and resumed["summary"]["complete"] is True
    assert [u["key"] for u in resumed["uploads"]] == ["examples/lost-3.txt", "examples/lost-4.txt"]
    assert sorted(r["object"] for r in runs(setup["log"])) == [f"examples/lost-{i}.txt" for i in range(5)]


def test_several_prefixes_each_one_listing_and_one_checkpoint(setup: dict[str, Any]) -> None:
    """The templates' ``examples/,uploads/``: each prefix is listed on its own (one page each here, nothing in
    between such as elsewhere/), with its own checkpoint; a run cut short in the first prefix leaves the second to
    the next run, which resumes the first where it stopped."""
    env = {**setup["env"], "CALLBACK_RECONCILE": setup["env"]["CALLBACK_RECONCILE"].replace(
        "/examples/?", "/examples/,uploads/?"), "CALLBACK_IDEMPOTENCY_CLAIM_TTL": "1"}
    keys = ["examples/lost-0.txt", "examples/lost-1.txt", "uploads/0f3a/lost-2.txt"]
    for key in [*keys, "elsewhere/outside.txt"]:
        setup["bucket"].put_object(key, key.encode())
    cut = reconcile(env, budget=0)  # stops after its first upload: uploads/ is not reached
    assert cut["summary"]["complete"] is False and [u["key"] for u in cut["uploads"]] == keys[:1]
    time.sleep(1.1)  # older than the claim TTL: a run that died there
    rest = reconcile(env)
    assert rest["summary"]["complete"] is True and rest["summary"]["resumed_after"] == keys[0]
    assert [u["key"] for u in rest["uploads"]] == keys[1:]
    again = reconcile(env)
    assert again["summary"]["already_delivered"] == 3 and again["summary"]["delivered"] == 0
    assert again["summary"]["list_requests"] == 2  # one listing a prefix, the bucket's other keys never listed
    assert sorted(r["object"] for r in runs(setup["log"])) == keys  # each once
