"""``osscallback reconcile``: one reconciliation run now, by the deployed (or local) reconcile function.

The run is the function's own (:mod:`osscallback.callback.reconcile`, with its action, store and bucket): the
command invokes it synchronously through FC's API with ``{"reconcile": {options}}`` instead of the timer's event,
as ``invoke`` and ``redeliver`` reach a function: ``--endpoint`` (a running ``osscallback local``: FC_ACCESS_KEY_ID /
_SECRET as the stack prints them) or ``--remote`` (the deployment: ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET, FC_ENDPOINT
or FC_ACCOUNT_ID + FC_REGION). ``--settle`` shortens the settle window to rehearse locally (the default, the
function's own, is longer than the backstop's life; a shorter one may race a delivery in flight). One line per
upload delivered (or failed) and a summary; ``--json`` prints the function's report. Exit status 1 if an upload
failed or the run stopped on an error, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from osscallback.cli import invoke as invoke_cli
from osscallback.cli.fcsdk import check_reachable, quiet_sdk
from osscallback.cli.redeliver import _when
from osscallback.errors import OssCallbackError


class ReconcileError(OssCallbackError):
    """The run could not be started or the function failed."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "reconcile",
        help="deliver every stored upload no callback or event delivered, once (--endpoint: local, --remote)",
        description="Run the reconcile function now: it lists the bucket under the backstop's key prefix and "
                    "delivers, through the same store and action, each stored upload whose action never ran.",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--endpoint", help="FC endpoint of a running `osscallback local` (FC_ACCESS_KEY_ID / _SECRET)")
    where.add_argument("--remote", action="store_true",
                       help="the deployment (FC_ENDPOINT, or FC_ACCOUNT_ID + FC_REGION; ALIBABA_CLOUD_ACCESS_KEY_ID / "
                            "_SECRET [/ ALIBABA_CLOUD_SECURITY_TOKEN])")
    p.add_argument("--template", default=None, help="Serverless Devs template (default: the repository's template.yml)")
    p.add_argument("--fc-version", type=int, choices=(2, 3), default=None, help="FC API (default: the template's)")
    p.add_argument("--service", default=None, help="FC 2.0 service name (default: the template's)")
    p.add_argument("--function", default=None, help="the reconcile function (default: the template's)")
    p.add_argument("--prefix", default="", help="only keys under this prefix (inside the backstop's key prefix)")
    p.add_argument("--since", type=_when, default=None,
                   help="only objects stored at or after this time (ISO 8601 or epoch seconds; default: the horizon)")
    p.add_argument("--settle", type=float, default=None,
                   help="seconds an object must be old (default: the function's, 600; never under 3); shorter only "
                        "to rehearse")
    p.add_argument("--dry-run", action="store_true", help="list what would be delivered; deliver nothing")
    p.add_argument("--json", action="store_true", help="print the run's report as one JSON document")
    p.set_defaults(func=run)


def _function(template: str, given: str | None) -> str:
    if given:
        return given
    from osscallback.deploy.fcyaml import load_template

    doc = load_template(template, dict(os.environ))
    found = next((f for f in doc.functions if f.handler == "reconcile.handler"), None)
    if found is None:
        raise ReconcileError(f"{template} declares no reconcile function (handler reconcile.handler): give --function")
    return found.module


def run(args: argparse.Namespace) -> int:
    from osscallback.local.stack import default_template

    if args.settle is not None and args.settle < 0:
        raise ReconcileError("--settle must be 0 or more seconds")
    template = args.template if args.template is not None else str(default_template())
    target = invoke_cli.resolve_target(template, _function(template, args.function), args.fc_version, args.service)
    endpoint = invoke_cli._remote_endpoint() if args.remote else args.endpoint
    check_reachable(endpoint, local=not args.remote)
    options = {"prefix": args.prefix, "dry_run": bool(args.dry_run)}
    if args.since is not None:
        options["since"] = args.since
    if args.settle is not None:
        options["settle"] = args.settle
    via = invoke_cli._via_fc3 if target.fc_version == 3 else invoke_cli._via_fc2
    try:
        with quiet_sdk():
            report = via(target, endpoint, bool(args.remote), json.dumps({"reconcile": options}).encode())
    except invoke_cli.InvokeError as exc:  # the run itself failed (killed, timed out): not a usage error
        print(f"osscallback: reconcile: {exc} (the next run resumes from its checkpoint)", file=sys.stderr)
        return 1
    if report.get("ok") is False:
        message = report.get("message")
        if isinstance(message, dict):
            message = message.get("errorMessage") or json.dumps(message, ensure_ascii=False)
        print(f"osscallback: reconcile: the function failed: {report.get('error')}: {message}", file=sys.stderr)
        return 1
    summary: dict[str, Any] = report.get("summary") or {}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        for upload in report.get("uploads") or ():
            reason = f"  ({upload['reason']})" if upload.get("reason") else ""
            print(f"{upload['outcome']:<14} {upload['key']}  (stored {upload['last_modified']}){reason}", flush=True)
        print(_summary_line(summary) + (f"; error: {report['error']}" if report.get("error") else ""))
    return 1 if summary.get("failed") or report.get("error") else 0


def _summary_line(s: dict[str, Any]) -> str:
    done = f"would deliver {s.get('would_deliver', 0)} (dry run)" if s.get("dry_run") else \
        f"delivered now {s.get('delivered', 0)}, failed {s.get('failed', 0)}"
    resumed = f", resumed after {s['resumed_after']!r}" if s.get("resumed_after") else ""
    return (f"seen {s.get('seen', 0)}, already delivered {s.get('already_delivered', 0)}, {done}, "
            f"settling {s.get('settling', 0)} (younger than the settle window: a later run's); "
            f"{s.get('list_requests', 0)} list request(s){resumed}"
            f"{'' if s.get('complete', True) else ' (stopped early: the next run resumes)'}")
