"""``osscallback redeliver`` run as a user runs it, where it cannot start: one readable line and exit status 2,
quickly (the delivery itself: tests/local/stack/test_dead_letters.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.delivery import closed_port

CLI = [sys.executable, "-m", "osscallback.cli", "redeliver"]


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OSS_", "FC_", "ALIBABA_CLOUD_"))}
    return subprocess.run([*CLI, *args], env={**clean, **env}, capture_output=True, text=True, timeout=60)


def test_it_needs_a_target() -> None:
    proc = _run()
    assert proc.returncode == 2 and "one of the arguments --endpoint --remote is required" in proc.stderr


def test_no_dead_letter_location_is_one_line() -> None:
    proc = _run("--remote")  # no OSS_BUCKET for the template's location (a local stack tells its own)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert "no dead-letter location" in line and "OSS_BUCKET" in line


def test_missing_credentials_and_an_unreachable_endpoint_are_one_line_each() -> None:
    port = closed_port()
    letters = ("--dead-letters", "oss://examplebucket/.osscallback/dead-letters/?region=cn-hangzhou",
               "--oss-endpoint", f"http://127.0.0.1:{port}")
    proc = _run("--endpoint", f"http://127.0.0.1:{port}", *letters)
    (line,) = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "OSS_ACCESS_KEY_ID" in line
    proc = _run("--endpoint", f"http://127.0.0.1:{port}", *letters, OSS_ACCESS_KEY_ID="id",
                OSS_ACCESS_KEY_SECRET="secret")
    (line,) = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and f"127.0.0.1:{port}" in line and "osscallback local" in line
    proc = _run("--endpoint", f"http://127.0.0.1:{port}")  # the stack is asked where its dead letters are
    (line,) = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and f"127.0.0.1:{port}" in line and "osscallback local" in line


def test_a_bad_time_is_a_usage_error() -> None:
    proc = _run("--remote", "--since", "yesterday")
    assert proc.returncode == 2 and "not a time: 'yesterday'" in proc.stderr


def test_remote_dead_letters_are_read_v4_in_the_region_the_endpoint_names(monkeypatch) -> None:
    """--remote reads through the region's public endpoint (V4, region FC_REGION's); an --oss-endpoint that is a
    standard endpoint names the region V4 signs with, whatever FC_REGION says."""
    import argparse

    from osscallback.cli.redeliver import _box

    monkeypatch.setenv("FC_REGION", "cn-hangzhou")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret")
    monkeypatch.delenv("OSS_ACCESS_KEY_ID", raising=False)
    args = argparse.Namespace(dead_letters="oss://examplebucket/dl/", endpoint=None, remote=True, oss_endpoint=None)
    box, _ = _box(args, "template.yml", None)  # the box, and the settings an OSS error names
    assert (box.spec.region, box.spec.endpoint) == ("cn-hangzhou", "https://oss-cn-hangzhou.aliyuncs.com")
    assert type(box.bucket.auth).__name__ == "ProviderAuthV4" and box.bucket.region == "cn-hangzhou"
    args.oss_endpoint = "https://oss-cn-shanghai.aliyuncs.com"
    box, _ = _box(args, "template.yml", None)  # the box, and the settings an OSS error names
    assert (box.spec.region, box.bucket.region) == ("cn-shanghai", "cn-shanghai")
