"""One name for the local OSS (issue 20): module, class, CLI and log lines say "local OSS", never "emulator".

The module that was ``local/oss/runner.py`` is ``local/oss/localoss.py`` (the old path is gone). A data directory
written before the rename (its AccessKey pair in ``emulator.json``) keeps its keys.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import osscallback
import osscallback.local.oss as local_oss
from osscallback.local.oss.localoss import IDENTITY_FILE, LEGACY_IDENTITY_FILE
from tests.support.oss_clients import v4_bucket

LIBRARY = Path(osscallback.__file__).resolve().parent
ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "osscallback.cli"]


def test_a_data_directory_from_before_the_rename_keeps_its_keys(tmp_path: Path) -> None:
    (tmp_path / LEGACY_IDENTITY_FILE).write_text(
        json.dumps({"access_key_id": "LTAIoldkeyid0000000000", "access_key_secret": "old-secret-000000000000000000"}),
        encoding="utf-8",
    )
    with local_oss.LocalOSS(tmp_path, port=0) as oss:
        assert (oss.access_key_id, oss.access_key_secret) == ("LTAIoldkeyid0000000000", "old-secret-000000000000000000")
        bucket = v4_bucket(oss, local_oss.DEFAULT_BUCKET)
        bucket.put_object("k", b"v")  # the old keys sign requests the local OSS accepts
    saved = json.loads((tmp_path / IDENTITY_FILE).read_text(encoding="utf-8"))
    assert saved == {"access_key_id": "LTAIoldkeyid0000000000", "access_key_secret": "old-secret-000000000000000000"}
    with local_oss.LocalOSS(tmp_path, port=0) as again:  # and from the new file on
        assert again.access_key_id == "LTAIoldkeyid0000000000"


@pytest.mark.parametrize("argv", [["local", "--help"], ["local", "oss", "--help"], ["--help"]])
def test_the_cli_calls_it_the_local_oss(argv: list[str]) -> None:
    out = subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "emulat" not in out.lower(), out
    if argv[:2] == ["local", "oss"]:
        assert "local OSS" in out


def test_nothing_calls_it_an_emulator() -> None:
    """The library (code, docstrings, log lines), the docs, the benchmarks and the tests; the one exception is the
    legacy file name read for old data directories (and this file, which names the word it looks for)."""
    files = [*LIBRARY.rglob("*.py"), *(ROOT / "docs").rglob("*.md"), ROOT / "README.md", *(ROOT / "bench").rglob("*.py"),
             *(ROOT / "tests").rglob("*.py")]
    found = []
    for path in sorted(set(files) - {Path(__file__).resolve()}):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            # "emulator" is the old name; Chromium's "network emulation" (the browser tests' DevTools throttling)
            # is another thing and may be named
            if re.search(r"emulator", line, re.IGNORECASE) and "LEGACY_IDENTITY_FILE" not in line:
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
