"""One local OSS per data directory, enforced with an advisory lock.

Two servers on one data directory corrupt each other quietly: each clears the other's staged request bodies at
start-up (``model.store`` removes leftovers of crashed runs), so the other's in-flight uploads fail with
``NoSuchUpload`` or a vanished part, far from the cause. Two ``osscallback local`` runs started side by side with the
default directory did exactly that. So a server holds an exclusive ``flock`` on ``<data dir>/.lock`` while it runs,
and a second one is refused at once with a message naming the holder and the fix.

``flock`` is released by the kernel when the holder exits, however it exits (SIGKILL included), so a crashed server
never leaves a stale lock behind; the pid written into the file is only for the message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from osscallback.errors import ConfigError

LOCK_NAME = ".lock"


class DataDirInUse(ConfigError):
    """Another local OSS is serving this data directory (``data_dir``; ``holder``: its pid, for messages)."""

    def __init__(self, data_dir: Path, holder: str) -> None:
        super().__init__(f"the local OSS data directory {data_dir} is in use by another local OSS (pid {holder}); "
                         "stop it, or give this one its own directory (--data-dir)")
        self.data_dir = data_dir
        self.holder = holder


class DataDirLock:
    """An exclusive, non-blocking lock on a data directory; ``acquire()`` raises :class:`DataDirInUse`."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        if self._file is not None:
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX (Windows): no advisory locks, run unguarded
            return
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise DataDirInUse(self.path.parent, holder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            handle.close()  # closing the descriptor drops the flock
