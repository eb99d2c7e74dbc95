"""FC timer triggers: the schedule (``cronExpression``) and the event a firing hands the function.

The syntax is FC's (TimerTriggerConfig, https://www.alibabacloud.com/help/en/functioncompute/api-fc-2023-03-30-struct-
timertriggerconfig: "@every 4m", or a cron expression such as "0 0 4 * * *"): ``@every <n>h<n>m<n>s`` or six cron
fields, seconds first (``second minute hour day-of-month month day-of-week``; ``*``, ``?``, ``a-b``, ``a,b``,
``*/n``, ``a-b/n``), in UTC unless prefixed by ``CRON_TZ=<zone>``. The event is FC's documented time-trigger event
(FC, "Formats of event for different triggers", Time trigger:
https://www.alibabacloud.com/help/en/fc/formats-of-event-for-different-triggers)::

    {"triggerTime": "2018-02-09T05:49:00Z", "triggerName": "timer-trigger", "payload": "awesome-fc"}
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from osscallback.local.fc.errors import LocalFCError

_UNITS = {"h": 3600, "m": 60, "s": 1}
_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))  # second minute hour dom month dow


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body in ("*", "?"):
            start, end = low, high
        elif "-" in body:
            start, end = (int(x) for x in body.split("-", 1))
        else:
            start = int(body)
            end = high if step_text else start
        if not (low <= start <= end <= high) or step < 1:
            raise ValueError(part)
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    """When a timer fires: every ``every`` seconds, or at the times the cron fields allow."""

    expression: str
    every: float = 0.0
    fields: tuple[frozenset[int], ...] = ()
    offset: float = 0.0  # seconds east of UTC for CRON_TZ (fixed; no daylight saving)

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        text = expression.strip()
        if text.startswith("@every"):
            spec = text[len("@every"):].strip()
            parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", spec)
            if not parts or "".join(n + u for n, u in parts) != spec:
                raise LocalFCError(f"timer trigger: {expression!r}: use @every 10m (h, m, s)")
            return cls(text, every=sum(float(n) * _UNITS[u] for n, u in parts))
        offset = 0.0
        if text.startswith("CRON_TZ="):
            zone, _, text = text.partition(" ")
            offset = _zone_offset(zone.split("=", 1)[1])
        words = text.split()
        try:
            if len(words) != 6:
                raise ValueError("six fields")
            fields = tuple(_field(w, lo, hi) for w, (lo, hi) in zip(words, _RANGES, strict=True))
        except ValueError:
            raise LocalFCError(f"timer trigger: {expression!r}: use six cron fields, seconds first "
                               "('0 */10 * * * *'), or @every 10m") from None
        return cls(expression, fields=fields, offset=offset)

    def next_after(self, now: float) -> float:
        """The first firing strictly after ``now`` (epoch seconds)."""
        if self.every:
            return now + self.every
        seconds, minutes, hours, days, months, weekdays = self.fields
        start = int(now) + 1
        minute = start - start % 60
        for _ in range(366 * 24 * 60):
            tm = time.gmtime(minute + self.offset)
            weekday = (tm.tm_wday + 1) % 7  # cron: Sunday is 0
            if (tm.tm_min in minutes and tm.tm_hour in hours and tm.tm_mday in days and tm.tm_mon in months
                    and weekday in weekdays):
                for second in sorted(seconds):
                    if minute + second >= start:
                        return float(minute + second)
            minute += 60
        raise LocalFCError(f"timer trigger: {self.expression!r} never fires")


def _zone_offset(zone: str) -> float:
    known = {"UTC": 0.0, "Asia/Shanghai": 8 * 3600.0, "Asia/Hong_Kong": 8 * 3600.0, "Asia/Singapore": 8 * 3600.0}
    if zone not in known:
        raise LocalFCError(f"timer trigger: CRON_TZ={zone}: the local host knows {', '.join(known)}")
    return known[zone]


@dataclass(frozen=True)
class TimerTrigger:
    name: str
    schedule: Schedule
    enable: bool = True
    payload: str = ""

    @classmethod
    def from_config(cls, name: str, config: Mapping[str, Any]) -> TimerTrigger:
        expression = str(config.get("cronExpression") or "")
        if not expression:
            raise LocalFCError(f"timer trigger {name!r} has no cronExpression")
        enable = config.get("enable", True)
        return cls(name, Schedule.parse(expression), enable not in (False, "false", "False"),
                   str(config.get("payload") or ""))

    def event(self, when: float) -> bytes:
        """FC's time-trigger event for a firing at ``when``."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
        return json.dumps({"triggerTime": stamp, "triggerName": self.name, "payload": self.payload}).encode()


__all__ = ["Schedule", "TimerTrigger"]
