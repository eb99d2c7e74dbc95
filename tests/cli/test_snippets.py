"""Every snippet ``osscallback local`` prints runs as pasted, in a clean shell (issue 24, point 1).

The test starts the real stack as a process, reads what it prints, and feeds each ``# N.`` block, byte for byte,
to ``env -i bash`` (no activated venv, no PATH of ours, another working directory). The one block that keeps
running (``osscallback serve``) runs in the background while the block after it uploads with a callback to it.
Serverless Devs' ``s`` runs only where it is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OSSCALLBACK = str(Path(sys.executable).parent / "osscallback")
END = "Ctrl-C stops everything."


def _printed(template: str, data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [OSSCALLBACK, "local", "--quiet-functions", "--no-inspector", "--data-dir", str(data_dir),
         "--template", str(ROOT / template), "--event", str(ROOT / "events" / "upload-put.json")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.strip() == END:
            break
    else:
        pytest.fail(f"osscallback local exited ({proc.wait()}) before its snippets:\n{''.join(lines)}")
    return proc, "".join(lines)


def blocks(printed: str) -> list[str]:
    """The ``# N. ...`` blocks, as printed (a block ends at a blank line)."""
    text = printed[printed.index("\n# 1. "):]
    return [b for b in text.split("\n\n") if re.match(r"\s*# \d+\. ", b)]


@pytest.fixture(scope="module", params=["template.fc2.yml", "template.yml"])
def printed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, text = _printed(request.param, tmp_path_factory.mktemp("stack"))
    try:
        yield text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def clean_shell(block: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["env", "-i", "bash"], input=block.strip() + "\n", capture_output=True, text=True,
                          cwd="/", timeout=120, **kwargs)  # type: ignore[call-overload]


def test_nothing_printed_is_indented(printed: str) -> None:
    code = printed[printed.index("\n# 1. "):]
    assert not [line for line in code.splitlines() if line[:1].isspace()], code
    assert "\nPY\n" in code  # the heredoc ends on a line of its own


def test_snippets_call_the_venvs_own_programs(printed: str) -> None:
    for block in blocks(printed):
        words = re.findall(r"(?:^|\s)(python3?|osscallback)(?=\s)", block)
        assert not words, f"bare {words} in:\n{block}"


