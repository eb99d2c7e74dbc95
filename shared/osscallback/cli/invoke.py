"""``osscallback invoke FUNCTION --event-file F``: run one event through a function and print its result.

Like ``sam local invoke``: by default a fresh local stack (local OSS + local FC host from ``template.yml``) is
started for the call; ``--endpoint`` invokes a running ``osscallback local`` through the FC 2.0 API with the real
``fc2`` SDK; ``--remote`` invokes the deployed function the same way. Exit status: 0 on success, 1 if the
function failed or answered ``"ok": false``, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from osscallback.errors import OssCallbackError
from osscallback.local.stack import DEFAULT_TEMPLATE


class InvokeError(OssCallbackError):
    """The invocation could not be made (bad arguments, missing credentials, unreachable endpoint)."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "invoke",
        help="run one event through a function (local stack by default, or --endpoint / --remote via fc2)",
        description="Invoke a function of template.yml with an event file and print its JSON result.",
    )
    p.add_argument("function", help="function name in template.yml, e.g. upload")
    p.add_argument("--event-file", required=True, help="JSON event file, e.g. events/upload-put.json")
    p.add_argument("--template", default=str(DEFAULT_TEMPLATE), help="Serverless Devs template (default template.yml)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--endpoint",
                       help="FC endpoint of a running `osscallback local` (credentials: FC_ACCESS_KEY_* env)")
    where.add_argument("--remote", action="store_true",
                       help="invoke the deployed function (FC_ENDPOINT or FC_ACCOUNT_ID + FC_REGION; "
                            "ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET [/ ALIBABA_CLOUD_SECURITY_TOKEN])")
    p.add_argument("--service", default=None, help="FC service name (default: the template's)")
    p.add_argument("--json", action="store_true", help="print only the result JSON (one line)")
    p.set_defaults(func=run)


def _service_of(template: str, function: str) -> str:
    from osscallback.deploy.fcyaml import load_template

    for fn in load_template(template, {}).functions:
        if fn.name == function:
            return str(fn.service)
    raise InvokeError(f"{template} has no function {function!r}")


def _fc2_client(endpoint: str, remote: bool) -> Any:
    import fc2

    prefix = "ALIBABA_CLOUD_" if remote else "FC_"
    key_id = os.environ.get(f"{prefix}ACCESS_KEY_ID", "")
    secret = os.environ.get(f"{prefix}ACCESS_KEY_SECRET", "")
    token = os.environ.get(f"{prefix}SECURITY_TOKEN", "")
    if not key_id or not secret:
        raise InvokeError(f"set {prefix}ACCESS_KEY_ID and {prefix}ACCESS_KEY_SECRET to invoke {endpoint}")
    return fc2.Client(endpoint=endpoint, accessKeyID=key_id, accessKeySecret=secret, securityToken=token or "")


def _remote_endpoint() -> str:
    endpoint = os.environ.get("FC_ENDPOINT", "")
    if endpoint:
        return endpoint
    account, region = os.environ.get("FC_ACCOUNT_ID", ""), os.environ.get("FC_REGION", "")
    if not account or not region:
        raise InvokeError("--remote needs FC_ENDPOINT, or FC_ACCOUNT_ID and FC_REGION")
    return f"https://{account}.{region}.fc.aliyuncs.com"


def _via_fc2(args: argparse.Namespace, payload: bytes) -> dict[str, Any]:
    endpoint = _remote_endpoint() if args.remote else args.endpoint
    client = _fc2_client(endpoint, args.remote)
    service = args.service or _service_of(args.template, args.function)
    try:
        resp = client.invoke_function(service, args.function, payload=payload)
    except Exception as exc:  # noqa: BLE001 - fc2 raises plain Exception subclasses (and requests' errors)
        raise InvokeError(f"invoking {service}/{args.function} at {endpoint} failed: {exc}") from None
    error_type = resp.headers.get("X-Fc-Error-Type") or resp.headers.get("x-fc-error-type")
    try:
        data = json.loads(resp.data)
    except ValueError:
        data = {"raw": resp.data.decode("utf-8", "replace")}
    if error_type:
        return {"ok": False, "error": error_type, "message": data}
    return data if isinstance(data, dict) else {"ok": True, "result": data}


def run(args: argparse.Namespace) -> int:
    event = Path(args.event_file)
    if not event.is_file():
        raise InvokeError(f"no such event file: {event}")
    payload = event.read_bytes()
    if args.endpoint or args.remote:
        result = _via_fc2(args, payload)
        ok = bool(result.get("ok", True))
    else:
        from osscallback.local.stack import LocalStack

        def sink(function: str, line: str) -> None:
            print(f"{function} | {line}", file=sys.stderr)

        with LocalStack(template=args.template, log_sink=sink) as stack:
            outcome = stack.run_event(event) if event.stem.startswith(args.function + "-") else None
            if outcome is None:
                result = stack.invoke(args.function, payload)
                ok = bool(result.get("ok", True))
            else:
                result, ok = outcome.result or {"ok": False, "error": outcome.error}, outcome.ok
    text = json.dumps(result, ensure_ascii=False, indent=None if args.json else 2)
    print(text)
    return 0 if ok else 1
