"""Timer triggers, fired on their schedule and on demand: what FC's time trigger does for the local host.

One daemon thread sleeps until the next firing of any function's enabled timer trigger and hands FC's time-trigger
event (:meth:`.timertrigger.TimerTrigger.event`) to the asynchronous invocation engine (``source`` ``timer:<name>``),
so a firing is recorded, retried and observed like any other asynchronous invocation. :meth:`Timers.fire` runs one
now, whatever its schedule (``LocalFCHost.fire_timer``; ``osscallback reconcile --endpoint`` invokes the reconcile
function directly instead).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from osscallback.local.fc.errors import UnknownFunctionError
from osscallback.local.fc.spec import FunctionSpec
from osscallback.local.fc.timertrigger import TimerTrigger

Submit = Callable[[FunctionSpec, bytes, str], Any]


class Timers:
    """The timer triggers of the functions ``specs()`` returns (read at every wake-up: deploys add some)."""

    def __init__(self, specs: Callable[[], list[FunctionSpec]], submit: Submit,
                 clock: Callable[[], float] = time.time) -> None:
        self._specs = specs
        self._submit = submit
        self._clock = clock
        self._next: dict[tuple[str, str, str], float] = {}
        self._wake = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.fired: list[tuple[str, str, float]] = []  # (function, trigger, when), for observers and tests

    def triggers(self) -> list[tuple[FunctionSpec, TimerTrigger]]:
        return [(spec, trigger) for spec in self._specs() for trigger in spec.timer_triggers]

    def fire(self, function: str, trigger: str | None = None) -> Any:
        """Fire ``function``'s timer trigger (its only one, or the one named) now; the queued invocation."""
        for spec, found in self.triggers():
            if function in (spec.name, spec.module) and trigger in (None, found.name):
                return self._fire(spec, found, self._clock())
        raise UnknownFunctionError(f"no timer trigger {trigger or ''} on function {function}".replace("  ", " "))

    def _fire(self, spec: FunctionSpec, trigger: TimerTrigger, when: float) -> Any:
        self.fired.append((spec.name, trigger.name, when))
        return self._submit(spec, trigger.event(when), f"timer:{trigger.name}")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="localfc-timers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        while True:
            now = self._clock()
            due: list[tuple[FunctionSpec, TimerTrigger]] = []
            earliest = now + 60.0
            for spec, trigger in self.triggers():
                if not trigger.enable:
                    continue
                key = (spec.service, spec.name, trigger.name)
                at = self._next.setdefault(key, trigger.schedule.next_after(now))
                if at <= now:
                    due.append((spec, trigger))
                    at = self._next[key] = trigger.schedule.next_after(now)
                earliest = min(earliest, at)
            for spec, trigger in due:
                with contextlib.suppress(UnknownFunctionError):  # undeployed meanwhile: this firing is dropped
                    self._fire(spec, trigger, now)
            with self._wake:
                if self._stopped:
                    return
                self._wake.wait(max(0.01, earliest - self._clock()))
                if self._stopped:
                    return


__all__ = ["Timers"]
