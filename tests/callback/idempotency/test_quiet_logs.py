"""Quiet logs: a normal duplicate check of the ``oss://`` store prints none of oss2's INFO "Exception: {...}" lines,
and oss2's real warnings still show (issue 19, item 6).

oss2 logs every error answer OSS gives at INFO (``oss2/api.py``: ``logger.info("Exception: {0}".format(e))``).
The store meets two on every duplicate: a claim refused with 409 ``FileAlreadyExists`` (``x-oss-forbid-overwrite``)
and a probe of the next marker answered 404 ``NoSuchKey``. Logging is set up as FC sets it up (a root handler at
INFO); the store, built as a function builds it at its cold start, holds oss2's logger at WARNING.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest

from osscallback.callback.idempotency.base import Idempotency
from osscallback.callback.idempotency.factory import StoreSpec, open_layer
from osscallback.local.oss import LocalOSS
from osscallback.upload.uploader import Credentials, Uploader, UploadSettings
from tests.support.delivery import oss_store_env
from tests.support.oss_clients import REGION

CONTROL_FLOW = ("Exception: {", "FileAlreadyExists", "NoSuchKey")


@pytest.fixture()
def fc_logging() -> Iterator[io.StringIO]:
    """The root logger at INFO with one handler, as FC's runtime configures it; oss2's logger as a fresh process
    has it (no level of its own). Both are put back afterwards."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(name)s %(message)s"))
    root, client = logging.getLogger(), logging.getLogger("oss2")
    saved = (root.level, client.level)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    client.setLevel(logging.NOTSET)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        client.setLevel(saved[1])


def _duplicate_check(env: dict[str, str], key: str) -> None:
    """What the functions do with one upload: the callback runs the action, the OSS-event backstop finds it done."""
    spec = StoreSpec.parse(env["CALLBACK_IDEMPOTENCY_STORE"], env)
    callback = Idempotency(open_layer(spec, max_entries=100, env=env))  # a function's cold start builds its store
    backstop = Idempotency(open_layer(spec, max_entries=100, env=env))
    runs: list[str] = []
    assert callback.run(key, lambda: runs.append("callback") or {"ok": True}) == ({"ok": True}, False)
    assert backstop.run(key, lambda: runs.append("backstop")) == ({"ok": True}, True)
    assert runs == ["callback"]


def test_a_duplicate_check_prints_no_oss2_control_flow(local_oss: LocalOSS, fc_logging: io.StringIO) -> None:
    env = oss_store_env(local_oss)
    _duplicate_check(env, "upload:quiet")
    quiet = fc_logging.getvalue()
    assert not [line for line in quiet.splitlines() if any(text in line for text in CONTROL_FLOW)], quiet
    assert logging.getLogger("oss2").getEffectiveLevel() == logging.WARNING

    # The control: the same check with oss2's logger back at its default level prints exactly those lines.
    spec = StoreSpec.parse(env["CALLBACK_IDEMPOTENCY_STORE"], env)
    layer = open_layer(spec, max_entries=100, env=env)
    logging.getLogger("oss2").setLevel(logging.NOTSET)  # undo what building the store did
    Idempotency(layer).run("upload:loud", lambda: {"ok": True})
    Idempotency(layer).run("upload:loud", lambda: None)
    loud = fc_logging.getvalue()[len(quiet):]
    assert "Exception: {" in loud and "FileAlreadyExists" in loud and "NoSuchKey" in loud, loud


@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")  # oss2's own call
def test_oss2_warnings_still_show(local_oss: LocalOSS, fc_logging: io.StringIO, tmp_path: Path) -> None:
    """A real oss2 warning and error: a resumable upload whose checkpoint record is corrupt (oss2/resumable.py
    logs ``Key not found`` at ERROR and ``The content of record is invalid, delete the record`` at WARNING)."""
    _duplicate_check(oss_store_env(local_oss), "upload:then-a-warning")  # oss2 is held at WARNING from here on
    bucket = oss2.Bucket(oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret), local_oss.endpoint,
                         local_oss.bucket, region=REGION)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(4096))
    store = oss2.ResumableStore(root=str(tmp_path / "records"))
    store.put(store.make_store_key(bucket.bucket_name, "resumable/big.bin", os.path.abspath(source)), {"junk": 1})
    oss2.resumable_upload(bucket, "resumable/big.bin", str(source), store=store, multipart_threshold=1024)
    assert bucket.get_object("resumable/big.bin").read() == source.read_bytes()
    logged = fc_logging.getvalue()
    assert "[WARNING] oss2.resumable The content of record is invalid, delete the record" in logged, logged
    assert "[ERROR] oss2.resumable Key not found" in logged, logged
    assert not [line for line in logged.splitlines() if line.startswith("[INFO] oss2")], logged


def test_an_application_s_own_oss2_level_is_kept(local_oss: LocalOSS, fc_logging: io.StringIO) -> None:
    """Someone debugging oss2 sets its level first; building the store does not override it."""
    logging.getLogger("oss2").setLevel(logging.DEBUG)
    _duplicate_check(oss_store_env(local_oss), "upload:debugging")
    assert logging.getLogger("oss2").level == logging.DEBUG
    assert "FileAlreadyExists" in fc_logging.getvalue()


def test_the_upload_function_holds_oss2_at_warning_too(local_oss: LocalOSS, fc_logging: io.StringIO) -> None:
    """The upload function's client: a put that OSS refuses (a missing bucket) is reported in the function's
    result, not as oss2's INFO line."""
    settings = UploadSettings(endpoint=local_oss.endpoint, bucket="no-such-bucket",
                              credentials=Credentials(local_oss.access_key_id, local_oss.access_key_secret),
                              region=local_oss.region)
    uploader = Uploader(settings)
    assert logging.getLogger("oss2").getEffectiveLevel() == logging.WARNING
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        uploader.bucket.put_object("k.txt", b"x")
    assert "Exception: {" not in fc_logging.getvalue(), fc_logging.getvalue()
