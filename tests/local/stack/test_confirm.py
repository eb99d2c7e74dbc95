"""Confirmation in the whole local stack, with real processes: the callback function's workers HEAD the local OSS
(``CALLBACK_CONFIRM=head`` from template.yml); when OSS cannot be reached for that HEAD the callback is a 503 and no
action runs, and the OSS-event backstop delivers the upload exactly once; once OSS is reachable again, a replay of
the same callback runs nothing more.

"Unreachable" is a TCP relay on 127.0.0.1 between the callback function and the local OSS, switched off: it
accepts and closes each connection (what a dropped path to the internal endpoint looks like to a client). The
idempotency store keeps its direct endpoint, so the 503 is the confirmation's, not the store's.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest

from osscallback.local.stack import LocalStack
from osscallback.upload.templates import build_callback
from tests.support.oss_clients import REGION


class Relay:
    """A TCP relay to ``target`` on a fixed 127.0.0.1 port. :meth:`down` cuts the connections in use (the callback
    function keeps them alive) and closes every new one at once."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.target: tuple[str, int] | None = None
        self.up = True
        self.refused = 0
        self.open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def down(self) -> None:
        self.up = False
        for s in self.open:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.open.clear()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up or self.target is None:
                self.refused += 1
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


def callback_lines(lines: list[tuple[str, str]], key: str, wait: float = 10.0) -> list[dict[str, Any]]:
    """The callback function's request lines about ``key`` (FC's "<time> <request id> [INFO] {json}"), once one
    arrived: the workers' output reaches the log sink a moment after the answer."""
    deadline = time.monotonic() + wait
    while True:
        found = [json.loads(line[line.index("{"):]) for fn, line in list(lines)
                 if fn.startswith(("callback", "oss-callback-fc-callback")) and '"outcome"' in line and json.dumps(key) in line]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture()
def relay() -> Iterator[Relay]:
    r = Relay()
    yield r
    r.close()


def test_oss_unreachable_for_the_confirmation_then_back(tmp_path: Path, relay: Relay) -> None:
    lines: list[tuple[str, str]] = []
    env = {"CALLBACK_CONFIRM_ENDPOINT": f"http://127.0.0.1:{relay.port}"}
    # The OSS event waits 3 s, so the test sees the state between the refused callback and the backstop.
    with LocalStack(data_dir=tmp_path / "oss", log_sink=lambda fn, line: lines.append((fn, line)), instances=2,
                    inspector=False, env=env, oss_event_delay=3.0) as stack:
        host, port = stack.oss.endpoint.rsplit("//", 1)[1].split(":")
        relay.target = (host, int(port))
        info = stack.info()
        bucket = oss2.Bucket(oss2.AuthV4(info.access_key_id, info.access_key_secret), info.oss_endpoint, info.bucket, region=REGION)
        spec = build_callback("form-basic", {"callback_url": info.callback_url})
        sent: list[Any] = []
        stack.oss.callback_sender.add_observer(sent.append)

        # 1. confirmed through the relay: the action runs once, via the callback
        assert bucket.put_object("examples/confirm/ok.txt", b"fine", headers=spec.headers()).status == 200
        stack.settle()
        assert [r.source for r in stack.deliveries.runs if r.object == "examples/confirm/ok.txt"] == ["callback"]

        # 2. OSS unreachable for the confirmation: 503, OSS reports CallbackFailed, no action yet
        relay.down()
        key = "examples/confirm/while-down.txt"
        assert bucket.put_object(key, b"during the outage", headers=spec.headers()).status == 203
        refused = callback_lines(lines, key)
        assert [(d["status"], d["outcome"], d["confirm"]) for d in refused] == [(503, "ConfirmUnavailable",
                                                                                 "unavailable")]
        assert relay.refused >= 1
        assert not [r for r in stack.deliveries.runs if r.object == key]

        # 3. the backstop delivers it, exactly once (events are not confirmed)
        relay.up = True
        stack.settle()
        assert [r.source for r in stack.deliveries.runs if r.object == key] == ["oss_event"]

        # 4. OSS back: the same callback again, byte for byte, runs nothing more (the stored result answers)
        record = next(r for r in sent if getattr(r, "key", "") == key)
        assert stack.oss.callback_sender.replay(record).uploader_status == 200
        stack.settle()
        assert [r.source for r in stack.deliveries.runs if r.object == key] == ["oss_event"]
