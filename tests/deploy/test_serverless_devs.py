"""The deploy rehearsal with the real Serverless Devs: ``s`` 3.1.10 and fc3 deploy the bundle into the local stack.

What a user does (issue 27): start ``osscallback local``, paste the block it prints under "Deploy with Serverless
Devs" into a fresh shell, then ``s info``, ``s upload invoke``, change a function and deploy again, ``s remove``.
Everything runs for real: ``s`` from the repository's pinned ``package.json`` (``npm ci``), the unmodified fc3
0.1.22 built in ``../shared/tools/fc3`` (its README: how ``s`` loads a component from ``$HOME/.s/components``
without the registry), the stack as a process. The printed block runs exactly as printed in ``env -i bash`` with
only ``HOME`` (a directory of the test's own) and a ``PATH`` that has ``s`` and ``node``.

Offline: ``s`` 3.1.10 starts detached daemons (``lib/daemon/update-cli.js``, ``report.js``,
``update-component.js``) that reach the Serverless Devs registry and telemetry; its launcher skips ``report.js``
when ``$HOME/.s/set-config.yml`` says ``analysis: disable``, ``update-cli.js`` while
``$HOME/.s/config/update-notifier.json``'s ``lastUpdateCheck`` is recent, and ``update-component.js`` while the
component's ``.s.lock`` ``lastUpdateCheck`` is (read in ``node_modules/@serverless-devs/s/lib/index.js``). The test's
HOME says all three, so nothing outlives a command; every process the test starts runs in a session of its own, is
killed at its timeout, and none may be left at the end. The one network call left is ``s config add``'s STS
GetCallerIdentity (``https://sts.cn-hangzhou.aliyuncs.com``, a 10 s timeout in ``s``; it keeps the ``--AccountID``
given when the call fails).

Select it with ``-m serverless_devs``; it skips (one line) where ``../shared/tools/fc3`` (or ``$OSSCALLBACK_FC3``) or ``s`` is absent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.request import urlopen

import pytest

from tests.cli.test_snippets import blocks

ROOT = Path(__file__).resolve().parents[2]
# CI's built fc3, beside the checkout; OSSCALLBACK_FC3 names it for a clone or worktree elsewhere
FC3 = Path(os.environ.get("OSSCALLBACK_FC3") or ROOT.parent / "shared" / "tools" / "fc3")
S = ROOT / "node_modules" / ".bin" / "s"
NODE = shutil.which("node")
OSSCALLBACK = str(Path(sys.executable).parent / "osscallback")
END = "Ctrl-C stops everything."
FUNCTIONS = ("oss-callback-fc-callback", "oss-callback-fc-upload", "oss-callback-fc-oss-events",
             "oss-callback-fc-dead-letters", "oss-callback-fc-policy", "oss-callback-fc-reconcile")
NEVER = 9999999999999  # a lastUpdateCheck in the future: no update check

pytestmark = [
    pytest.mark.serverless_devs,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(not FC3.is_dir(), reason=f"{FC3} is absent (set OSSCALLBACK_FC3 to a built fc3, or rehearse by hand: docs/DEPLOY.md)"),
    pytest.mark.skipif(not S.exists(), reason="s is not installed: run `npm ci` at the repository root"),
    pytest.mark.skipif(NODE is None, reason="node is not installed (apt-get install nodejs npm)"),
]


# ------------------------------------------------------------------------------------------------ the user's HOME
def s_home(home: Path) -> Path:
    """A HOME where ``s`` finds fc3 (and a do-nothing fc3-domain) in its component cache and checks nothing."""
    components = home / ".s" / "components" / "devsapp.cn" / "v3"
    shutil.copytree(FC3, components / "fc3", ignore=shutil.ignore_patterns("node_modules"))
    (components / "fc3" / ".s.lock").write_text(json.dumps({"version": "0.1.22", "lastUpdateCheck": NEVER}))
    domain = components / "fc3-domain"  # fc3 loads it even for a template without customDomain (fc3's README)
    domain.mkdir(parents=True)
    (domain / ".s.lock").write_text(json.dumps({"version": "0.0.1", "lastUpdateCheck": NEVER}))
    (domain / "package.json").write_text(json.dumps({"name": "fc3-domain", "main": "index.js"}))
    (domain / "index.js").write_text("module.exports = class {\n  async deploy() { return {}; }\n"
                                     "  async info() { return {}; }\n  async plan() { return {}; }\n"
                                     "  async remove() { return {}; }\n};\n")
    (home / ".s" / "set-config.yml").write_text("analysis: disable\n")
    (home / ".s" / "config").mkdir()
    (home / ".s" / "config" / "update-notifier.json").write_text(json.dumps({"lastUpdateCheck": NEVER}))
    return home


# ------------------------------------------------------------------------------------------------ processes
@dataclass
class Stack:
    """``osscallback local`` as a process: what it printed, and every line after (the functions' logs)."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    printed: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def since(self, start: int) -> list[str]:
        with self._lock:
            return self.lines[start:]

    def wait_for(self, predicate: Callable[[list[str]], object], start: int = 0, within: float = 120.0) -> list[str]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if predicate(self.since(start)):
                return self.since(start)
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("the stack never printed what was awaited:\n" + "\n".join(self.since(start)[-60:]))


def shell(script: str, home: Path, timeout: float, cwd: Path = Path("/")) -> subprocess.CompletedProcess[str]:
    """``script`` in ``env -i bash`` with only HOME and a PATH that has ``s`` (and the ``node`` it runs on)."""
    path = os.pathsep.join(dict.fromkeys([str(S.parent), str(Path(NODE or "/usr/bin/node").parent), "/usr/bin", "/bin"]))
    proc = subprocess.Popen(["env", "-i", f"HOME={home}", f"PATH={path}", "bash"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(script.strip() + "\n", timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_session(proc.pid)
        out, _ = proc.communicate()
        pytest.fail(f"timed out after {timeout:.0f} s:\n{script}\n{out[-4000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def _kill_session(sid: int) -> None:
    """Kill the session ``sid`` (a command past its timeout, and everything it started). A command that ended
    normally is not cleaned up after: what it left running is found by :func:`with_home` and fails the test."""
    try:
        os.killpg(sid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def with_home(home: Path) -> list[int]:
    """Live processes whose environment has our HOME: what ``s`` or its daemons left running."""
    found = []
    needle = f"HOME={home}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env and state != "Z":
            found.append(int(entry))
    return found


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = s_home(tmp_path_factory.mktemp("home"))
    yield path
    left = with_home(path)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left running with the test's HOME: {left}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    proc = subprocess.Popen(
        [OSSCALLBACK, "local", "--template", str(ROOT / "template.yml"), "--data-dir",
         str(tmp_path_factory.mktemp("oss")), "--event", str(ROOT / "events" / "upload-put.json")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    running = Stack(proc)
    reader = threading.Thread(target=running.read, daemon=True)
    reader.start()
    try:
        running.printed = "\n".join(running.wait_for(lambda lines: END in lines, within=180))
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        _kill_session(proc.pid)
        reader.join(timeout=10)


# ------------------------------------------------------------------------------------------------ the printed block
@dataclass(frozen=True)
class Deploy:
    """The printed deploy block, and the same settings for the commands that follow it."""

    block: str
    template: str  # as printed after `s deploy -t`
    alias: str

    def then(self, command: str) -> str:
        """The block with its ``s deploy ...`` replaced by ``command`` (and without ``s config add``: done once)."""
        lines: list[str] = []
        skipping = False
        for line in self.block.splitlines():
            if line.startswith("s config add") or skipping:
                skipping = line.endswith("\\")
                continue
            lines.append(line)
        text = "\n".join(lines)
        replaced, count = re.subn(r"\bs deploy\b[^\n]*", lambda _: command, text)
        assert count == 1, text
        return replaced


def deploy_block(printed: str) -> Deploy:
    block = next((b for b in blocks(printed) if re.search(r"\bs deploy\b", b)), None)
    assert block is not None, f"no `s deploy` block in what the stack printed:\n{printed}"
    found = re.search(r"\bs deploy -t (\S+).*?-a (\S+)", block)
    assert found is not None, block
    return Deploy(block, found.group(1), found.group(2))


def invoke_result(out: str) -> dict[str, object]:
    """The JSON ``s <fn> invoke`` prints after "Invoke Result:"."""
    text = out[out.index("Invoke Result:") + len("Invoke Result:"):].strip()
    doc, _ = json.JSONDecoder().raw_decode(text)
    assert isinstance(doc, dict), text
    return doc


def answered(debug_log: str) -> None:
    """No FC API call ``s --debug`` logged was refused as one the local host does not serve."""
    refused = [line for line in debug_log.splitlines() if "PathNotSupported" in line]
    assert not refused, "\n".join(refused[:20])


def fc_functions(stack: Stack) -> set[str]:
    """The function names the stack's FC host lists (``GET /`` on its endpoint)."""
    endpoint = re.search(r"local FC at (http://\S+)", stack.printed)
    assert endpoint is not None, stack.printed
    with urlopen(endpoint.group(1) + "/", timeout=30) as resp:  # noqa: S310 - the stack's own loopback URL
        return {f["function"] for f in json.loads(resp.read())["functions"]}


# ------------------------------------------------------------------------------------------------ the rehearsal
def test_deploy_info_invoke_redeploy_remove_with_the_real_s(stack: Stack, home: Path,
                                                            tmp_path: Path) -> None:
    deploy = deploy_block(stack.printed)
    s = f"-t {deploy.template} -a {deploy.alias}"
    started = time.monotonic()

    def step(name: str) -> None:  # the wall time of each step, shown with the test's output
        print(f"{time.monotonic() - started:6.1f} s  {name}", flush=True)

    # 1. the printed block, exactly as printed: every function built, uploaded and deployed by fc3
    step("the printed block")
    out = shell(deploy.block, home, timeout=600)
    assert out.returncode == 0, f"the printed deploy block failed:\n{deploy.block}\n{out.stdout[-6000:]}"
    assert set(FUNCTIONS) <= fc_functions(stack)
    if sys.version_info[:2] != (3, 12):  # the host runs the cp312 package on its own Python, and says so
        assert any("oss-callback-fc-callback | note: the package was built for python3.12" in line
                   and "_cffi_backend" in line for line in stack.since(0)), "\n".join(stack.since(0)[-40:])

    # 2. s info: every function, and the callback function's URL
    step("s info")
    out = shell(deploy.then(f"s info {s} --debug"), home, timeout=120)
    assert out.returncode == 0, out.stdout[-4000:]
    answered(out.stdout)
    assert all(name in out.stdout for name in FUNCTIONS), out.stdout[-4000:]
    assert "system_url:" in out.stdout and "maxAsyncRetryAttempts" in out.stdout, out.stdout[-4000:]
    # the reconcile function's timer trigger, deployed by fc3 from template.yml through template.local.yml's extend
    assert re.search(r"triggerName:\s+reconcile-timer", out.stdout) and "@every 10m" in out.stdout, \
        out.stdout[-4000:]

    out = shell(deploy.then(f"s plan {s} --debug"), home, timeout=120)  # plan reads every config, then diffs
    assert out.returncode == 0, out.stdout[-4000:]
    answered(out.stdout)

    # 3. s upload invoke with the repository's event: an upload with a callback to the deployed callback function
    step("s upload invoke")
    out = shell(deploy.then(f"s upload invoke {s} --event-file events/upload-put.json"), home, 120, ROOT)
    assert out.returncode == 0, out.stdout[-4000:]
    result = invoke_result(out.stdout)
    assert result["ok"] is True and result["callback_status"] == "ok", result
    assert "rehearsal" not in result
    assert re.search(r"Invoke instanceId: c-[0-9a-f]{8}-", out.stdout), out.stdout[-4000:]  # FC's answer headers
    assert re.search(r"Code Checksum: \d+", out.stdout), out.stdout[-4000:]

    # 4. an upload the OSS-event backstop sees too: the action runs exactly once (the functions' log lines), under
    # each backstop prefix: examples/ (the first OSS trigger) and uploads/ (the second, fc3 deploys both)
    step("an upload the OSS-event backstop sees too")
    for prefix in ("examples/", "uploads/"):
        key = f"{prefix}rehearsal/{uuid.uuid4().hex}.txt"
        event = tmp_path / "event.json"
        event.write_text(json.dumps({"action": "put", "key": key, "content": "rehearsed\n", "template": "json-full"}))
        mark = len(stack.since(0))
        out = shell(deploy.then(f"s upload invoke {s} --event-file {event}"), home, 120)
        assert out.returncode == 0 and invoke_result(out.stdout)["callback_status"] == "ok", out.stdout[-4000:]

        def runs(lines: list[str], key: str = key) -> list[str]:
            return [line for line in lines if '"action": "log"' in line and key in line]

        def both(got: list[str], key: str = key) -> bool:  # the callback and the event each reached a function
            return any("duplicate" in ln and key in ln for ln in got) and bool(runs(got))

        lines = stack.wait_for(both, mark, 60)
        # the other path found the upload delivered: "duplicate" in the OSS-event function's or the callback's line
        time.sleep(1)  # a second run, were there one, would be logged by now
        assert len(runs(stack.since(mark))) == 1, "\n".join(lines)
        # (either path may be first: the local OSS sends the event and the callback concurrently, as OSS does)
        inspector = re.search(r"Inspector: (http://\S+/)", stack.printed)
        assert inspector is not None, stack.printed
        with urlopen(inspector.group(1) + "api/callbacks", timeout=30) as resp:  # noqa: S310 - the stack's loopback
            sent = [c for c in json.loads(resp.read())["callbacks"] if c["object"] == key]
        assert [c["status"] for c in sent] == [200], sent  # OSS called the deployed callback function once, answered

    # 5. change the upload function in a copy of the project, deploy it alone, and the change is what runs
    step("change the upload function")
    project = tmp_path / "project"
    shutil.copytree(ROOT / "functions", project / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    for template in ROOT.glob("template*.yml"):
        shutil.copy2(template, project / template.name)
    marker = uuid.uuid4().hex
    with (project / "functions" / "upload" / "index.py").open("a") as f:
        f.write(f"\n\n_shipped = handler\n\n\ndef handler(event, context):\n"
                f"    return json.dumps({{**json.loads(_shipped(event, context)), 'rehearsal': '{marker}'}})\n")
    copied = project / Path(deploy.template).name
    out = shell(deploy.then(f"s upload deploy -t {copied} -a {deploy.alias} -y"), home, timeout=300)
    assert out.returncode == 0, out.stdout[-6000:]
    out = shell(deploy.then(f"s upload invoke {s} --event-file events/upload-put.json"), home, 120, ROOT)
    assert out.returncode == 0 and invoke_result(out.stdout).get("rehearsal") == marker, out.stdout[-4000:]

    # 6. s remove: functions and triggers gone; invoking one fails as FC does
    step("s remove")
    callback_url = re.search(r"system_url:\s+(http://\S+)", shell(deploy.then(f"s callback info {s}"), home, 120)
                             .stdout)
    out = shell(deploy.then(f"s remove {s} -y --debug"), home, timeout=180)
    assert out.returncode == 0, out.stdout[-4000:]
    answered(out.stdout)  # remove logs a failed call and goes on: its debug log must show none
    # every function gone: the host refuses DeleteFunction while a trigger is left (FC's FunctionNotEmpty), so fc3
    # removed each trigger the template lists, both OSS triggers of oss-events included
    assert not set(FUNCTIONS) & fc_functions(stack)
    out = shell(deploy.then(f"s upload invoke {s} --event-file events/upload-put.json"), home, 120, ROOT)
    assert out.returncode != 0 and "FunctionNotFound" in out.stdout and "404" in out.stdout, out.stdout[-4000:]
    if callback_url is not None:  # its HTTP trigger's function URL is closed with it
        with pytest.raises(OSError):
            urlopen(callback_url.group(1), timeout=10)  # noqa: S310
    step("done")
