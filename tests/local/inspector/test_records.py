"""The local OSS records every callback it sends, exactly as sent, and can send it again (replay, edit & re-send).

Everything runs for real: oss2 uploads to the local OSS, which calls the real callback function under waitress;
the function's action counts its runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from typing import Any

import oss2
import pytest

from osscallback.callback.signature import string_to_sign, verify
from osscallback.local.httpserver import WSGIServer
from osscallback.local.inspector.verdict import judge
from osscallback.local.oss import LocalOSS
from osscallback.local.oss.callbacks import (
    MSG_CONNECT,
    CallbackRecord,
    CallbackResendError,
)
from osscallback.upload.templates import build_callback
from tests.support.inspector import ActionCounter, serve_function


def _upload(bucket: oss2.Bucket, key: str, url: str, template: str = "json-full", **custom: str) -> Any:
    spec = build_callback(template, {"callback_url": url}, {f"x:{k}": v for k, v in custom.items()} or None)
    return bucket.put_object(key, b"hello inspector", headers=spec.headers())


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


def test_an_upload_is_recorded_as_sent(local_oss: LocalOSS, bucket: oss2.Bucket, function: WSGIServer,
                                       records: list[CallbackRecord], counter: ActionCounter) -> None:
    result = _upload(bucket, "rec/hello.txt", function.url + "/hook?app=1", who="me")
    answer = result.resp.read()
    assert result.status == 200
    [record] = records
    assert (record.kind, record.operation, record.bucket, record.key) == ("upload", "PutObject", "examplebucket", "rec/hello.txt")
    assert record.upload_request_id == result.request_id
    assert record.callback["callbackUrl"] == function.url + "/hook?app=1"
    assert record.callback["callbackBodyType"] == "application/json"
    assert record.callback_var == {"x:who": "me"}
    assert record.ok and record.uploader_status == 200 and record.message == ""
    [attempt] = record.attempts
    sent = attempt.request
    assert sent is not None and attempt.answer is not None
    assert sent.target == "/hook?app=1"
    assert [name for name, _ in sent.headers] == [  # OSS's own order (local/oss/callbacks/compose.py cites it)
        "Host", "Connection", "Content-Length", "Authorization", "Content-MD5", "Content-Type", "Date", "User-Agent",
        "x-oss-bucket", "x-oss-pub-key-url", "x-oss-request-id", "x-oss-signature-version", "x-oss-tag"]
    assert json.loads(sent.body)["object"] == "rec/hello.txt"
    assert sent.signed == string_to_sign("/hook", "app=1", sent.body) == b"/hook?app=1\n" + sent.body
    signature = base64.b64decode(sent.header("authorization") or "")
    assert verify(local_oss.callback_sender.private_key.public_key(), signature, sent.signed)
    assert base64.b64decode(sent.header("x-oss-pub-key-url") or "").decode() == local_oss.public_key_url
    assert sent.raw_head().startswith("POST /hook?app=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert attempt.answer.status == 200 and attempt.answer.body == answer  # what the uploader got back
    assert 0 < attempt.latency_ms <= record.latency_ms
    assert judge(record).outcome == "verified"
    assert counter.runs("rec/hello.txt") == 1


def test_replay_sends_the_identical_request_and_the_action_does_not_run_again(
    local_oss: LocalOSS, bucket: oss2.Bucket, function: WSGIServer, records: list[CallbackRecord],
    counter: ActionCounter,
) -> None:
    _upload(bucket, "rec/replayed.txt", function.url + "/")
    original = records[0]
    again = local_oss.callback_sender.replay(original)
    assert records[-1] is again
    assert (again.kind, again.parent_id, again.signing) == ("replay", original.id, "oss")
    first, second = original.attempts[-1], again.attempts[-1]
    assert second.request == first.request  # byte for byte: target, headers (signature, Date), body
    assert second.ok and second.answer is not None and first.answer is not None
    assert second.answer.body == first.answer.body  # the same answer, from the remembered result
    assert counter.runs("rec/replayed.txt") == 1


def test_resend_re_signed_is_genuine_and_with_the_old_signature_is_refused(
    local_oss: LocalOSS, bucket: oss2.Bucket, function: WSGIServer, records: list[CallbackRecord],
    counter: ActionCounter,
) -> None:
    _upload(bucket, "rec/edited.txt", function.url + "/")
    original = records[0]
    old = original.attempts[-1].request
    assert old is not None
    body = json.dumps({**json.loads(old.body), "object": "rec/edited-again.txt"}).encode()

    signed = local_oss.callback_sender.resend(original, body=body, target="/other/path?x=1")
    sent = signed.attempts[-1].request
    assert sent is not None and sent.body == body and sent.target == "/other/path?x=1"
    assert sent.header("content-length") == str(len(body))
    assert sent.header("content-md5") == base64.b64encode(hashlib.md5(body).digest()).decode()  # follows the body
    assert sent.signed == b"/other/path?x=1\n" + body
    assert sent.header("authorization") != old.header("authorization")
    assert signed.ok and judge(signed).outcome == "verified"
    assert counter.runs("rec/edited-again.txt") == 1  # a new, genuinely signed callback: its action runs

    kept = local_oss.callback_sender.resend(original, body=body, resign=False)
    sent = kept.attempts[-1].request
    assert sent is not None and kept.signing == "kept"
    assert sent.header("authorization") == old.header("authorization")
    assert sent.signed == old.signed  # the signature still covers the old request
    assert not kept.ok and kept.attempts[-1].status == 403
    verdict = judge(kept)
    assert (verdict.outcome, verdict.failed_check, verdict.code) == ("rejected", "signature", "SignatureDoesNotMatch")
    assert "key URL" in verdict.passed
    assert counter.runs("rec/edited-again.txt") == 1


def test_failed_callbacks_are_recorded_with_what_the_uploader_got(
    local_oss: LocalOSS, bucket: oss2.Bucket, function: WSGIServer, records: list[CallbackRecord],
) -> None:
    dead = f"http://127.0.0.1:{_refused_port()}/"
    result = _upload(bucket, "rec/down.txt", dead)
    assert result.status == 203
    [record] = records
    assert not record.ok and record.uploader_status == 203 and record.message == MSG_CONNECT
    [attempt] = record.attempts
    assert attempt.request is not None and attempt.answer is None
    assert judge(record).outcome == "unreachable"
    records.clear()

    # Two URLs: the first refuses, the second answers; both attempts are in one record.
    _upload(bucket, "rec/second.txt", f"{dead};{function.url}/")
    [record] = records
    assert [a.ok for a in record.attempts] == [False, True]
    assert record.ok and record.last is not None and record.last.url == function.url + "/"


def test_a_refusal_keeps_the_function_s_answer(local_oss: LocalOSS, bucket: oss2.Bucket,
                                              records: list[CallbackRecord], counter: ActionCounter) -> None:
    strict = serve_function(local_oss, counter, trust_local_oss=False)  # trusts only OSS's own key host
    try:
        result = _upload(bucket, "rec/untrusted.txt", strict.url + "/")
    finally:
        strict.stop()
    assert result.status == 203
    [record] = records
    assert record.message == "Error status : 403."
    answer = record.attempts[-1].answer
    assert answer is not None and answer.status == 403
    assert json.loads(answer.body)["error"] == "UntrustedPubKeyUrl"
    verdict = judge(record)
    assert (verdict.outcome, verdict.failed_check) == ("rejected", "key URL")
    assert counter.runs("rec/untrusted.txt") == 0


def test_an_observer_that_fails_never_breaks_an_upload(local_oss: LocalOSS, bucket: oss2.Bucket,
                                                       function: WSGIServer, records: list[CallbackRecord]) -> None:
    def broken(record: CallbackRecord) -> None:
        raise RuntimeError("observer bug")

    local_oss.callback_sender.add_observer(broken)
    result = _upload(bucket, "rec/observed.txt", function.url + "/")
    assert result.status == 200 and len(records) == 1


def test_what_cannot_be_re_sent_is_refused_clearly(local_oss: LocalOSS, bucket: oss2.Bucket, function: WSGIServer,
                                                    records: list[CallbackRecord]) -> None:
    _upload(bucket, "rec/limits.txt", function.url + "/")
    sender, record = local_oss.callback_sender, records[0]
    for target in ("no-slash", "/a b", "/\u00e9", "/x\r\nInjected: 1"):
        with pytest.raises(CallbackResendError, match="path"):
            sender.resend(record, target=target)
    with pytest.raises(CallbackResendError, match="bytes"):
        sender.resend(record, body=b"x" * (1024 * 1024 + 1))
    # A URL the local OSS cannot even send to (OSS answers "can not connect"), so no request was ever made.
    doc = {"callbackUrl": "ftp://127.0.0.1/", "callbackBody": "bucket=${bucket}"}
    header = base64.b64encode(json.dumps(doc).encode()).decode()
    result = bucket.put_object("rec/never.txt", b"x", headers={"x-oss-callback": header})
    assert result.status == 203
    never = records[-1]
    assert never.attempts[-1].request is None
    with pytest.raises(CallbackResendError, match="nothing to re-send"):
        sender.replay(never)
