"""The doctor's outcomes: one :class:`Check` per check (pass / warn / fail, with a fix), a :class:`Report` of them,
and the :class:`Probe` each POST records. Plain data, so the CLI prints them and ``--json`` dumps them as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from osscallback.errors import ConfigError

#: OSS waits this long for a callback's answer.
OSS_TIMEOUT = 5.0
#: Largest answer OSS accepts.
MAX_ANSWER_BYTES = 3 * 1024 * 1024

PASS, WARN, FAIL = "pass", "warn", "fail"

class DoctorError(ConfigError):
    """The URL cannot be checked at all (not an absolute http(s) URL)."""


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``status`` pass / warn / fail, what was found, and (unless it passed) how to fix it."""

    name: str
    status: str
    summary: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "summary": self.summary, "fix": self.fix}


@dataclass(frozen=True)
class Report:
    url: str
    checks: tuple[Check, ...]
    not_run: tuple[str, ...] = ()

    @property
    def failed(self) -> int:
        return sum(c.status == FAIL for c in self.checks)

    @property
    def warnings(self) -> int:
        return sum(c.status == WARN for c in self.checks)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "failed": self.failed,
            "warnings": self.warnings,
            "checks": [c.to_json() for c in self.checks],
            "not_run": list(self.not_run),
        }


@dataclass(frozen=True)
class Probe:
    """One POST and what came back (``error`` says why nothing usable did)."""

    label: str
    elapsed: float
    status: int | None = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    too_large: bool = False
    error: str = ""
    timed_out: bool = False

    def brief(self) -> str:
        code = ""
        try:
            doc = json.loads(self.body.decode("utf-8"))
            if isinstance(doc, dict) and isinstance(doc.get("error"), str):
                code = f" {doc['error']}"
        except (UnicodeDecodeError, ValueError, RecursionError):
            pass
        return f"HTTP {self.status}{code}"

