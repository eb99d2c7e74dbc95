"""Issue 24, point 4: the samples the docs show are what the stack prints, the options a newcomer needs are
documented, the FC 3.0 inspector names functions as FC 3.0 does, and the doctor's messages say what they mean.
Real processes throughout (the stack, the doctor), as a user runs them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OSSCALLBACK = str(Path(sys.executable).parent / "osscallback")
PORT = re.compile(r"127\.0\.0\.1:\d+")


def _sample(page: Path) -> list[str]:
    """The sample output block of ``osscallback local --once`` on ``page`` (the one with the summary line)."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return next(b for b in blocks if any("events succeeded" in line for line in b))


@pytest.fixture(scope="module")
def once(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    # The README's command as written: no --data-dir (--once runs on a throw-away one), no --quiet-functions.
    tmp = tmp_path_factory.mktemp("once")
    out = subprocess.run([OSSCALLBACK, "local", "--once"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "TMPDIR": str(tmp)})
    assert out.returncode == 0, out.stdout + out.stderr
    return out


@pytest.mark.parametrize("page", ["README.md", "docs/LOCAL_STACK.md"])
def test_the_sample_output_is_what_the_stack_prints(page: str, once: subprocess.CompletedProcess[str]) -> None:
    printed = [PORT.sub("127.0.0.1:PORT", line) for line in once.stdout.splitlines()]
    at = 0
    for line in _sample(ROOT / page):
        if line.strip() == "...":
            continue
        wanted = PORT.sub("127.0.0.1:PORT", line)
        assert wanted in printed[at:], f"{page}: {line!r} is not printed (in this order) by osscallback local --once"
        at = printed.index(wanted, at) + 1


def test_once_prints_only_what_the_readme_shows(once: subprocess.CompletedProcess[str]) -> None:
    assert once.stderr == "", once.stderr[:500]  # the functions' logs only on request or on failure (issue 29)


def test_the_docs_say_how_to_quiet_the_functions_and_reset_the_data_directory() -> None:
    from osscallback.local.oss import default_data_dir

    page = (ROOT / "docs" / "LOCAL_STACK.md").read_text(encoding="utf-8")
    assert "`--quiet-functions`" in page
    assert default_data_dir().parts[-2:] == ("osscallback", "local-oss")
    assert "rm -rf ~/.cache/osscallback/local-oss" in page  # platformdirs' Linux default (XDG cache)
    out = subprocess.run([OSSCALLBACK, "local", "oss", "--help"], capture_output=True, text=True, timeout=60)
    # "--help prints yours", as the page says. argparse wraps long help at spaces and after hyphens (textwrap), so
    # /tmp/nc-cache may print as "/tmp/nc-" + newline + "cache": compare with every blank taken out of both.
    assert re.sub(r"\s+", "", str(default_data_dir())) in re.sub(r"\s+", "", out.stdout)


def test_the_fc3_inspector_names_functions_without_a_leading_slash(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [OSSCALLBACK, "local", "--json", "--quiet-functions", "--data-dir", str(tmp_path), "--template",
         str(ROOT / "template.yml"), "--event", str(ROOT / "events" / "upload-put.json")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        info = next(doc for doc in map(json.loads, proc.stdout) if "inspector_url" in doc)
        events: list[dict[str, object]] = []
        deadline = time.monotonic() + 30
        while not events and time.monotonic() < deadline:  # the OSS event is delivered asynchronously
            with urllib.request.urlopen(str(info["inspector_url"]) + "api/events", timeout=10) as resp:  # noqa: S310
                events = json.load(resp)["events"]
            time.sleep(0.2)
        assert events, "no OSS-trigger event reached the inspector"
        names = {str(e["function"]) for e in events}
        assert all(not n.startswith("/") for n in names) and "oss-callback-fc-oss-events" in names, names
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_doctor_timeout_0_names_the_range_it_accepts() -> None:
    out = subprocess.run([OSSCALLBACK, "doctor", "http://127.0.0.1:9/", "--timeout", "0"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip() == ("osscallback: error: --timeout must be more than 0 and at most 60 seconds, "
                                  "not 0")


def test_one_check_is_one_check() -> None:
    # ".invalid" never resolves (RFC 2606), so the address check fails and nothing else runs
    out = subprocess.run([OSSCALLBACK, "doctor", "http://osscallback.invalid/", "--timeout", "2"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stdout.strip().splitlines()[-1] == "1 check: 0 passed, 0 warnings, 1 failed", out.stdout
