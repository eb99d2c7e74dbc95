"""`osscallback doctor` against real servers on 127.0.0.1: it exits 0 against `osscallback serve`, and each server
that misbehaves the way callback endpoints do fails the check that names the problem, with a fix, and exit 1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osscallback.cli import main
from osscallback.doctor import FAIL, PASS, WARN, classify_addresses, diagnose
from osscallback.testing import LocalCA
from tests.support.doctor import RawServer, http_answer, json_error, sni_context

CLI = [sys.executable, "-m", "osscallback.cli"]
REFUSED = json_error("403 Forbidden", "SignatureDoesNotMatch")  # what a verifying endpoint answers the probes


@pytest.fixture(scope="module")
def serve() -> Iterator[str]:
    """`osscallback serve` as a user runs it; its callback URL."""
    proc = subprocess.Popen([*CLI, "serve", "--port", "0", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())["callback_url"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _doctor(url: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["doctor", url, "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


def test_exits_zero_against_osscallback_serve(serve: str) -> None:
    out = subprocess.run([*CLI, "doctor", serve, "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] and report["failed"] == 0
    assert _statuses(report) == {
        "address": WARN,  # 127.0.0.1: OSS would refuse it, the local stack needs it
        "connect": PASS, "answer time": PASS, "POST allowed": PASS, "refuses unsigned": PASS,
        "refuses forged": PASS, "answer headers": PASS, "JSON answer": PASS,
    }
    checks = {c["name"]: c for c in report["checks"]}
    assert "MissingAuthorization" in checks["refuses unsigned"]["summary"]
    assert "UntrustedPubKeyUrl" in checks["refuses forged"]["summary"]
    assert checks["address"]["fix"] and not checks["connect"]["fix"]

    human = subprocess.run([*CLI, "doctor", serve], capture_output=True, text=True, timeout=60)
    assert human.returncode == 0
    lines = human.stdout.splitlines()
    assert lines[0] == f"Checking {serve} the way OSS calls it"
    assert any(line.lstrip().startswith("WARN  address") for line in lines)
    assert any(line.lstrip().startswith("fix: ") for line in lines)
    assert lines[-1] == "8 checks: 7 passed, 1 warning, 0 failed"


def test_an_fc2_proxy_path_gets_a_hint(serve: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _doctor(serve + "2016-08-15/proxy/oss-callback-fc/callback/", capsys)
    assert code == 0
    hint = report["checks"][-1]
    assert (hint["name"], hint["status"]) == ("FC 2.0 path", WARN) and "fc.request_uri" in hint["fix"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


BROKEN = {
    # name: (answer, server delay, the check that must fail)
    "accepts anything": (lambda r: http_answer("200 OK", b'{"Status": "OK"}'), 0, "refuses unsigned"),
    "crashes": (lambda r: json_error("500 Internal Server Error", "Boom"), 0, "refuses forged"),
    "redirects": (lambda r: http_answer("302 Found", b"{}", extra="Location: https://elsewhere.invalid/\r\n"), 0,
                  "refuses unsigned"),
    "GET only": (lambda r: http_answer("405 Method Not Allowed", b'{"error": "MethodNotAllowed"}',
                                       extra="Allow: GET, HEAD\r\n"), 0, "POST allowed"),
    "HTML error page": (lambda r: http_answer("403 Forbidden", b"<html><body>Forbidden</body></html>",
                                              content_type="text/html"), 0, "JSON answer"),
    "no Content-Length": (lambda r: http_answer("403 Forbidden", b'{"error": "x"}', length=False), 0,
                          "answer headers"),
    "chunked": (lambda r: http_answer("403 Forbidden", b'e\r\n{"error": "x"}\r\n0\r\n\r\n', length=False,
                                      extra="Transfer-Encoding: chunked\r\n"), 0, "answer headers"),
    "answer over 3 MB": (lambda r: http_answer("403 Forbidden", json.dumps({"error": "x" * (3 * 1024 * 1024)}).encode()),
                         0, "JSON answer"),
    "too slow": (lambda r: REFUSED, 1.5, "answer time"),
    "hangs up": (lambda r: None, 0, "answer time"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_each_broken_server_fails_its_check(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    answer, delay, failing = BROKEN[name]
    with RawServer(answer, delay=delay) as server:
        code, report = _doctor(server.url(), capsys, "--timeout", "1")
    assert code == 1 and not report["ok"]
    check = next(c for c in report["checks"] if c["name"] == failing)
    assert check["status"] == FAIL, report
    assert check["fix"] and check["summary"]
    assert server.requests, "the doctor really talked to the server"


def test_where_nothing_listens_the_connection_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _doctor(f"http://127.0.0.1:{_closed_port()}/", capsys)
    assert code == 1
    assert _statuses(report)["connect"] == FAIL
    assert "refuses unsigned" in report["not_run"]


def test_https_to_a_plain_http_server_fails_tls(capsys: pytest.CaptureFixture[str]) -> None:
    with RawServer(lambda r: REFUSED) as server:
        code, report = _doctor(server.url("https"), capsys, "--timeout", "1")
    assert code == 1 and _statuses(report)["tls"] == FAIL


@pytest.mark.parametrize("url", ["http://osscallback-doctor-check.invalid/", "http://[::1]:9/"])
def test_hosts_oss_cannot_call_fail_the_address_check(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _doctor(url, capsys, "--timeout", "1")
    assert code == 1 and report["checks"][0]["name"] == "address" and report["checks"][0]["status"] == FAIL


def test_a_slow_but_timely_answer_is_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    # The warning zone is 60-100 % of the budget: 3 s of a 4 s budget leaves a second either side for a busy machine.
    with RawServer(lambda r: REFUSED, delay=3.0) as server:
        code, report = _doctor(server.url(), capsys, "--timeout", "4")
    assert code == 0 and _statuses(report)["answer time"] == WARN


def test_tls_trusted_certificate_and_no_sni_needed(trust_ca: LocalCA, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    context = trust_ca.server_context(["localhost", "127.0.0.1"], tmp_path)
    with RawServer(lambda r: REFUSED, tls=context) as server:
        code, report = _doctor(server.url("https", "localhost"), capsys)
    statuses = _statuses(report)
    assert code == 0 and (statuses["tls"], statuses["sni"]) == (PASS, PASS), report
    assert statuses["refuses forged"] == PASS


def test_tls_untrusted_certificate_is_a_warning(trust_ca: LocalCA, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    stranger = LocalCA("not a public CA")
    with RawServer(lambda r: REFUSED, tls=stranger.server_context(["localhost"], tmp_path)) as server:
        code, report = _doctor(server.url("https", "localhost"), capsys)
    check = next(c for c in report["checks"] if c["name"] == "tls")
    assert code == 0 and check["status"] == WARN and "not trusted" in check["summary"] and check["fix"]
    assert _statuses(report)["JSON answer"] == PASS  # it still looked at the answers


@pytest.mark.parametrize("require_sni", [False, True], ids=["other certificate without SNI", "no handshake"])
def test_a_server_that_needs_sni_gets_the_callbacksni_hint(trust_ca: LocalCA, tmp_path: Path, require_sni: bool,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    default = trust_ca.server_context(["default.invalid"], tmp_path / "a")
    named = trust_ca.server_context(["localhost"], tmp_path / "b")
    with RawServer(lambda r: REFUSED, tls=sni_context(default, {"localhost": named}, require_sni=require_sni)) as server:
        code, report = _doctor(server.url("https", "localhost"), capsys)
    statuses = _statuses(report)
    assert code == 0 and statuses["tls"] == PASS and statuses["sni"] == WARN, report
    sni = next(c for c in report["checks"] if c["name"] == "sni")
    assert '"callbackSNI": true' in sni["fix"]


def test_address_classes() -> None:
    assert classify_addresses("cb.example.com", ["47.96.1.2"]).status == PASS
    assert classify_addresses("cb.example.com", ["10.0.0.5", "47.96.1.2"]).status == WARN
    assert classify_addresses("cb.example.com", ["192.168.1.1"]).status == WARN
    assert classify_addresses("cb.example.com", ["2408:4000::1"]).status == FAIL  # IPv6 only: OSS cannot call it


def test_the_report_as_python(serve: str) -> None:
    report = diagnose(serve)
    assert report.ok and report.warnings == 1 and report.to_json()["checks"][0]["name"] == "address"


@pytest.mark.parametrize("argv", [["doctor", "ftp://example.com/"], ["doctor", "not a url"],
                                  ["doctor", "http://127.0.0.1:99999/"], ["doctor", "http://x/", "--timeout", "0"]])
def test_unusable_arguments_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("osscallback: error: ") and err.count("\n") == 1
