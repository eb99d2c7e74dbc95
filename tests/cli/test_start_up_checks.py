"""Bad settings of ``osscallback local`` / ``serve`` / ``local oss`` are refused at once, with the cause (issue 24,
point 3): exit status 2 and one readable line on stderr, before any event runs. Every case runs the real CLI as a
process; the Redis case uses a port nothing listens on, the ``oss://`` cases the local OSS itself.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OSSCALLBACK = str(Path(sys.executable).parent / "osscallback")
EVENT = str(ROOT / "events" / "upload-put.json")
STARTED = "LOCAL DEVELOPMENT"  # the stack's first line, printed once its servers are up


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def cli(*args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--data-dir", str(data_dir)] if data_dir is not None and args[:1] == ("local",) else []
    return subprocess.run([OSSCALLBACK, *args, *extra], cwd=ROOT, capture_output=True, text=True, timeout=120)


def one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    """The run failed with exit 2 and said why on one line (after argparse's usage line, for usage errors)."""
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr, out.stderr
    lines = [line for line in out.stderr.strip().splitlines() if not line.startswith(("usage:", " "))]
    assert len(lines) == 1, out.stderr
    assert STARTED not in out.stdout, out.stdout  # refused before the stack served anything
    return lines[0]


def local(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("local", "--once", "--quiet-functions", "--event", EVENT, *args, data_dir=tmp_path)


# ------------------------------------------------------------------------------------------------------ --store
def test_an_unreachable_redis_store_is_refused_at_start_up(tmp_path: Path) -> None:
    port = free_port()
    line = one_error_line(local(tmp_path, "--store", f"redis://127.0.0.1:{port}/0"))
    assert f"redis://127.0.0.1:{port}/0" in line and "does not answer" in line and "refused" in line.lower()


def test_the_memory_store_beside_an_oss_trigger_function_is_refused(tmp_path: Path) -> None:
    line = one_error_line(local(tmp_path, "--store", "memory"))
    assert "--store memory" in line and "oss-events" in line and "twice" in line


def test_an_oss_store_in_the_local_bucket_means_the_local_oss(tmp_path: Path) -> None:
    out = local(tmp_path, "--store", "oss://examplebucket/my-markers/", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "aliyuncs.com" not in out.stdout + out.stderr
    import oss2

    from osscallback.local.oss import LocalOSS
    from tests.support.oss_clients import v4_bucket

    oss = LocalOSS(data_dir=tmp_path, buckets=("examplebucket",)).start()  # the same data directory, reopened
    try:
        bucket = v4_bucket(oss, "examplebucket")
        markers = [o.key for o in oss2.ObjectIterator(bucket, prefix="my-markers/")]
    finally:
        oss.stop()
    assert markers, "the callback's idempotency marker is not in the local OSS"


def test_a_failed_callback_shows_the_callback_functions_own_error(tmp_path: Path) -> None:
    oss_port = free_port()  # a store on the local OSS, in a bucket it does not have: every claim fails
    out = local(tmp_path, "--oss-port", str(oss_port), "--store",
                f"oss://nosuchbucket/m/?endpoint=http://127.0.0.1:{oss_port}&region=cn-hangzhou")
    assert out.returncode == 1, out.stdout + out.stderr
    failed = [line for line in out.stdout.splitlines() if line.strip().startswith("error:")]
    assert failed and "Error status : 503" in failed[0]
    assert "IdempotencyStoreUnavailable" in failed[0] and "NoSuchBucket" in failed[0], failed


# -------------------------------------------------------------------------------------------------------- ports
@pytest.mark.parametrize("args", [
    ("local", "--once", "--oss-port", "99999"), ("local", "--once", "--fc-port", "65536"),
    ("local", "--inspector-port", "-1"), ("serve", "--port", "99999"), ("local", "oss", "--port", "99999"),
])
def test_ports_outside_0_to_65535_are_usage_errors(args: tuple[str, ...]) -> None:
    line = one_error_line(cli(*args))
    assert "is not a port number (0-65535" in line and args[-1] in line


@pytest.mark.parametrize("args", [
    ("local", "--once", "--quiet-functions", "--event", EVENT, "--oss-port"),
    ("local", "--once", "--quiet-functions", "--event", EVENT, "--fc-port"),
    ("local", "--quiet-functions", "--event", EVENT, "--inspector-port"),
    ("serve", "--port"),
    ("local", "oss", "--port"),
])
def test_every_address_in_use_error_names_the_port(args: tuple[str, ...], busy_port: int, tmp_path: Path) -> None:
    extra = ("--data-dir", str(tmp_path)) if args[:2] == ("local", "oss") else ()
    out = cli(*args, str(busy_port), *extra, data_dir=tmp_path)
    line = one_error_line(out)
    assert f"127.0.0.1:{busy_port}" in line and "in use" in line
    # issue 29, point 7: the fix on the same line (the option that sets this server's port), said once, no errno
    assert f"choose another port with {args[-1]}, or 0 for any free one" in line, line
    assert line.count("cannot listen") == 1 and "Errno" not in line, line


# ------------------------------------------------------------------------------------------------------- events
def test_an_event_file_that_names_no_function_explains_the_rule(tmp_path: Path) -> None:
    event = tmp_path / "notes.json"
    event.write_text("{}", encoding="utf-8")
    line = one_error_line(cli("local", "--once", "--event", str(event), data_dir=tmp_path / "data"))
    assert "<function>-<name>.json" in line and "'notes'" in line and "upload" in line


def test_an_events_directory_without_events_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    line = one_error_line(cli("local", "--once", "--events", str(tmp_path / "events"), data_dir=tmp_path / "data"))
    assert "no events in" in line and "<function>-<name>.json" in line


def test_a_malformed_event_names_line_and_column_before_any_server_starts(tmp_path: Path) -> None:
    events = tmp_path / "events"
    events.mkdir()
    (events / "upload-good.json").write_text('{"action": "put", "key": "a.txt", "content": "x"}', encoding="utf-8")
    (events / "upload-typo.json").write_text('{\n  "action": "put",\n  "key" "a.txt"\n}\n', encoding="utf-8")
    line = one_error_line(cli("local", "--once", "--events", str(events), data_dir=tmp_path / "data"))
    assert "upload-typo.json: line 3 column 9:" in line
    assert not (tmp_path / "data").exists()  # the local OSS never started (it creates its data directory)


def test_a_hyphenated_function_name_is_an_event_prefix_too(tmp_path: Path) -> None:
    """``oss-events-<name>.json`` goes to the oss-events function (the rule the error explains holds for it)."""
    event = tmp_path / "oss-events-empty.json"
    event.write_text("{}", encoding="utf-8")
    out = cli("local", "--once", "--quiet-functions", "--event", str(event), data_dir=tmp_path / "data")
    assert out.returncode == 1, out.stdout + out.stderr  # ran, and failed: {} is no OSS event
    assert "✘ oss-events-empty.json" in out.stdout and "InvalidOssEvent" in out.stdout, out.stdout
