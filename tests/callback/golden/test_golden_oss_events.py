"""The OSS-event backstop against Function Compute's own OSS-trigger event samples, and the local OSS's events
against the same samples, field by field.

``oss_events/`` holds the samples as published (sources in each file and in ``README.md``): FC 3.0's "Trigger event
format" page, FC 2.0's "Formats of event for different triggers" page, and the FC Go runtime SDK's OSS event.

1. Each sample goes through the deployed entry point ``functions/callback/oss_event.py`` (loaded as FC loads it,
   the ``log`` action, the ``oss://`` store on a local OSS): the action must get the sample's bucket, key, ETag,
   size and request id, once (the second delivery is a duplicate).
2. The local OSS's ObjectCreated documents must have the official shape: the same keys, the same JSON types and
   the same nesting as FC 3.0's sample (values such as ids and times differ, formats do not). FC 2.0's page
   predates ``objectMeta``; the Go SDK's sample adds ``bucket.virtualBucket`` (empty): both differences are
   spelled out below, not ignored wholesale.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest

from osscallback.local.oss import LocalOSS
from tests.support import ROOT
from tests.support.oss_clients import REGION

EVENT_FUNCTION = ROOT / "functions" / "callback" / "oss_event.py"
SAMPLES_DIR = Path(__file__).resolve().parent / "oss_events"
SAMPLES = {f.stem: json.loads(f.read_text(encoding="utf-8")) for f in sorted(SAMPLES_DIR.glob("*.json"))}
FC3, FC2, GO_SDK = "fc3-trigger-event-format", "fc2-trigger-event-format", "fc-runtime-go-sdk-readme-oss"
MARKERS = "golden-markers/"

#: Formats every official sample follows (and so must the local OSS).
EVENT_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ARN = re.compile(r"^acs:oss:(?P<region>[a-z0-9-]+):(?P<owner>[^:]+):(?P<bucket>[^:]+)$")


def test_the_samples_are_the_three_official_ones() -> None:
    assert set(SAMPLES) == {FC3, FC2, GO_SDK}
    for sample in SAMPLES.values():
        (entry,) = sample["event"]["events"]
        assert EVENT_TIME.match(entry["eventTime"]) and ARN.match(entry["oss"]["bucket"]["arn"])


# -- 1. the backstop delivers the official samples ------------------------------------------------------------------


class Sink:
    """The local OSS's event documents, as an OSS trigger would receive them."""

    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def __call__(self, doc: dict[str, Any]) -> None:
        with self._cond:
            self.docs.append(doc)
            self._cond.notify_all()

    def wait(self, n: int) -> list[dict[str, Any]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.docs) >= n, 20), f"{len(self.docs)} of {n} events"
            return list(self.docs)


@pytest.fixture(scope="module")
def sink() -> Sink:
    return Sink()


@pytest.fixture(scope="module")
def local_oss(tmp_path_factory: pytest.TempPathFactory, sink: Sink) -> Iterator[LocalOSS]:
    with LocalOSS(tmp_path_factory.mktemp("oss"), on_object_created=sink) as oss:
        yield oss


_loads = itertools.count()


