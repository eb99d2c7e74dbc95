"""What a reconciliation run costs (issue 30): a run over N objects, every one already delivered (the steady state),
against the naive way, one lookup per object, side by side over the same objects.

The objects and their delivered-index entries are written straight into a local OSS data directory (the store's
own record format, on tmpfs when there is one) before the local OSS starts: 100,000 uploads through HTTP would
take longer than the figure. Then, with the local OSS serving them on loopback in this process:

- **oss:// store**: :class:`Reconciler` lists the bucket and the index side by side (ListObjectsV2, 1,000 a
  request) and merges them; the baseline lists the bucket the same way and HEADs each object's index entry (what
  "list the bucket, look each object up in the store" costs), the HEADs timed over a sample and scaled to N (their
  count is exactly N);
- **Redis**: the same run with a page of 1,000 keys per pipelined round trip, against the listing plus one GET per
  object (all N).

Printed: seconds per run, requests per run, and the ratio; docs/BENCHMARKS.md turns them into cost per million.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

REGION = "cn-hangzhou"
BUCKET = "examplebucket"
PREFIX = "examples/"
INDEX = ".osscallback/idempotency/delivered/"
Record = Callable[..., None]


def _seed(root: Path, n: int) -> None:
    """``n`` objects under ``examples/`` and an index entry for each (written a second later, as a delivery is)."""
    from osscallback.local.oss.model.files import key_hash, new_id
    from osscallback.local.oss.model.records import ObjectMeta

    objects = root / "buckets" / BUCKET / "objects"
    objects.mkdir(parents=True, exist_ok=True)
    (root / "buckets" / BUCKET / "uploads").mkdir(exist_ok=True)
    (root / "buckets" / BUCKET / "bucket.json").write_text(json.dumps({"name": BUCKET, "created": time.time(),
                                                                       "acl": "private"}))
    stored = time.time() - 3600

    def put(key: str, body: bytes, when: float) -> str:
        h, data = key_hash(key), f"{key_hash(key)}.{new_id()}.data"
        (objects / data).write_bytes(body)
        etag = hashlib.md5(body).hexdigest().upper()  # noqa: S324 - OSS's ETag
        meta = ObjectMeta(key=key, size=len(body), etag=etag, crc64=0, content_type="text/plain", last_modified=when,
                          data_file=data)
        (objects / f"{h}.json").write_text(json.dumps(asdict(meta)))
        return etag

    for i in range(n):
        key = f"{PREFIX}{i:07d}.txt"
        etag = put(key, b"upload %d" % i, stored)
        put(f"{INDEX}{BUCKET}/{key}", etag.encode(), stored + 1)


def _app(env: dict[str, str]) -> Any:
    from osscallback.callback.config import CallbackConfig
    from osscallback.callback.core import CallbackApp

    return CallbackApp(CallbackConfig.from_env({**env, "CALLBACK_ACTION": "none"}))


def _reconciler(app: Any, oss: Any) -> Any:
    from osscallback.callback.ossclient import OssClient
    from osscallback.callback.reconcile import Reconciler
    from osscallback.callback.reconcile_oss import OssLister

    client = OssClient({"ALIBABA_CLOUD_ACCESS_KEY_ID": oss.access_key_id,  # V4, as the function lists
                        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": oss.access_key_secret})
    bucket = client.bucket(oss.endpoint, BUCKET, REGION, 10.0)
    return Reconciler(app, bucket=BUCKET, key_prefix=PREFIX, lister=OssLister(bucket), since=0.0, horizon=1e9)


def _list_only(reconciler: Any) -> float:
    """The bucket's listing alone: what the naive way pays before its per-object lookups."""
    started = time.perf_counter()
    for _ in reconciler.lister.pages(PREFIX):
        pass
    return time.perf_counter() - started


def _run(reconciler: Any) -> tuple[float, Any]:
    from osscallback.callback.reconcile import Options

    started = time.perf_counter()
    report = reconciler.run(Options(settle=0, dry_run=True))
    return time.perf_counter() - started, report.summary


def bench_reconcile(quick: bool, record: Record, tmp: Path, redis_url: str) -> None:
    import redis

    from osscallback.local.oss import LocalOSS

    n = 2_000 if quick else 100_000
    sample = 500 if quick else 5_000
    shm = Path("/dev/shm")
    root = Path(tmp if not shm.is_dir() else shm) / f"reconcile-bench-{os.getpid()}"
    print(f"7. reconciliation over {n:,} objects, all delivered (seeding the local OSS)", flush=True)
    try:
        _seed(root / "oss" / "data", n)  # LocalOSS keeps its store under <data_dir>/data
        with LocalOSS(data_dir=root / "oss", port=0, buckets=(BUCKET,)) as oss:
            key_id, secret, token = oss.issue_sts_token()
            env = {"CALLBACK_IDEMPOTENCY_STORE": f"oss://{BUCKET}/.osscallback/idempotency/?region={REGION}"
                                                 f"&endpoint={oss.endpoint}&timeout=4",
                   "ALIBABA_CLOUD_ACCESS_KEY_ID": key_id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
                   "ALIBABA_CLOUD_SECURITY_TOKEN": token}
            app = _app(env)
            listing = _list_only(_reconciler(app, oss))
            seconds, summary = _run(_reconciler(app, oss))
            assert summary.already_delivered == n and summary.would_deliver == 0, summary
            index = app.idempotency.layer.delivered
            started = time.perf_counter()
            for i in range(sample):
                assert index.get_delivered(BUCKET, f"{PREFIX}{i:07d}.txt") is not None
            naive = listing + (time.perf_counter() - started) / sample * n
            requests = summary.list_requests + summary.index_requests
            record(f"reconcile {n:,} objects, oss:// store", seconds, "s", "list + 1 HEAD/object (scaled)", naive,
                   seconds / naive, "-", None,
                   f"{requests} list requests ({summary.list_requests} bucket + {summary.index_requests} index) "
                   f"vs {n:,} HEADs; naive timed over {sample:,}")

            redis_env = {"CALLBACK_IDEMPOTENCY_STORE": redis_url}
            client = redis.Redis.from_url(redis_url)
            pipe = client.pipeline(transaction=False)
            for i in range(n):
                key = f"{PREFIX}{i:07d}.txt"
                etag = hashlib.md5(b"upload %d" % i).hexdigest().upper()  # noqa: S324
                pipe.set(f"osscallback:idempotency:delivered:{{{BUCKET}/{key}}}",
                         json.dumps({"etag": etag, "at": time.time(), "source": "callback"}))
            pipe.execute()
            app = _app(redis_env)
            seconds, summary = _run(_reconciler(app, oss))
            assert summary.already_delivered == n, summary
            started = time.perf_counter()
            for i in range(n):
                client.get(f"osscallback:idempotency:delivered:{{{BUCKET}/{PREFIX}{i:07d}.txt}}")
            naive = listing + time.perf_counter() - started
            client.close()
            record(f"reconcile {n:,} objects, Redis store", seconds, "s", "list + 1 GET per object", naive,
                   seconds / naive, "-", None,
                   f"{summary.list_requests} list requests + {summary.index_requests} pipelines vs {n:,} GETs "
                   "(the listing is the same in both)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
