"""Restarts, crash leftovers, the CLI, hostile HTTP, and the project's own callback function behind the local OSS."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import oss2
import pytest
import requests

from osscallback.callback.core import CallbackApp
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.local.httpserver import WSGIServer
from osscallback.local.oss import LocalOSS
from tests.support.oss import CallbackSpec, b64json
from tests.support.oss_clients import v4_bucket


def _recv_all(s: socket.socket) -> bytes:
    chunks = []
    while chunk := s.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _bucket(oss: LocalOSS) -> oss2.Bucket:
    return v4_bucket(oss)


def test_state_survives_restart(tmp_path: Path) -> None:
    oss = LocalOSS(tmp_path / "data").start()
    try:
        bucket = _bucket(oss)
        bucket.put_object("kept/a.txt", b"alpha", headers={"x-oss-meta-k": "v"})
        upload_id = bucket.init_multipart_upload("kept/mp.bin").upload_id
        r1 = bucket.upload_part("kept/mp.bin", upload_id, 1, b"1" * (100 * 1024))
        pem = requests.get(oss.public_key_url, timeout=10).content
        identity = (oss.endpoint, oss.access_key_id, oss.access_key_secret)
    finally:
        oss.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(oss.endpoint, timeout=2)
    oss.start()  # same object, same port, same data dir
    try:
        assert (oss.endpoint, oss.access_key_id, oss.access_key_secret) == identity
        assert requests.get(oss.public_key_url, timeout=10).content == pem  # receivers' key caches stay valid
        bucket = _bucket(oss)
        got = bucket.get_object("kept/a.txt")
        assert got.read() == b"alpha" and got.headers["x-oss-meta-k"] == "v"
        r2 = bucket.upload_part("kept/mp.bin", upload_id, 2, b"2")
        parts = [oss2.models.PartInfo(1, r1.etag), oss2.models.PartInfo(2, r2.etag)]
        bucket.complete_multipart_upload("kept/mp.bin", upload_id, parts)
        assert bucket.get_object("kept/mp.bin").read() == b"1" * (100 * 1024) + b"2"
    finally:
        oss.stop()
    with LocalOSS(tmp_path / "data") as fresh:  # a new process would see the same
        assert _bucket(fresh).get_object("kept/a.txt").read() == b"alpha"
        assert fresh.access_key_id == identity[1]


def test_crash_leftovers_are_invisible_and_swept(tmp_path: Path) -> None:
    with LocalOSS(tmp_path / "data") as oss:
        _bucket(oss).put_object("real.txt", b"real")
    objects = tmp_path / "data" / "data" / "buckets" / "examplebucket" / "objects"
    orphan = objects / ("f" * 64 + ".DEADBEEF.data")  # a write killed before its metadata was swapped in
    orphan.write_bytes(b"torn")
    (objects / ".tmp-123.json").write_text("{")
    (tmp_path / "data" / "data" / "tmp" / "body-1.part").write_bytes(b"half a body")
    with LocalOSS(tmp_path / "data") as oss:
        bucket = _bucket(oss)
        assert [o.key for o in oss2.ObjectIterator(bucket)] == ["real.txt"]
        assert bucket.get_object("real.txt").read() == b"real"
    assert not orphan.exists() and not (objects / ".tmp-123.json").exists()
    assert not list((tmp_path / "data" / "data" / "tmp").iterdir())


def test_truncated_and_garbage_requests_never_crash(local_oss: LocalOSS) -> None:
    bucket = _bucket(local_oss)
    signed = bucket.sign_url("PUT", "truncated.bin", 60)
    path = signed.split(str(local_oss.port), 1)[1]
    with socket.create_connection(("127.0.0.1", local_oss.port), timeout=5) as s:
        s.sendall(f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n".encode() + b"x" * 10)
        s.shutdown(socket.SHUT_WR)
        answer = _recv_all(s)
    assert b"400" in answer.split(b"\r\n", 1)[0] and b"IncompleteBody" in answer
    with socket.create_connection(("127.0.0.1", local_oss.port), timeout=5) as s:
        s.sendall(b"\x00\x01garbage\r\n\r\n")
        _recv_all(s)
    broken_chunked = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n".encode()
    )
    with socket.create_connection(("127.0.0.1", local_oss.port), timeout=5) as s:
        s.sendall(broken_chunked)
        s.shutdown(socket.SHUT_WR)
        assert b"400" in _recv_all(s).split(b"\r\n", 1)[0]
    assert not bucket.object_exists("truncated.bin")
    bucket.put_object("after.txt", b"still serving")
    assert bucket.get_object("after.txt").read() == b"still serving"


def test_head_errors_carry_x_oss_err(local_oss: LocalOSS) -> None:
    url = _bucket(local_oss).sign_url("HEAD", "missing.txt", 60)
    resp = requests.head(url, timeout=10)
    assert resp.status_code == 404 and resp.headers["x-oss-ec"] == "0026-00000001"
    assert b"<Code>NoSuchKey</Code>" in base64.b64decode(resp.headers["x-oss-err"])


def test_callback_deadlock_free_with_receiver_on_same_server(local_oss: LocalOSS, tmp_path: Path) -> None:
    """A callback whose handler calls back into the local OSS (like an FC function reading the object)."""
    bucket = _bucket(local_oss)
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            content = bucket.get_object("nested.txt").read()  # re-enters the local OSS mid-upload
            body = json.dumps({"read": content.decode()}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = CallbackSpec(f"http://127.0.0.1:{server.server_address[1]}/")
        result = bucket.put_object("nested.txt", b"visible before the callback", headers=spec.headers())
        assert json.loads(result.resp.read()) == {"read": "visible before the callback"}
    finally:
        server.shutdown()
        server.server_close()


def test_seed_flow_into_the_projects_callback_function(local_oss: LocalOSS) -> None:
    """Done-when: the seed's upload, callback verified by our own callback function, JSON answer back via oss2."""
    app = CallbackApp.from_env({"CALLBACK_KEY_URL_PREFIXES": local_oss.public_key_prefix})
    with WSGIServer(make_wsgi_handler(app)) as fn:
        callback_params = {
            "callbackUrl": fn.url + "/",
            "callbackBody": "bucket=${bucket}&object=${object}&my_var1=${x:my_var1}",
            "callbackBodyType": "application/x-www-form-urlencoded",
        }
        headers = {"x-oss-callback": b64json(callback_params), "x-oss-callback-var": b64json({"x:my_var1": "v1"})}
        result = _bucket(local_oss).put_object("exampleobject.txt", "a" * 1024 * 1024, headers)
        assert result.status == 200
        answer = json.loads(result.resp.read())
        assert answer["Status"] == "OK" and answer["object"] == "exampleobject.txt"


