"""``osscallback redeliver``: the backstop's dead letters through the backstop again, then removed.

Where: ``--endpoint`` (a running ``osscallback local``: FC_ACCESS_KEY_ID / _SECRET, and the local OSS's pair in
OSS_ACCESS_KEY_ID / _SECRET, both printed by the stack) or ``--remote`` (the deployment: ALIBABA_CLOUD_ACCESS_KEY_ID
/ _SECRET [/ _SECURITY_TOKEN] for FC and OSS alike, FC_ENDPOINT or FC_ACCOUNT_ID + FC_REGION), through FC's API
with the template's FC version, as ``invoke`` does. The dead letters are where the template's dead-letter function
writes them (its ``CALLBACK_DEAD_LETTERS``, with OSS_BUCKET and FC_REGION from the environment), unless
``--dead-letters`` names them; with ``--remote`` they are read through the region's public endpoint (the function
writes through the internal one), and ``--oss-endpoint`` names another (the local OSS; the internal endpoint from
inside the region). With ``--endpoint`` the stack itself says where its dead-letter function writes (its
``CALLBACK_DEAD_LETTERS`` through FC's GetFunction: the stack's bucket and region), and ``--oss-endpoint`` defaults
to ``OSS_ENDPOINT``. One line per dead letter and a summary (``--json``: the same as one JSON
document); exit status 1 if any event failed again (its dead letter stays), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from osscallback.cli import invoke as invoke_cli
from osscallback.cli.fcsdk import check_reachable, describe_fc2_error, quiet_sdk
from osscallback.cli.osserrors import OssSettings, explain
from osscallback.errors import OssCallbackError


class RedeliverError(OssCallbackError):
    """The redelivery could not start (bad arguments, no credentials, no dead-letter location)."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "redeliver",
        help="send the backstop's dead letters through it again (--endpoint: a local stack, --remote: deployed)",
        description="Send each dead-lettered OSS event through the OSS-event backstop again (same dedupe key: an "
                    "upload delivered meanwhile does not run twice) and remove its dead letter once delivered.",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--endpoint", help="FC endpoint of a running `osscallback local` (FC_ACCESS_KEY_ID / _SECRET; "
                                          "the local OSS's keys in OSS_ACCESS_KEY_ID / _SECRET)")
    where.add_argument("--remote", action="store_true",
                       help="the deployment (FC_ENDPOINT, or FC_ACCOUNT_ID + FC_REGION; ALIBABA_CLOUD_ACCESS_KEY_ID / "
                            "_SECRET [/ ALIBABA_CLOUD_SECURITY_TOKEN])")
    p.add_argument("--template", default=None,
                   help="Serverless Devs template (default: the repository's template.yml, FC 3.0; "
                   "template.fc2.yml for FC 2.0)")
    p.add_argument("--fc-version", type=int, choices=(2, 3), default=None, help="FC API (default: the template's)")
    p.add_argument("--service", default=None, help="FC 2.0 service name (default: the template's)")
    p.add_argument("--function", default=None, help="the backstop (default: the template's OSS-triggered function)")
    p.add_argument("--dead-letters", default=None,
                   help="oss://<bucket>/<prefix>[?region=R&endpoint=URL] (default: the dead-letter function's "
                        "CALLBACK_DEAD_LETTERS in the template)")
    p.add_argument("--oss-endpoint", default=None, help="OSS endpoint to read the dead letters at (e.g. the local OSS)")
    p.add_argument("--prefix", default="", help="only dead letters whose name (after the dead-letter prefix) starts "
                                                "so, e.g. 20261203T03 (they are named <UTC time>-<request id>.json)")
    p.add_argument("--since", type=_when, default=None, help="only events that failed at or after this time "
                                                             "(ISO 8601, e.g. 2026-12-03T03:00:00Z, or epoch seconds)")
    p.add_argument("--until", type=_when, default=None, help="only events that failed before this time")
    p.add_argument("--dry-run", action="store_true", help="list what would be redelivered; send and remove nothing")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    p.set_defaults(func=run)