def test_every_snippet_runs_as_pasted(printed: str) -> None:
    found = blocks(printed)
    assert len(found) >= 6
    serve = None
    ran = []
    try:
        for block in found:
            title = block.strip().splitlines()[0]
            if re.search(r"^s (config|deploy)", block, re.M) and shutil.which("s") is None:
                continue  # Serverless Devs is not installed here (npm i -g @serverless-devs/s)
            if " serve " in block:
                # A process group of its own: ending it ends the `osscallback serve` bash started, not only bash.
                serve = subprocess.Popen(["env", "-i", "bash"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True, cwd="/", start_new_session=True)
                assert serve.stdin is not None and serve.stdout is not None
                serve.stdin.write(block.strip() + "\n")
                serve.stdin.close()
                seen = []
                for line in serve.stdout:  # its local-development warning, then the URL it serves
                    seen.append(line)
                    if "listening on" in line:
                        break
                assert "listening on" in seen[-1], seen
                ran.append(title)
                continue
            out = clean_shell(block)
            assert out.returncode == 0, f"{title}\nexit {out.returncode}\n{out.stdout}\n{out.stderr}"
            assert "Traceback" not in out.stderr and "command not found" not in out.stderr, out.stderr
            _check(title, out.stdout)
            ran.append(title)
    finally:
        if serve is not None:
            os.killpg(serve.pid, signal.SIGTERM)
            serve.wait(timeout=30)
    assert any(" serve " in b for b in found) and len(ran) >= len(found) - 1, ran


def _check(title: str, stdout: str) -> None:
    """What each block must show, beyond exiting 0."""
    if "oss2" in title:
        status, _, body = stdout.strip().partition(" ")
        assert status == "200" and json.loads(body)["Status"] == "OK", stdout
    elif "refuses" in title:
        answer = json.loads(stdout)
        assert answer.get("error") and answer.get("ok") is not True, stdout
    elif "dead letters" in title:  # redeliver against the stack, with no OSS_BUCKET or FC_REGION (issue 29, point 2)
        assert stdout.startswith("0 dead letter(s): 0 delivered"), stdout
    elif title.endswith(("official SDK:", "with fc2:")):
        assert json.loads(stdout)["ok"] is True, stdout
    elif "upload" in title.lower():  # osscallback upload, to the stack's callback function or to `serve`
        result = json.loads(stdout)
        assert result["ok"] is True and result["callback_status"] == "ok", stdout


def test_what_signs_for_oss_signs_v4(printed: str) -> None:
    """A bucket created since 2025-09-01 refuses V1 (403, EC 0002-00000080): the oss2 block signs as oss2 documents
    V4 (AuthV4 and region=), the `osscallback upload` blocks give the region and leave the version at its default.
    Run as pasted against the local OSS above, which refuses V1 as such a bucket does once it does."""
    found = blocks(printed)
    oss2_blocks = [b for b in found if "import oss2" in b]
    assert oss2_blocks and all("oss2.AuthV4(" in b and "region='" in b for b in oss2_blocks), oss2_blocks
    assert not [b for b in found if re.search(r"oss2\.(Auth|StsAuth|AuthV2)\(|OSS_AUTH_VERSION", b)]
    uploads = [b for b in found if "/osscallback upload " in b]
    assert uploads and all("OSS_REGION=" in b for b in uploads), uploads


def test_fc3_snippets_name_the_fc3_template(printed: str) -> None:
    invoke = next(b for b in blocks(printed) if " invoke upload " in b)
    if "/2016-08-15/proxy/" in printed:  # FC 2.0: the stack's template.fc2.yml
        assert "--template " + str(ROOT / "template.fc2.yml") in invoke
    else:
        assert "--template " + str(ROOT / "template.yml") in invoke


def test_the_environment_is_clean() -> None:
    """The shell the snippets run in has no venv of ours: a bare ``osscallback`` is not found there."""
    out = clean_shell("command -v osscallback || echo none")
    assert out.stdout.strip() == "none" or not out.stdout.strip().startswith(str(Path(sys.executable).parent))
    assert "VIRTUAL_ENV" not in clean_shell("env").stdout and os.environ is not None


def test_the_docs_testing_snippet_prints_its_answer(tmp_path: Path) -> None:
    """docs/FUNCTIONS.md's "Testing your own callback code" runs as written and prints the function's answer."""
    page = (ROOT / "docs" / "FUNCTIONS.md").read_text(encoding="utf-8")
    section = page[page.index("## Testing your own callback code"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    script = tmp_path / "snippet.py"
    script.write_text(code.group(1), encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    status, _, body = out.stdout.strip().partition(" ")
    assert status == "200" and json.loads(body) == {"Status": "OK", "bucket": "b", "object": "a.txt"}, out.stdout


def test_the_local_oss_snippet_runs_as_pasted(tmp_path: Path) -> None:
    """``osscallback local oss`` prints one block too: unindented, the venv's python, runnable in a clean shell."""
    proc = subprocess.Popen([OSSCALLBACK, "local", "oss", "--data-dir", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line)
            if line.rstrip("\n") == "PY":
                break
        printed = "".join(lines)
        block = printed[printed.index("\n# Try it"):]
        assert not [line for line in block.splitlines() if line[:1].isspace()], block
        assert "oss2.AuthV4(" in block and "region='cn-hangzhou'" in block, block  # V4, as a new bucket requires
        out = clean_shell(block)
        assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr  # a fresh bucket
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_deploy_block_runs_in_a_fresh_shell(printed: str) -> None:
    """Issue 27: pasted into `env -i bash` with only HOME and a PATH that has `s`, the block finds this checkout's
    osscallback (for the pre-deploy actions), says how to install `s` when it is missing, and sets no variable to
    the empty string (`s` treats ${env('NAME')} set but empty as missing: "env('FC_ROLE_ARN') not found")."""
    (block,) = [b for b in blocks(printed) if "s deploy " in b]
    assert f"export PATH={Path(sys.executable).parent}:" in block
    assert "npm i -g @serverless-devs/s@3.1.10" in block and "command -v s " in block
    assert f"cd {ROOT}\n" in block and f"s deploy -t {ROOT / 'template.local.yml'} -a local -y" in block
    assert not re.search(r"\b[A-Z_]+=(\s|$)", block, re.M), block  # no NAME= with nothing after it
    assert "FC_ROLE_ARN" not in block  # template.local.yml names its own role
    missing = clean_shell(block.replace(f"cd {ROOT}\n", f"cd {ROOT}\nexit 0\n"))  # only the lines before `s`
    assert "s (Serverless Devs) is missing: npm i -g @serverless-devs/s@3.1.10" in missing.stderr or shutil.which("s")
