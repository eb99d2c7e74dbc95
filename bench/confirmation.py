"""What confirmation (``CALLBACK_CONFIRM=head``) costs: per callback, and on the cold start.

Used by ``bench/run.py`` (figures 2c and 3). Each callback names an object really stored in a local OSS on
loopback, with its real ETag and size, and each is a new upload (a new ``reqId``), so every one is confirmed with a
HEAD; ``none`` and ``head`` alternate round by round over the same kind of uploads and the best round of each
counts. The local OSS runs in this process, as the OSS store's figure (2b) runs it: its threads share the
interpreter with the function, so the HEAD here costs more CPU than across a network, and less waiting.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REGION = "cn-hangzhou"
#: Objects the callbacks name (a HEAD costs the same whichever of them it asks about).
OBJECTS = 20
Record = Callable[..., None]


def start_oss(tmp: Path) -> Any:
    """A local OSS with :data:`OBJECTS` stored objects."""
    import oss2

    from osscallback.local.oss import LocalOSS

    oss = LocalOSS(data_dir=tmp / "confirm-oss", port=0, buckets=("examplebucket",))
    oss.start()
    bucket = oss2.Bucket(oss2.AuthV4(oss.access_key_id, oss.access_key_secret), oss.endpoint, oss.bucket,
                         region=oss.region)  # V4: the local OSS refuses V1, as a bucket created today does
    for i in range(OBJECTS):
        bucket.put_object(f"bench/confirm/{i}.txt", _content(i))
    return oss


def _content(i: int) -> bytes:
    return f"confirmed object {i}\n".encode()


def confirm_env(oss: Any, store: bool = False) -> dict[str, str]:
    """``CALLBACK_CONFIRM=head`` against ``oss``, with STS credentials as FC gives the function; ``store``: the
    ``oss://`` idempotency store in the same OSS too, as the templates deploy them."""
    key_id, secret, token = oss.issue_sts_token()
    extra = {"CALLBACK_IDEMPOTENCY_STORE": f"oss://{oss.bucket}/.osscallback/idempotency/?region={REGION}"
                                          f"&endpoint={oss.endpoint}&timeout=4"} if store else {}
    return {**extra, "CALLBACK_CONFIRM": "head", "CALLBACK_CONFIRM_ENDPOINT": oss.endpoint, "FC_REGION": REGION,
            "CALLBACK_ALLOWED_BUCKETS": oss.bucket, "ALIBABA_CLOUD_ACCESS_KEY_ID": key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret, "ALIBABA_CLOUD_SECURITY_TOKEN": token}


def signed_callback(key_server: Any, upload: int, tag: str) -> dict[str, Any]:
    """A callback as the shipped templates make it, for stored object ``upload % OBJECTS``, as a new upload."""
    from osscallback.testing import OssSigner, form_body

    i = upload % OBJECTS
    data = _content(i)
    fields = {"bucket": "examplebucket", "object": f"bench/confirm/{i}.txt",
              "etag": hashlib.md5(data).hexdigest().upper(), "size": str(len(data)),  # noqa: S324 - OSS's ETag
              "reqId": f"CONFIRM{tag.upper()}{upload:010d}"}
    signed = OssSigner(key_server.private_key, key_server.key_url).sign("http://cb.example.com/callback",
                                                                        form_body(fields))
    return {"headers": {k: v for k, v in signed.headers.items() if k != "Host"}, "body": signed.body}


def cold_requests(key_server: Any, runs: int, tag: str = "cold") -> list[str]:
    """``BENCH_REQUEST`` values for ``bench/first_callback.py``: one new upload per run."""
    out = []
    for run in range(runs):
        call = signed_callback(key_server, run, tag)
        out.append(json.dumps({"path": "/callback", "headers": call["headers"], "body": call["body"].decode()}))
    return out


def bench_confirm(quick: bool, record: Record, key_server: Any, tmp: Path) -> None:
    """Figure 2c: the core over new uploads with ``none`` and with ``head``, alternating, best round each."""
    from osscallback.callback.core import CallbackApp, CallbackRequest, normalize_headers

    n, rounds = (40, 2) if quick else (400, 5)
    oss = start_oss(tmp)
    try:
        base = {"CALLBACK_KEY_URL_PREFIXES": key_server.prefix}
        apps = {"none": CallbackApp.from_env(base), "head": CallbackApp.from_env({**base, **confirm_env(oss)})}
        pools: dict[str, list[Any]] = {}
        for mode, app in apps.items():
            calls = [signed_callback(key_server, u, mode) for u in range(n * rounds + 1)]
            pools[mode] = [CallbackRequest("POST", (("/callback", ""),), normalize_headers(c["headers"]), c["body"])
                           for c in calls]
            assert app.handle(pools[mode][-1]).status == 200  # key fetched, connection to OSS open
        best = {mode: float("inf") for mode in apps}
        for r in range(rounds):
            for mode, app in apps.items():
                batch = pools[mode][r * n: (r + 1) * n]
                started = time.perf_counter()
                for request in batch:
                    answer = app.handle(request)
                    assert answer.status == 200, answer.body
                best[mode] = min(best[mode], time.perf_counter() - started)
        per = {mode: best[mode] / n * 1e6 for mode in apps}
        replays = pools["head"][: min(n, 200)]
        started = time.perf_counter()
        for request in replays:
            assert apps["head"].handle(request).status == 200
        replay = (time.perf_counter() - started) / len(replays) * 1e6
        record("callback with CALLBACK_CONFIRM=head", per["head"], "us", "CALLBACK_CONFIRM=none", per["none"],
               per["head"] / per["none"], "(shown)", None,
               f"memory store, new uploads, one HEAD each to the local OSS on loopback, best of {rounds}; "
               f"a replay {replay:.0f} us (no HEAD)")
    finally:
        oss.stop()


