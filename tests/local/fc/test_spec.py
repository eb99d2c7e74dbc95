"""template.fc2.yml → what the host runs, and the FC API signature matching fc2's."""

from __future__ import annotations

from pathlib import Path

import pytest
from fc2.auth import Auth

from osscallback.local.fc import FCCredentials, LocalFCError, load_specs
from osscallback.local.fc.api.fcapi import check_signature, sign, string_to_sign
from osscallback.local.fc.errors import SignatureNotMatch
from osscallback.local.fc.spec import source_code_dirs
from tests.support.fc import ROOT, TEMPLATE, TEMPLATE_ENV


def test_specs_come_from_template_yml() -> None:
    specs = {s.name: s for s in load_specs(TEMPLATE, TEMPLATE_ENV, code_dirs=source_code_dirs(TEMPLATE))}
    assert set(specs) == {"callback", "oss-events", "dead-letters", "reconcile", "upload", "policy"}
    callback, upload = specs["callback"], specs["upload"]
    assert specs["oss-events"].code_dir == callback.code_dir  # one package, three handlers (by code directory)
    assert specs["dead-letters"].code_dir == callback.code_dir and specs["dead-letters"].handler == "deadletter.handler"
    # the backstop's asynchronous invocation (template.fc2.yml's asyncConfiguration)
    backstop = specs["oss-events"]
    assert (backstop.async_retry_attempts, backstop.async_max_event_age) == (8, 420.0)
    assert backstop.async_on_failure.endswith(":services/oss-callback-fc.LATEST/functions/dead-letters")
    assert backstop.async_on_success == "" and upload.async_on_failure == ""
    assert specs["oss-events"].handler == "oss_event.handler" and specs["oss-events"].http_methods is None
    assert callback.service == upload.service == "oss-callback-fc"
    assert callback.http_methods == ("POST",)
    reconcile = specs["reconcile"]  # issue 30: same package, a timer trigger every 10 minutes
    assert reconcile.code_dir == callback.code_dir and reconcile.handler == "reconcile.handler"
    assert [(t.name, t.schedule.every, t.enable) for t in reconcile.timer_triggers] == [("reconcile-timer", 600.0, True)]
    assert upload.http_methods is None  # event function
    assert callback.handler == upload.handler == "index.handler"
    assert callback.code_dir == ROOT / "functions" / "callback"
    assert upload.timeout == 300 and upload.memory_mb == 512
    assert upload.env["OSS_BUCKET"] == "local-bucket"  # ${vars.bucket} ← ${env(OSS_BUCKET)}
    assert upload.env["OSS_ENDPOINT"] == "https://oss-cn-hangzhou-internal.aliyuncs.com"
    assert callback.env["CALLBACK_KEY_URL_PREFIXES"].startswith("http://gosspublic.alicdn.com/")
    assert upload.with_env({"OSS_ENDPOINT": "http://127.0.0.1:1"}).env["OSS_ENDPOINT"] == "http://127.0.0.1:1"


def test_missing_code_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LocalFCError, match="handler module 'index' not found"):
        load_specs(TEMPLATE, TEMPLATE_ENV, code_dirs={"callback": tmp_path})


@pytest.mark.parametrize("query", [None, {"limit": ["10"], "prefix": ["a b"]}])
def test_signature_is_fc2s(query: dict[str, list[str]] | None) -> None:
    creds = FCCredentials("key-id", "key-secret")
    headers = {"date": "Wed, 01 Jan 2025 00:00:00 GMT", "content-type": "application/json",
               "x-fc-invocation-type": "Sync", "x-fc-log-type": "Tail", "host": "ignored"}
    path = "/2016-08-15/services/svc/functions/fn/invocations"
    expected = Auth("key-id", "key-secret").sign_request("POST", path, headers, query)
    assert sign(creds, string_to_sign("POST", path, headers, query)) == expected
    raw_query = "&".join(f"{k}={v.replace(' ', '%20')}" for k, vs in (query or {}).items() for v in vs)
    signed = {**headers, "authorization": expected}
    check_signature(creds, "POST", path, raw_query, signed)  # raises unless the signature matches
    with pytest.raises(SignatureNotMatch) as caught:
        check_signature(creds, "GET", path, raw_query, signed)  # signed for another method
    assert (caught.value.status, caught.value.code) == (403, "SignatureNotMatch")