@pytest.fixture()
def event_function(local_oss: LocalOSS, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``functions/callback/oss_event.py`` as FC loads it, with the ``log`` action and an ``oss://`` store whose
    marker prefix is fresh for each test (so each sample runs once here, then is a duplicate)."""
    key_id, secret, token = local_oss.issue_sts_token()
    prefix = f"{MARKERS}{next(_loads)}/"
    monkeypatch.setenv("CALLBACK_ACTION", "log")
    monkeypatch.setenv("CALLBACK_IDEMPOTENCY_STORE",
                       f"oss://{local_oss.bucket}/{prefix}?region={local_oss.region}&endpoint={local_oss.endpoint}")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", token)
    spec = importlib.util.spec_from_file_location(f"golden_oss_event_{prefix.strip('/').replace('/', '_')}",
                                                  EVENT_FUNCTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Context:
    """FC's context for an event handler: the invocation id (credentials come from the environment here)."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.credentials = None


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_official_sample_reaches_the_action(event_function: Any, name: str, caplog: pytest.LogCaptureFixture) -> None:
    sample = SAMPLES[name]
    payload = json.dumps(sample["event"]).encode()  # FC hands the handler the trigger's JSON as bytes
    caplog.set_level(logging.INFO, logger="osscallback.action")
    first = json.loads(event_function.handler(payload, Context("fc-invocation-1")))
    second = json.loads(event_function.handler(payload, Context("fc-invocation-2")))
    expect = sample["expect"]
    assert first["records"] == [{"bucket": expect["bucket"], "object": expect["object"], "outcome": "ran"}]
    assert second["records"][0]["outcome"] == "duplicate"  # one upload, one run
    runs = [json.loads(r.getMessage()) for r in caplog.records if r.name == "osscallback.action"]
    assert len(runs) == 1 and runs[0]["source"] == "oss_event"
    seen = runs[0]["callback"]
    assert {k: seen[k] for k in expect} == expect


# -- 2. the local OSS's events have the official shape --------------------------------------------------------------


def shape(node: Any) -> Any:
    """Keys, JSON types and nesting of a document, without its values."""
    if isinstance(node, dict):
        return {k: shape(v) for k, v in node.items()}
    if isinstance(node, list):
        return [shape(v) for v in node]
    return type(node).__name__


def without(doc: dict[str, Any], *paths: str) -> dict[str, Any]:
    """A copy of ``doc`` without the dotted ``paths`` (relative to ``events[0]``)."""
    doc = copy.deepcopy(doc)
    for path in paths:
        *parents, last = path.split(".")
        node = doc["events"][0]
        for part in parents:
            node = node[part]
        del node[last]
    return doc


@pytest.fixture(scope="module")
def local_events(local_oss: LocalOSS, sink: Sink) -> dict[str, dict[str, Any]]:
    """Two uploads through oss2: one like FC 3.0's sample (application/zip with x-oss-meta-last-modified), one
    plain."""
    bucket = oss2.Bucket(oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret), local_oss.endpoint,
                         local_oss.bucket, region=REGION)
    before = len(sink.docs)
    with_meta = bucket.put_object("source/a.png", b"png-ish bytes",
                                  headers={"Content-Type": "application/zip", "x-oss-meta-last-modified": "20250213"})
    plain = bucket.put_object("image/a.jpg", b"jpeg-ish bytes", headers={"Content-Type": "image/jpeg"})
    docs = [d for d in sink.wait(before + 2)[before:]
            if d["events"][0]["oss"]["object"]["key"] in ("source/a.png", "image/a.jpg")]
    by_key = {d["events"][0]["oss"]["object"]["key"]: d for d in docs}
    assert by_key["source/a.png"]["events"][0]["responseElements"]["requestId"] == with_meta.request_id
    assert by_key["image/a.jpg"]["events"][0]["responseElements"]["requestId"] == plain.request_id
    return {"with_meta": by_key["source/a.png"], "plain": by_key["image/a.jpg"]}


def test_local_event_has_fc3s_shape(local_events: dict[str, dict[str, Any]]) -> None:
    official = SAMPLES[FC3]["event"]
    assert shape(local_events["with_meta"]) == shape(official)
    # userMeta appears for an object with x-oss-meta-* metadata, as in FC 3.0's sample and the Go SDK's.
    assert shape(local_events["plain"]) == shape(without(official, "oss.object.objectMeta.userMeta"))
    local = local_events["with_meta"]["events"][0]["oss"]["object"]["objectMeta"]
    assert local == {"mimeType": "application/zip", "userMeta": {"x-oss-meta-last-modified": "20250213"}}


def test_local_event_against_fc2s_older_sample(local_events: dict[str, dict[str, Any]]) -> None:
    """FC 2.0's page shows no objectMeta (it predates it); everything else is the same shape."""
    assert shape(without(local_events["plain"], "oss.object.objectMeta")) == shape(SAMPLES[FC2]["event"])


def test_local_event_against_the_go_sdks_sample(local_events: dict[str, dict[str, Any]]) -> None:
    """The Go SDK's sample adds ``bucket.virtualBucket`` (an empty string); the current FC pages have none."""
    assert shape(local_events["plain"]) == shape(without(SAMPLES[GO_SDK]["event"], "oss.bucket.virtualBucket"))


def test_local_event_values_follow_the_official_formats(local_events: dict[str, dict[str, Any]],
                                                        local_oss: LocalOSS) -> None:
    for doc in local_events.values():
        entry = doc["events"][0]
        assert (entry["eventSource"], entry["eventVersion"], entry["oss"]["ossSchemaVersion"]) == (
            "acs:oss", "1.0", "1.0")
        assert EVENT_TIME.match(entry["eventTime"]), entry["eventTime"]
        arn = ARN.match(entry["oss"]["bucket"]["arn"])
        assert arn is not None
        assert (arn["region"], arn["bucket"]) == (entry["region"], entry["oss"]["bucket"]["name"])
        assert arn["owner"] == entry["oss"]["bucket"]["ownerIdentity"] == entry["userIdentity"]["principalId"]
        obj = entry["oss"]["object"]
        assert re.fullmatch(r"[0-9A-F]{32}", obj["eTag"])  # upper-case hex, no quotes, as in the samples
        assert obj["size"] == obj["deltaSize"] > 0  # a new object: deltaSize is its size (FC's table)
        assert entry["region"] == local_oss.region
