"""Issue 8 items 4 and 5 (local OSS half): the upload path under faults never loses or half-writes data.

- callback faults (down, slow past OSS's callback timeout, non-JSON, 500, no Content-Length) → the upload reports
  ``CallbackFailed`` and the object is stored intact, for put, put_file, multipart and presigned PUT;
- the OSS connection dropped mid-part (a real TCP proxy cutting connections) → retried or aborted, never an orphan
  multipart upload and never a partial object;
- the local OSS SIGKILLed during a write → after a restart no partial object is visible, completed ones are intact;
- 16 concurrent uploaders with callbacks → zero failures, every callback verified.
All on 127.0.0.1 with the real oss2 client, the real callback function and the real local OSS.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import oss2
import pytest

from osscallback.callback.core import CallbackApp
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.local.clientsteps import put_presigned
from osscallback.local.httpserver import WSGIServer
from osscallback.local.oss import LocalOSS
from osscallback.upload.uploader import MultipartAborted, Uploader, UploadEvent, UploadSettings, handle_event
from tests.support import ROOT
from tests.support.oss_clients import v4_bucket

pytestmark = [pytest.mark.attack, pytest.mark.usefixtures("quiet_callback_logs")]

LONG = os.environ.get("OSSCB_LONG") == "1"
CALLBACK_TIMEOUT = 5.0 if LONG else 0.5  # OSS's is 5 s; the short run scales it down to keep CI fast


# --------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def oss(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOSS]:
    with LocalOSS(tmp_path_factory.mktemp("oss"), port=0, callback_timeout=CALLBACK_TIMEOUT) as server:
        yield server


@pytest.fixture(scope="module")
def bucket(oss: LocalOSS) -> oss2.Bucket:
    return v4_bucket(oss)


class FaultyCallbackServer:
    """A callback receiver that misbehaves in one chosen way."""

    def __init__(self, fault: str) -> None:
        self.fault = fault
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if outer.fault == "slow":
                    time.sleep(CALLBACK_TIMEOUT * 2 + 0.5)
                    body, status = b'{"Status": "OK"}', 200
                elif outer.fault == "non_json":
                    body, status = b"<html>ok</html>", 200
                elif outer.fault == "error_500":
                    body, status = b'{"error": "boom"}', 500
                else:  # no_content_length: HTTP/1.0-style answer ended by closing the connection
                    self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"Status\": \"OK\"}")
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cb"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/cb"


def _env(oss: LocalOSS, callback_url: str, tmp_path: Path, endpoint: str | None = None) -> dict[str, str]:
    return {"OSS_ENDPOINT": endpoint or oss.endpoint, "OSS_BUCKET": oss.bucket, "OSS_ACCESS_KEY_ID": oss.access_key_id,
            "OSS_ACCESS_KEY_SECRET": oss.access_key_secret, "OSS_REGION": oss.region, "CALLBACK_URL": callback_url,
            "UPLOAD_ALLOWED_ROOTS": str(tmp_path)}


# --------------------------------------------------------------------------------------------- item 4: callbacks
FAULTS = ["down", "slow", "non_json", "error_500", "no_content_length"]


@pytest.mark.parametrize("action", ["put", "put_file", "multipart", "presign_put"])
@pytest.mark.parametrize("fault", FAULTS)
def test_callback_fault_reports_callback_failed_and_keeps_the_object(
    oss: LocalOSS, bucket: oss2.Bucket, tmp_path: Path, fault: str, action: str
) -> None:
    server = None if fault == "down" else FaultyCallbackServer(fault)
    try:
        url = _closed_port_url() if server is None else server.url
        env = _env(oss, url, tmp_path)
        key = f"faults/{fault}/{action}.bin"
        data = os.urandom(250 * 1024 if action == "multipart" else 1000)
        path = tmp_path / "data.bin"
        path.write_bytes(data)
        event: dict[str, Any] = {"action": action, "key": key}
        if action == "put":
            event["content_base64"] = __import__("base64").b64encode(data).decode()
        elif action in ("put_file", "multipart"):
            event.update(path=str(path), part_size=100 * 1024)
        result = handle_event(json.dumps(event).encode(), None, env, base_dir=str(tmp_path))
        assert result["ok"] is True, result
        if action == "presign_put":
            status, body, _ = put_presigned(result["url"], data, result["headers"])
            assert status == 203, body
            assert b"CallbackFailed" in body
        else:
            assert result["callback_status"] == "failed", result
            assert result["callback_error"]["code"] == "CallbackFailed"
            assert result["callback_error"]["message"]
        assert bucket.get_object(key).read() == data  # stored, and stored whole
    finally:
        if server is not None:
            server.close()


# --------------------------------------------------------------------------------------------- item 4: dropped connections
class DroppingProxy:
    """A TCP proxy in front of the local OSS that cuts client connections after ``cut_after`` request bytes.

    ``times`` limits how many connections are cut (``None``: every connection that gets that far), so a one-off
    network fault and a persistent one can both be played.
    """

    def __init__(self, target_port: int, cut_after: int, times: int | None) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.remaining = times
        self.cuts = 0
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _should_cut(self) -> bool:
        with self._lock:
            if self.remaining is not None and self.remaining <= 0:
                return False
            if self.remaining is not None:
                self.remaining -= 1
            self.cuts += 1
            return True

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))

        def back() -> None:
            try:
                while chunk := upstream.recv(65536):
                    client.sendall(chunk)
            except OSError:
                pass
            finally:
                client.close()

        threading.Thread(target=back, daemon=True).start()
        sent = 0
        try:
            while chunk := client.recv(65536):
                sent += len(chunk)
                if sent > self.cut_after and self._should_cut():
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    client.close()  # RST: the connection drops mid-request
                    upstream.close()
                    return
                upstream.sendall(chunk)
        except OSError:
            pass
        finally:
            upstream.close()

    def close(self) -> None:
        self._stop = True
        self.listener.close()


@pytest.mark.parametrize("times", [1, None], ids=["one-off-drop", "persistent-drop"])
def test_dropped_connection_mid_part_never_leaves_an_orphan_upload(
    oss: LocalOSS, bucket: oss2.Bucket, tmp_path: Path, times: int | None
) -> None:
    proxy = DroppingProxy(oss.port, cut_after=150 * 1024, times=times)  # parts are 200 KiB: cut inside one
    try:
        key = f"drops/{'once' if times else 'always'}.bin"
        data = os.urandom(5 * 200 * 1024)
        path = tmp_path / "drop.bin"
        path.write_bytes(data)
        env = _env(oss, "", tmp_path, endpoint=f"http://127.0.0.1:{proxy.port}")
        event = UploadEvent.parse({"action": "multipart", "key": key, "path": str(path), "part_size": 200 * 1024,
                                   "threads": 2, "template": "none"})
        uploader = Uploader(UploadSettings.resolve(event, None, env, str(tmp_path)))
        try:
            result = uploader.run(event)
            assert result.ok
            assert bucket.get_object(key).read() == data  # retried to completion: whole object
        except MultipartAborted as aborted:
            with pytest.raises(oss2.exceptions.NoSuchUpload):
                bucket.list_parts(key, aborted.upload_id)
            assert not bucket.object_exists(key)  # no partial object either
        assert proxy.cuts >= 1
        if times is None:
            assert not bucket.object_exists(key)
        in_progress = [u for u in oss2.MultipartUploadIterator(bucket, prefix=key)]
        assert in_progress == [], "orphan multipart upload left behind"
    finally:
        proxy.close()


# --------------------------------------------------------------------------------------------- item 4: killed mid-write
def _start_local_oss(data_dir: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen([sys.executable, "-m", "osscallback.cli", "local", "oss", "--port", "0", "--data-dir",
                             str(data_dir), "--json"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, "the local OSS did not start"
    return proc, json.loads(line)


def _bucket(info: dict[str, Any]) -> oss2.Bucket:
    return oss2.Bucket(oss2.AuthV4(info["access_key_id"], info["access_key_secret"]), info["endpoint"], info["bucket"],
                       region=info["region"])  # the --json line names the region V4 signs with


def test_oss_killed_during_writes_shows_no_partial_object_after_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "oss-data"
    proc, info = _start_local_oss(data_dir)
    complete = os.urandom(300 * 1024)
    try:
        bucket = _bucket(info)
        done = bucket.put_object("kill/complete.bin", complete)
        upload_id = bucket.init_multipart_upload("kill/multipart.bin").upload_id
        bucket.upload_part("kill/multipart.bin", upload_id, 1, os.urandom(200 * 1024))
        sent = threading.Event()
        errors: list[BaseException] = []

        def slow_body() -> Iterator[bytes]:
            for i in range(200):
                if i == 5:
                    sent.set()
                yield os.urandom(64 * 1024)
                time.sleep(0.02)

        def interrupted_put() -> None:
            try:
                _bucket(info).put_object("kill/partial.bin", slow_body())
            except BaseException as exc:  # the server dies under it: any error is expected
                errors.append(exc)

        writer = threading.Thread(target=interrupted_put)
        writer.start()
        assert sent.wait(30)
        time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        writer.join(timeout=60)
        assert errors, "the interrupted put should have failed"
    finally:
        if proc.poll() is None:
            proc.kill()
    proc, info = _start_local_oss(data_dir)  # same data directory, same identity
    try:
        bucket = _bucket(info)
        got = bucket.get_object("kill/complete.bin")
        assert got.read() == complete
        assert got.etag == done.etag
        assert not bucket.object_exists("kill/partial.bin")
        assert not bucket.object_exists("kill/multipart.bin")  # an unfinished multipart upload is not an object
        keys = [o.key for o in oss2.ObjectIterator(bucket, prefix="kill/")]
        assert keys == ["kill/complete.bin"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------- item 5: load
def test_sixteen_concurrent_uploaders_with_verified_callbacks(oss: LocalOSS, bucket: oss2.Bucket, tmp_path: Path) -> None:
    app = CallbackApp.from_env({"CALLBACK_KEY_URL_PREFIXES": oss.public_key_prefix, "CALLBACK_RESPONSE_TEMPLATE": "echo"})
    per_uploader = 40 if LONG else 8
    with WSGIServer(make_wsgi_handler(app), threads=16) as callback:
        env = _env(oss, callback.url + "/cb", tmp_path)

        def uploader(n: int) -> list[tuple[str, str]]:
            out = []
            for i in range(per_uploader):
                key = f"load/{n}/{i}.txt"
                content = f"uploader {n} object {i} " + "x" * (i * 97)
                result = handle_event(json.dumps({"action": "put", "key": key, "content": content,
                                                  "template": "json-full"}).encode(), None, env,
                                      base_dir=str(tmp_path))
                assert result["ok"] and result["callback_status"] == "ok", result
                assert result["callback"]["callback"]["object"] == key  # verified by the callback function
                out.append((key, hashlib.md5(content.encode()).hexdigest()))
            return out

        with ThreadPoolExecutor(16) as pool:
            written = [item for batch in pool.map(uploader, range(16)) for item in batch]
    assert len(written) == 16 * per_uploader
    for key, digest in written:
        assert hashlib.md5(bucket.get_object(key).read()).hexdigest() == digest