def _when(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (ISO 8601 or epoch seconds)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _template_functions(template: str) -> tuple[Any, Any]:
    """The template's backstop (its OSS-triggered function) and its on-failure destination function."""
    from osscallback.deploy.asyncconfig import AsyncConfig, FunctionArn
    from osscallback.deploy.fcyaml import load_template

    doc = load_template(template, dict(os.environ))
    backstop = next((f for f in doc.functions if f.oss_triggers), None)
    if backstop is None:
        raise RedeliverError(f"{template} has no OSS-triggered (backstop) function: give --function")
    arn = FunctionArn.parse(AsyncConfig.of(backstop).on_failure)
    letters = None
    if arn is not None:
        letters = next((f for f in doc.functions if f.name == arn.function), None)
    return backstop, letters


def _stack_dead_letters(args: argparse.Namespace, template: str, letters_fn: Any) -> str | None:
    """Where the dead-letter function of the stack at ``--endpoint`` writes: its ``CALLBACK_DEAD_LETTERS`` as FC's
    GetFunction reports it (the stack's own bucket and region, whatever this shell exports)."""
    if letters_fn is None:
        return None
    target = invoke_cli.resolve_target(template, letters_fn.name, args.fc_version, args.service)
    check_reachable(args.endpoint)
    try:
        with quiet_sdk():
            if target.fc_version == 3:
                from alibabacloud_fc20230330 import models

                body = invoke_cli._fc3_client(args.endpoint, False).get_function(
                    target.function, models.GetFunctionRequest()).body
                env = body.environment_variables if body is not None else None
            else:
                data = invoke_cli._fc2_client(args.endpoint, False).get_function(target.service,
                                                                                 target.function).data
                env = data.get("environmentVariables") if isinstance(data, dict) else None
    except invoke_cli.InvokeError:
        raise
    except Exception as exc:  # noqa: BLE001 - the SDKs' errors: one line (fc2's FcError is a tuple when printed)
        raise RedeliverError(f"cannot read {target.function}'s settings at {args.endpoint}: "
                             f"{getattr(exc, 'message', None) or describe_fc2_error(exc)}") from None
    return str((env or {}).get("CALLBACK_DEAD_LETTERS") or "") or None


def _box(args: argparse.Namespace, template: str, letters_fn: Any) -> tuple[Any, OssSettings]:
    from osscallback.callback.deadletter import BoxSpec
    from osscallback.callback.deadletter_oss import OssLetterBox
    from osscallback.osslocation import region_from_endpoint

    raw = args.dead_letters
    if not raw and args.endpoint:  # a local stack tells where its function writes (its region: issue 29)
        raw = _stack_dead_letters(args, template, letters_fn)
    raw = raw or (letters_fn.environment.get("CALLBACK_DEAD_LETTERS") if letters_fn else None)
    if not raw or "://" not in raw or raw.startswith("oss:///"):
        raise RedeliverError("no dead-letter location: give --dead-letters oss://<bucket>/<prefix>, or export "
                             "OSS_BUCKET (and FC_REGION) for the template's")
    spec = BoxSpec.parse(raw, dict(os.environ))
    oss_endpoint = args.oss_endpoint or (os.environ.get("OSS_ENDPOINT") if args.endpoint else None)
    if args.endpoint and not oss_endpoint and "endpoint=" not in raw:
        raise RedeliverError("give --oss-endpoint (the local OSS's endpoint, which `osscallback local` prints) to "
                             f"read the dead letters in {spec.url}")
    if oss_endpoint:  # a standard endpoint names the region V4 signs with (osscallback.osslocation)
        spec = BoxSpec(spec.bucket, spec.prefix, region_from_endpoint(oss_endpoint) or spec.region, oss_endpoint)
    elif args.remote and "endpoint=" not in raw:  # the function's internal endpoint is not reachable from here
        spec = BoxSpec(spec.bucket, spec.prefix, spec.region, f"https://oss-{spec.region}.aliyuncs.com")
    prefix = "OSS_" if args.endpoint else ("OSS_" if os.environ.get("OSS_ACCESS_KEY_ID") else "ALIBABA_CLOUD_")
    key_id, secret = os.environ.get(f"{prefix}ACCESS_KEY_ID", ""), os.environ.get(f"{prefix}ACCESS_KEY_SECRET", "")
    if not key_id or not secret:
        raise RedeliverError(f"set {prefix}ACCESS_KEY_ID and {prefix}ACCESS_KEY_SECRET to read {spec.url}")
    token = os.environ.get(f"{prefix}SESSION_TOKEN" if prefix == "OSS_" else f"{prefix}SECURITY_TOKEN", "")
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": key_id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
           "ALIBABA_CLOUD_SECURITY_TOKEN": token}
    used = OssSettings(  # for an OSS error's message: what was used, and where it came from
        spec.endpoint, spec.bucket, key_id, endpoint_name="--oss-endpoint" if oss_endpoint else "the endpoint",
        bucket_name="--dead-letters (or the template's CALLBACK_DEAD_LETTERS)", key_id_name=f"{prefix}ACCESS_KEY_ID",
        secret_name=f"{prefix}ACCESS_KEY_SECRET",
        token_name=f"{prefix}SESSION_TOKEN" if prefix == "OSS_" else f"{prefix}SECURITY_TOKEN")
    return OssLetterBox(spec, env), used


