"""``osscallback local`` (no subcommand): the whole stack, every event run once, then serve with snippets.

Mounted by ``commands/local.py`` (which also owns ``local oss``). Output rules: human lines with colours only on a
TTY (and never with ``NO_COLOR``); ``--json`` prints one JSON line per event result and, when serving, one line
with the endpoints once ready. ``--once`` exits after the events: 0 only if every event succeeded.

``--once`` shows only the results (what the README shows): the functions' log lines are kept per event and printed
only for an event that failed, or all of them live with ``--function-logs``; serving prints them live. Its data
directory is a throw-away one of its own, so two quick starts (two checkouts, or two runs of one) never collide;
serving keeps the persistent per-user directory, or, while another local OSS holds it, says so in one line and runs
on a throw-away one (``--data-dir DIR`` picks a directory either way).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import Any

from osscallback.cli.args import port_number
from osscallback.local.httpserver import CannotListen
from osscallback.local.oss.dirlock import DataDirInUse
from osscallback.local.oss.sigversions import ALL_VERSIONS
from osscallback.local.preflight import EVENT_RULE, event_functions, read_events
from osscallback.local.stack import DEFAULT_BUCKET, EventResult, LocalStack, StackInfo, default_events


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--once", action="store_true", help="run every event once, then exit (0 only if all succeeded)")
    p.add_argument("--json", action="store_true", help="machine-readable output: one JSON line per event / endpoint")
    p.add_argument("--template", default=None,
                   help="Serverless Devs template (default: the repository's template.yml, FC 3.0; "
                   "template.fc2.yml for FC 2.0)")
    p.add_argument("--events", default=None, help="directory of <function>-<name>.json events (default: the "
                   "repository's events/)")
    p.add_argument("--event", action="append", default=[], metavar="FILE",
                   help="run only this event file (repeatable) instead of the whole events directory")
    p.add_argument("--bucket", default=DEFAULT_BUCKET, help=f"bucket to create (default {DEFAULT_BUCKET})")
    p.add_argument("--oss-port", type=port_number, default=0, help="local OSS port (default: any free port)")
    p.add_argument("--fc-port", type=port_number, default=0, help="local FC port (default: any free port)")
    p.add_argument("--data-dir", default=None, help="local OSS data directory, kept across runs (default: with "
                   "--once a throw-away one; else the per-user one `local oss --help` names)")
    p.add_argument("--function-logs", action="store_true", help="print the functions' log lines as they come "
                   "(--once prints only a failed event's)")
    p.add_argument("--quiet-functions", action="store_true", help="never print the functions' log lines")
    p.add_argument("--inspector-port", type=port_number, default=0,
                   help="callback inspector page port (default: any free)")
    p.add_argument("--no-inspector", action="store_true", help="do not serve the callback inspector page")
    p.add_argument("--store", default=None, metavar="URL",
                   help="idempotency store every function shares (default: oss:// markers in the local OSS, as the "
                        "templates deploy; e.g. redis://127.0.0.1:6379/0)")
    p.add_argument("--drop-events", action="append", default=[], metavar="GLOB",
                   help="drop the OSS events of keys matching GLOB (repeatable), as if OSS never sent them: to "
                        "rehearse `osscallback reconcile` (docs/DELIVERY.md)")
    p.add_argument("--instances", type=int, default=1, metavar="N",
                   help="worker processes per HTTP-triggered function, behind one URL, as FC scales (default 1)")
    p.add_argument("--allow-v1", action="store_true",
                   help="local OSS: accept V1 and V2 signatures, as a bucket created before 2025-09-01 does "
                        "(default: V4 only, as a bucket created today)")


class _Style:
    def __init__(self, stream: Any) -> None:
        self.on = bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on else text


def _describe(result: EventResult, style: _Style) -> str:
    mark = style("✔", "32") if result.ok else style("✘", "31")
    head = f"{mark} {result.event:34} {result.action or '-':12} {result.key or ''}"
    if not result.ok:
        return f"{head}\n    {style('error:', '31')} {result.error}"
    answer = json.dumps(result.callback, ensure_ascii=False) if result.callback is not None else "(no callback)"
    if len(answer) > 160:
        answer = answer[:157] + "..."
    if result.callback_status == "failed":
        answer = str((result.result.get("callback_error") or {}).get("message") or "")[:160]
    colour = "33" if result.callback_status == "failed" else "32"
    via = ", ".join(result.delivered_via) or "-"
    return (f"{head}\n    callback {style(result.callback_status or '-', colour)}: {answer}\n"
            f"    action ran {result.action_runs}x via {via}")


def snippets(info: StackInfo, event_file: Path, template: Path) -> str:
    """Copy-paste examples against the running stack, each runnable as pasted (:mod:`osscallback.cli.snippets`)."""
    from osscallback.cli import snippets as snippet_blocks

    blocks = snippet_blocks.build(info, event_file=event_file, template=template,
                                  serve_port=snippet_blocks.free_port())
    return snippet_blocks.render(info, blocks)


def _sample_event(events_dir: str | None) -> Path:
    """The upload event the invoke snippets send, by absolute path (the snippets run from any directory)."""
    chosen = (Path(events_dir) if events_dir else default_events()).absolute() / "upload-put.json"
    return chosen if chosen.is_file() else default_events().absolute() / "upload-put.json"


#: Each worker's start-up warning about the local key URL it trusts: the LOCAL DEVELOPMENT line says it once, and
#: it may arrive after start() returned, so a failed event's lines never include it.
_STARTUP_NOTICE = '"UntrustedKeyUrlPrefix"'
#: The local FC host's last line for an invocation (FC's own log format).
_INVOKE_END = "FC Invoke End RequestId"


class _FunctionLogs:
    """Where the functions' log lines go: stderr as they come (serving, ``--function-logs``), nowhere
    (``--quiet-functions``), or (``--once``) kept for the event being run and printed only if it failed."""

    #: Lines kept per event: a failing event's story fits; a runaway function cannot fill the memory.
    KEEP = 400

    def __init__(self, mode: str, style: _Style) -> None:
        self.mode = mode  # "live", "quiet" or "on-failure"
        self.style = style
        self._kept: deque[str] = deque(maxlen=self.KEEP)
        self._lock = threading.Condition()

    def __call__(self, function: str, line: str) -> None:
        text = self.style(f"{function} | {line}", "2")
        if self.mode == "live":
            print(text, file=sys.stderr, flush=True)
        elif self.mode == "on-failure" and _STARTUP_NOTICE not in line:
            with self._lock:
                self._kept.append(text)
                self._lock.notify_all()

    #: How long a failed event's lines may still be on their way: the workers' output arrives through pipes read by
    #: other threads, so on a busy machine the result can come before the lines that explain it.
    LATE_LINES = 3.0

    def flush(self, failed: bool) -> None:
        """The lines kept since the last call: printed (the event failed) or dropped. A failed event's lines are
        waited for up to :attr:`LATE_LINES` seconds, until the host's ``FC Invoke End`` line for the invocation."""
        with self._lock:
            if failed:
                self._lock.wait_for(lambda: any(_INVOKE_END in line for line in self._kept), timeout=self.LATE_LINES)
            kept, self._kept = list(self._kept), deque(maxlen=self.KEEP)
        if failed and kept:
            print("\n".join(kept), file=sys.stderr, flush=True)


