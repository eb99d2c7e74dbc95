"""``osscallback doctor CALLBACK_URL [--json]``: check a callback endpoint the way OSS will use it.

One line per check (pass / warn / fail) with one line on how to fix what is not right; ``--json`` prints one JSON
document instead. Exit status 0 when nothing failed (warnings allowed), 1 when a check failed, 2 for a URL that
cannot be checked at all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from osscallback.doctor import FAIL, OSS_TIMEOUT, PASS, WARN, Report, diagnose


def register(sub: Any) -> None:
    p = sub.add_parser(
        "doctor",
        help="check a callback endpoint (deployed or local) the way OSS will call it",
        description="Check a callback URL as OSS uses it: address (public IPv4), TCP/TLS/SNI, a POST answered within "
        "5 s, 405 for GET-only routes, unsigned and forged callbacks refused with a JSON 4xx, Content-Type and "
        "Content-Length, a JSON answer of at most 3 MB, and a hint for FC 2.0 proxy paths. Exit status 0 when "
        "nothing failed.",
    )
    p.add_argument("url", metavar="CALLBACK_URL", help="the callbackUrl to check, e.g. https://...fcapp.run/")
    p.add_argument("--json", action="store_true", help="print one JSON document with every check")
    p.add_argument("--timeout", type=float, default=OSS_TIMEOUT,
                   help=f"seconds per request (default {OSS_TIMEOUT:g}, OSS's own limit; lower it only to test)")
    p.set_defaults(func=run)


_MARKS = {PASS: ("PASS", "32"), WARN: ("WARN", "33"), FAIL: ("FAIL", "31")}


def render(report: Report, color: bool) -> str:
    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if color else text

    width = max((len(c.name) for c in report.checks), default=10)
    lines = [f"Checking {report.url} the way OSS calls it"]
    for check in report.checks:
        label, code = _MARKS[check.status]
        lines.append(f"  {paint(label, code)}  {check.name:<{width}}  {check.summary}")
        if check.fix:
            lines.append(f"        {'':<{width}}  fix: {check.fix}")
    if report.not_run:
        lines.append(f"  not run (they need what failed above): {', '.join(report.not_run)}")
    passed = sum(c.status == PASS for c in report.checks)
    warnings = f"{report.warnings} warning" + ("" if report.warnings == 1 else "s")
    checks = f"{len(report.checks)} check" + ("" if len(report.checks) == 1 else "s")
    lines.append(f"{checks}: {passed} passed, {warnings}, {report.failed} failed")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if not 0 < args.timeout <= 60:
        print(f"osscallback: error: --timeout must be more than 0 and at most 60 seconds, not {args.timeout:g}",
              file=sys.stderr)
        return 2
    report = diagnose(args.url, timeout=args.timeout)  # a DoctorError (bad URL) is one line and exit 2 (cli.main)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        print(render(report, color))
    return 0 if report.ok else 1
