"""`osscallback upload FILE`: the upload library from the command line, against the local OSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "osscallback.cli", "upload", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})


@pytest.mark.parametrize(("size", "action"), [(300 * 1024, "multipart"), (1000, "put_file")])
def test_upload_command(env, bucket, tmp_path: Path, size: int, action: str) -> None:
    path = tmp_path / "file.bin"
    data = os.urandom(size)
    path.write_bytes(data)
    out = _cli(env, str(path), "--key", f"cli/{action}.bin", "--part-size", str(100 * 1024), "--template", "json-full",
               "--custom-var", "x:from=cli", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["action"] == action and result["callback_status"] == "ok"
    assert result["callback"]["callback"]["custom_vars"] == {"x:from": "cli"}
    assert bucket.get_object(f"cli/{action}.bin").read() == data


def test_upload_command_errors_are_one_line(env, tmp_path: Path) -> None:
    missing = _cli(env, str(tmp_path / "nope.bin"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no such file" in missing.stderr
    (tmp_path / "f").write_bytes(b"x")
    bad = _cli(env, str(tmp_path / "f"), "--var", "novalue")
    assert bad.returncode == 2 and "NAME=VALUE" in bad.stderr