def _logs_mode(args: argparse.Namespace) -> str:
    if args.quiet_functions:
        return "quiet"
    return "live" if args.function_logs or not args.once else "on-failure"


def _start(stack: LocalStack, args: argparse.Namespace) -> str | None:
    """Start the stack; returns a throw-away data directory it runs on (for the caller to remove), if any.

    ``--once`` without ``--data-dir`` runs on a fresh directory of its own. Serving without ``--data-dir`` uses the
    per-user one, unless another local OSS holds it: then one line says so and where this run keeps its data.
    """
    try:
        return _start_where(stack, args)
    except CannotListen as exc:  # which server, and the option that sets its port
        servers = {args.oss_port: ("the local OSS", "--oss-port"), args.fc_port: ("the local FC host", "--fc-port"),
                   args.inspector_port: ("the inspector", "--inspector-port")}
        exc.what, exc.option = servers.get(exc.port, (exc.what, ""))
        raise


def _start_where(stack: LocalStack, args: argparse.Namespace) -> str | None:
    if args.data_dir is None and args.once:
        return _start_on_scratch(stack, "osscallback-once-")
    try:
        stack.start()
        return None
    except DataDirInUse as exc:
        if args.data_dir is not None:
            raise
        scratch = _start_on_scratch(stack, "osscallback-local-")
        print(f"osscallback: note: {exc.data_dir} is in use by another local OSS (pid {exc.holder}); this run keeps "
              f"its data in {scratch} until it stops (--data-dir DIR for one that lasts)", file=sys.stderr, flush=True)
        return scratch