def test_cli_prints_one_json_line_and_serves(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "osscallback.cli", "local", "oss", "--json", "--data-dir", str(tmp_path / "cli")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        assert set(info) == {"endpoint", "bucket", "region", "access_key_id", "access_key_secret", "public_key_url"}
        bucket = oss2.Bucket(
            oss2.AuthV4(info["access_key_id"], info["access_key_secret"]), info["endpoint"], info["bucket"],
            region=info["region"],
        )
        bucket.put_object("cli.txt", b"from the cli")
        assert bucket.get_object("cli.txt").read() == b"from the cli"
        assert requests.get(info["public_key_url"], timeout=10).content.startswith(b"-----BEGIN PUBLIC KEY")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert out == ""  # nothing after the single JSON line


def test_concurrent_uploads_with_callbacks(local_oss: LocalOSS) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.oss import Receiver

    receiver = Receiver().start()
    try:

        def upload(i: int) -> int:
            bucket = _bucket(local_oss)
            spec = CallbackSpec(receiver.url, body="object=${object}&n=${x:n}", variables={"x:n": str(i)})
            result = bucket.put_object(f"concurrent/{i}.txt", os.urandom(50_000), headers=spec.headers())
            assert json.loads(result.resp.read())["verified"] is True
            return int(result.status)

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(upload, range(16))) == [200] * 16
        assert sorted(int(r.form["n"]) for r in receiver.received) == list(range(16))
        assert all(r.verified for r in receiver.received)
    finally:
        receiver.stop()


def test_one_server_per_data_directory(tmp_path: Path) -> None:
    """A second local OSS on a directory in use is refused at once (it would clear the first one's staged uploads);
    once the first stops, or if it is SIGKILLed, the directory is free again."""
    from osscallback.local.oss.dirlock import DataDirInUse

    data = tmp_path / "shared-dir"
    with LocalOSS(data_dir=data) as first:
        with pytest.raises(DataDirInUse, match=r"in use by another local OSS \(pid \d+\).*--data-dir"):
            LocalOSS(data_dir=data).start()
        bucket = v4_bucket(first)
        bucket.put_object("still-served.txt", b"ok")  # the refused second server touched nothing
        assert bucket.get_object("still-served.txt").read() == b"ok"
    with LocalOSS(data_dir=data) as again:
        assert again.running

    proc = subprocess.Popen(
        [sys.executable, "-m", "osscallback.cli", "local", "oss", "--json", "--data-dir", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        json.loads(proc.stdout.readline())  # serving
        second = subprocess.run(
            [sys.executable, "-m", "osscallback.cli", "local", "oss", "--json", "--data-dir", str(data)],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert second.returncode == 2 and second.stdout == ""
        assert second.stderr.strip().count("\n") == 0 and "in use by another local OSS" in second.stderr
    finally:
        proc.kill()  # SIGKILL: no clean-up runs, the kernel drops the lock
        proc.communicate(timeout=20)
    with LocalOSS(data_dir=data) as after_crash:
        assert after_crash.running


def test_reads_racing_overwrites_get_one_whole_version(local_oss: LocalOSS) -> None:
    """A GET looks the object up, then opens its bytes; an overwrite in between used to unlink them first, so the
    answer's headers went out and the body never came (oss2: 'Connection broken: IncompleteRead'). Every read
    gets exactly one version, whole, whatever the writers do; copies of a changing source too."""
    bucket = v4_bucket(local_oss)
    versions = [bytes([65 + i]) * (100 + 37 * i) for i in range(6)]  # distinct lengths, distinct bytes
    bucket.put_object("racy.bin", versions[0])
    stop = threading.Event()
    problems: list[str] = []

    def write() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            bucket.put_object("racy.bin", versions[i % len(versions)])

    def read(n: int) -> None:
        for j in range(60):
            try:
                if j % 4 == 3:
                    bucket.copy_object(bucket.bucket_name, "racy.bin", f"copy-{n}.bin")
                    got = bucket.get_object(f"copy-{n}.bin").read()
                else:
                    got = bucket.get_object("racy.bin").read()
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                problems.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            if got not in versions:
                problems.append(f"a torn read of {len(got)} bytes")

    writers = [threading.Thread(target=write) for _ in range(3)]
    readers = [threading.Thread(target=read, args=(n,)) for n in range(12)]
    for t in writers + readers:
        t.start()
    for t in readers:
        t.join(120)
    stop.set()
    for t in writers:
        t.join(30)
    assert problems == []
