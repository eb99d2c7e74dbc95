"""The dead-letter core against FC's documented destination record, and its letter box against the local OSS.

The record is the example of FC's "Result callback" page (https://help.aliyun.com/zh/functioncompute/user-guide/
result-callback, section "异步调用目标的事件内容"; FC 2.0: https://help.aliyun.com/document_detail/422720.htm), with
an OSS trigger event as its requestPayload (FC's OSS trigger event format, as the backstop receives it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from osscallback.callback.deadletter import BoxSpec, DeadLetter, DeadLetterApp, InvalidDestinationRecord, parse_record
from osscallback.callback.deadletter_oss import LetterBoxError, OssLetterBox
from osscallback.errors import ConfigError
from osscallback.local.oss import LocalOSS
from tests.support.delivery import closed_port

OSS_EVENT = {"events": [{"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss",
                         "eventTime": "2026-12-03T03:00:00.000Z", "region": "cn-hangzhou",
                         "oss": {"bucket": {"name": "examplebucket"},
                                 "object": {"key": "examples/a.txt", "eTag": "0CC175B9C0F1B6A831C399E269772661",
                                            "size": 1}},
                         "responseElements": {"requestId": "5F2A0000000000000000AAAA"}}]}
# FC's documented example, field for field, with the payloads filled in
RECORD = {"timestamp": 1660120276975,
          "requestContext": {"requestId": "xxx", "functionArn": "acs:fc:cn-hangzhou:1234:functions/oss-events",
                             "condition": "FunctionResourceExhausted", "approximateInvokeCount": 3},
          "requestPayload": json.dumps(OSS_EVENT), "responseContext": {"statusCode": 200, "functionError": ""},
          "responsePayload": ""}


def test_fcs_documented_record() -> None:
    letter = parse_record(json.dumps(RECORD).encode())
    assert (letter.request_id, letter.attempts, letter.condition) == ("xxx", 3, "FunctionResourceExhausted")
    assert letter.reason == "FunctionResourceExhausted"  # no error document: FC's code is the reason
    assert letter.failed_at == 1660120276.975 and letter.event == OSS_EVENT
    assert letter.uploads == [("examplebucket", "examples/a.txt")]
    assert json.loads(letter.payload) == OSS_EVENT  # what a redelivery sends: the event, unchanged
    assert letter.object_name() == ".osscallback/dead-letters/20220810T083116Z-xxx.json"
    assert DeadLetter.from_json(letter.to_json()) == letter


def test_the_functions_error_document_is_the_reason() -> None:
    error = {"errorMessage": "examples/a.txt: idempotency store unavailable: down", "errorType": "DeliveryFailed"}
    letter = parse_record({**RECORD, "responsePayload": json.dumps(error),
                           "responseContext": {"statusCode": 200, "functionError": "UnhandledInvocationError"}})
    assert letter.reason == "DeliveryFailed: examples/a.txt: idempotency store unavailable: down"
    weird = parse_record({**RECORD, "requestContext": {**RECORD["requestContext"], "requestId": "../../x y"}})
    assert weird.object_name("p/") == "p/20220810T083116Z-.._.._x_y.json"  # never leaves the prefix


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"events": []}', b'{"requestContext": 1}'])
def test_anything_else_is_refused(payload: bytes) -> None:
    with pytest.raises(InvalidDestinationRecord):
        parse_record(payload)
    with pytest.raises(InvalidDestinationRecord):
        DeadLetter.from_json(payload)


@pytest.mark.parametrize("url", ["", "memory", "oss://Bad_Bucket/p/", "oss://bucket-x/", "oss://bucket-x/p/?x=1",
                                 "oss://bucket-x/p/?region=r&endpoint=ftp://h"])
def test_bad_locations_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="CALLBACK_DEAD_LETTERS"):
        BoxSpec.parse(url, {"FC_REGION": "cn-hangzhou"})


def test_written_listed_read_and_removed_in_the_local_oss(local_oss: LocalOSS) -> None:
    spec = BoxSpec.parse(f"oss://examplebucket/.osscallback/dead-letters/?region=cn-hangzhou&endpoint={local_oss.endpoint}")
    box = OssLetterBox(spec, {"ALIBABA_CLOUD_ACCESS_KEY_ID": local_oss.access_key_id,
                              "ALIBABA_CLOUD_ACCESS_KEY_SECRET": local_oss.access_key_secret})
    answer = DeadLetterApp(box).handle(json.dumps(RECORD).encode())
    assert answer == {"dead_letter": ".osscallback/dead-letters/20220810T083116Z-xxx.json", "uploads": 1}
    (name,) = box.names()
    letter = box.read(name)
    assert letter is not None and letter.event == OSS_EVENT and letter.record["requestContext"]["requestId"] == "xxx"
    box.remove(name)
    assert list(box.names()) == [] and box.read(name) is None
    box.close()


def test_a_write_that_fails_raises_so_fc_retries(tmp_path: Path) -> None:
    spec = BoxSpec.parse(f"oss://examplebucket/dl/?region=cn-hangzhou&endpoint=http://127.0.0.1:{closed_port()}")
    box = OssLetterBox(spec, {"ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret"},
                       timeout=2)
    with pytest.raises(LetterBoxError, match="writing examplebucket/dl/"):
        DeadLetterApp(box).handle(RECORD)