def _start_on_scratch(stack: LocalStack, prefix: str) -> str:
    scratch = stack.data_dir = tempfile.mkdtemp(prefix=prefix)
    try:
        stack.start()
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return scratch


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    style = _Style(out)
    events = [Path(e) for e in args.event]
    sink = _FunctionLogs(_logs_mode(args), style)

    if args.instances < 1:
        print("osscallback: error: --instances must be at least 1", file=sys.stderr)
        return 2
    if args.store:
        from osscallback.callback.idempotency.factory import StoreSpec

        StoreSpec.parse(args.store, {"FC_REGION": "cn-hangzhou"})  # a bad URL: one line on stderr, exit 2
    stack = LocalStack(
        template=args.template, data_dir=args.data_dir, oss_port=args.oss_port, fc_port=args.fc_port,
        bucket=args.bucket, log_sink=sink, store=args.store, instances=args.instances,
        signature_versions=ALL_VERSIONS if args.allow_v1 else None,
        inspector=not (args.once or args.no_inspector), inspector_port=args.inspector_port,
        drop_events=args.drop_events,
    )
    # Every event read and parsed before any server starts: a typo is one line now, not 0/0 succeeded later.
    events_dir = Path(args.events) if args.events else (Path() if events else default_events())
    chosen, skipped = read_events(events, events_dir, event_functions(stack.load_specs()))
    for path in skipped:
        print(f"osscallback: note: skipping {path.name}: {EVENT_RULE}", file=sys.stderr)
    paths = [e.path for e in chosen]
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    failures = 0
    scratch: str | None = None
    try:
        scratch = _start(stack, args)
        sink.flush(failed=False)  # whatever the workers said while starting
        info = stack.info()
        if not args.json:
            print(style("LOCAL DEVELOPMENT: the callback function also trusts public keys from the local OSS at "
                        f"{info.public_key_url.rsplit('/', 1)[0]}/ (never deploy that setting).", "33"), flush=True)
        for path in paths:
            result = stack.run_event(path)
            failures += not result.ok
            line = json.dumps(result.to_dict(), ensure_ascii=False) if args.json else _describe(result, style)
            print(line, flush=True)
            sink.flush(failed=not result.ok)
        if args.once:
            stack.settle()  # late OSS events and retries, so the counts below are final
            total = len(paths)
            summary = stack.deliveries.summary(total, total - failures)
            if args.json:
                print(json.dumps({"summary": summary}), flush=True)
            else:
                print(f"{total - failures}/{total} events succeeded; actions run for {summary['actions_run']} "
                      f"uploads ({summary['via_callback']} via callback, {summary['via_oss_event']} via OSS event), "
                      f"{summary['duplicates_suppressed']} duplicates suppressed", flush=True)
            return 1 if failures else 0
        if args.json:
            print(json.dumps(info.to_dict()), flush=True)
        else:
            template = Path(stack.template).absolute()
            print(snippets(info, _sample_event(args.events), template), flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        stack.stop()
        signal.signal(signal.SIGTERM, previous)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