def _invoker(args: argparse.Namespace, template: str, function: str) -> Callable[[bytes], dict[str, Any]]:
    from osscallback.callback.redelivery import RedeliveryFailed

    target = invoke_cli.resolve_target(template, function, args.fc_version, args.service)
    endpoint = invoke_cli._remote_endpoint() if args.remote else args.endpoint
    check_reachable(endpoint)
    via = invoke_cli._via_fc3 if target.fc_version == 3 else invoke_cli._via_fc2

    def invoke(payload: bytes) -> dict[str, Any]:
        try:
            with quiet_sdk():
                result = via(target, endpoint, args.remote, payload)
        except invoke_cli.InvokeError as exc:
            raise RedeliveryFailed(str(exc)) from None
        if result.get("ok") is False:
            message = result.get("message")
            if isinstance(message, dict):
                message = message.get("errorMessage") or json.dumps(message, ensure_ascii=False)
            raise RedeliveryFailed(f"{result.get('error')}: {message}")
        return result

    return invoke


def run(args: argparse.Namespace) -> int:
    import oss2

    from osscallback.callback.deadletter_oss import LetterBoxError
    from osscallback.callback.redelivery import DELIVERED, FAILED, INVALID, PLANNED, redeliver
    from osscallback.local.stack import default_template

    template = args.template if args.template is not None else str(default_template())
    backstop, letters_fn = _template_functions(template)
    box, used = _box(args, template, letters_fn)
    invoke = _invoker(args, template, args.function or backstop.name)
    outcomes = []
    try:
        for outcome in redeliver(box, invoke, sub_prefix=args.prefix, since=args.since, until=args.until,
                                 dry_run=args.dry_run):
            outcomes.append(outcome)
            if not args.json:
                print(outcome.line(), flush=True)
    except LetterBoxError as exc:  # the bucket refused the listing: which setting to change (issue 29, point 8)
        cause = exc.__context__  # the oss2 error, kept by `raise ... from None` (which only hides it)
        if isinstance(cause, oss2.exceptions.OssError):
            raise RedeliverError(explain(cause, used)) from None
        raise
    finally:
        box.close()
    summary = {
        "dead_letters": len(outcomes),
        "delivered": sum(o.outcome == DELIVERED for o in outcomes),
        "ran": sum(o.runs("ran") for o in outcomes),
        "already_delivered": sum(o.runs("duplicate") for o in outcomes),
        "failed": sum(o.outcome == FAILED for o in outcomes),
        "invalid": sum(o.outcome == INVALID for o in outcomes),
        "would_redeliver": sum(o.outcome == PLANNED for o in outcomes),
        "dry_run": bool(args.dry_run),
    }
    if args.json:
        print(json.dumps({"events": [o.to_dict() for o in outcomes], "summary": summary}, ensure_ascii=False))
    elif args.dry_run:
        print(f"{summary['would_redeliver']} dead letter(s) would be redelivered (dry run: nothing sent or removed)")
    else:
        print(f"{summary['dead_letters']} dead letter(s): {summary['delivered']} delivered and removed "
              f"(action ran {summary['ran']}, already delivered {summary['already_delivered']}), "
              f"{summary['failed']} failed again (kept), {summary['invalid']} unreadable")
    return 1 if summary["failed"] or summary["invalid"] else 0
