"""Test kit for the inspector: the callback function under waitress, counting the runs of its action.

The function is the real :class:`~osscallback.callback.core.CallbackApp` (verification, idempotency, answers);
only its action is a counter, so "the action ran once" is observed, not inferred from an answer.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from osscallback.callback.actions import CallbackEvent
from osscallback.callback.config import CallbackConfig
from osscallback.callback.core import CallbackApp
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.local.httpserver import WSGIServer
from osscallback.local.oss import LocalOSS


class ActionCounter:
    """The callback function's action: records the object of every run."""

    def __init__(self) -> None:
        self.objects: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, event: CallbackEvent) -> dict[str, Any]:
        with self._lock:
            self.objects.append(event.body.object or "")
        return {"ran": True}

    def runs(self, key: str) -> int:
        with self._lock:
            return self.objects.count(key)


def serve_function(oss: LocalOSS, counter: ActionCounter, *, trust_local_oss: bool = True) -> WSGIServer:
    prefixes = "http://gosspublic.alicdn.com/" + (f",{oss.public_key_prefix}" if trust_local_oss else "")
    config = CallbackConfig.from_env({"CALLBACK_KEY_URL_PREFIXES": prefixes})
    return WSGIServer(make_wsgi_handler(CallbackApp(config, action=counter)), threads=4).start()


def call(url: str, data: Any = None, *, headers: dict[str, str] | None = None, method: str | None = None,
         raw: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    """One request to the inspector: (status, headers, parsed JSON body or bytes)."""
    body = raw if raw is not None else (json.dumps(data).encode() if data is not None else None)
    hdrs = {"Content-Type": "application/json"} if data is not None else {}
    hdrs.update(headers or {})
    request = urllib.request.Request(url, data=body, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:  # noqa: S310 - 127.0.0.1
            status, got, payload = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, got, payload = err.code, dict(err.headers), err.read()
    if got.get("Content-Type", "").startswith("application/json"):
        return status, got, json.loads(payload)
    return status, got, payload


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
