"""Processes the test run started that are still running when it ends (issue 29, point 3), read from ``/proc``.

A test that ends only the ``bash`` it started leaves what bash started running, reparented away from the suite
(two ``osscallback serve`` were found under PID 1 long after a run). So the suite makes itself a *child
subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``, Linux >= 3.4; man 2 prctl): a descendant whose parent exits is
reparented to the pytest process instead of init, and every process the suite started, however deep, stays its
descendant until it exits. At the end of the session :func:`leftovers` lists the live ones after a grace period
(those still stopping), and tests/conftest.py kills them and fails the run. No psutil: ``/proc/<pid>/stat`` gives
the parent and the state (``Z``: exited, waiting for its reaper), ``/proc/<pid>/cmdline`` the command.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def become_subreaper() -> bool:
    """Orphaned descendants come back to this process instead of init (False where that is not available)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) for every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
            except (OSError, ValueError):
                continue
            table[int(entry)] = (int(ppid), state)
    return table


def _descendants(root: int) -> dict[int, str]:
    table = _processes()
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, state) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = state
                todo.append(pid)
    return found


def _reap(root: int) -> None:
    """Collect the exit status of exited direct children (the subreaper's orphans nobody else waits for)."""
    for pid, (ppid, state) in _processes().items():
        if ppid == root and state == "Z":
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip() or "?"
    except OSError:
        return "?"


def leftovers(grace: float = 10.0, root: int | None = None) -> list[int]:
    """Descendants of ``root`` (this process) still running after ``grace`` seconds."""
    root = os.getpid() if root is None else root
    deadline = time.monotonic() + grace
    while True:
        _reap(root)
        alive = [pid for pid, state in _descendants(root).items() if state != "Z"]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.2)


def kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.2)
    _reap(os.getpid())
