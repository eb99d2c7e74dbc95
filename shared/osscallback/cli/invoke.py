"""``osscallback invoke FUNCTION --event-file F``: run one event through a function and print its result.

Like ``sam local invoke``: by default a fresh local stack (local OSS + local FC host from the template) is started
for the call; ``--endpoint`` invokes a running ``osscallback local``, and ``--remote`` the deployed function,
through FC's API with the official SDK of the template's FC version: ``fc2`` (API 2016-08-15, by service and
function) for an FC 2.0 template (``edition: 1.0.0``), ``alibabacloud-fc20230330`` (API 2023-03-30, by function
name) for an FC 3.0 one (``edition: 3.0.0``); ``--fc-version`` overrides the choice. FUNCTION is the template's
module key (``upload``) or the FC function name (``oss-callback-fc-upload``). Exit status: 0 on success, 1 if the
function failed or answered ``"ok": false``, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from osscallback.cli.fcsdk import check_reachable, describe_fc2_error, quiet_sdk
from osscallback.errors import OssCallbackError
from osscallback.local.stack import default_template

#: FC's answers when the function (or FC 2.0 service) is not there: the usual sign of the other FC version's stack.
_NOT_FOUND = ("ServiceNotFound", "FunctionNotFound")


class InvokeError(OssCallbackError):
    """The invocation could not be made (bad arguments, missing credentials, unreachable endpoint)."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "invoke",
        help="run one event through a function (local stack by default, or --endpoint / --remote via FC's SDK)",
        description="Invoke a function of the template with an event file and print its JSON result.",
    )
    p.add_argument("function", help="the template's module key or FC function name, e.g. upload")
    p.add_argument("--event-file", required=True, help="JSON event file, e.g. events/upload-put.json")
    p.add_argument("--template", default=None,
                   help="Serverless Devs template (default: the repository's template.yml, FC 3.0)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--endpoint",
                       help="FC endpoint of a running `osscallback local` (credentials: FC_ACCESS_KEY_ID / "
                            "_SECRET [/ FC_SECURITY_TOKEN])")
    where.add_argument("--remote", action="store_true",
                       help="invoke the deployed function (FC_ENDPOINT, or FC_ACCOUNT_ID + FC_REGION; "
                            "ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET [/ ALIBABA_CLOUD_SECURITY_TOKEN])")
    p.add_argument("--fc-version", type=int, choices=(2, 3), default=None,
                   help="FC API to use with --endpoint / --remote (default: the template's edition; 2 = fc2 SDK, "
                        "3 = FC 3.0 SDK)")
    p.add_argument("--service", default=None, help="FC 2.0 service name (default: the template's)")
    p.add_argument("--json", action="store_true", help="print only the result JSON (one line)")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Target:
    """Which API, and which function in it, an invocation goes to."""

    fc_version: int
    function: str  # the FC function name
    service: str | None = None  # FC 2.0 only


def resolve_target(template: str, function: str, fc_version: int | None = None,
                   service: str | None = None) -> Target:
    """The template's function called ``function`` (module key or FC name), and the FC version to reach it with."""
    from osscallback.deploy.fcyaml import load_template

    doc = load_template(template, {})
    version = fc_version or (3 if doc.is_fc3 else 2)
    fn = next((f for f in doc.functions if f.name == function), None) or \
        next((f for f in doc.functions if f.module == function), None)
    if fn is None:
        if version == 3 or service:
            return Target(version, function, service)  # a function the template does not declare: by name
        raise InvokeError(f"{_no_such_function(doc, function)} (give --service to invoke another)")
    return Target(version, fn.name, service or fn.service)


def _no_such_function(doc: Any, function: str) -> str:
    names = ", ".join(f.module if f.module == f.name else f"{f.module} ({f.name})" for f in doc.functions)
    return f"{doc.path.name} has no function {function!r}; its functions: {names}"


def check_function(template: str, function: str) -> None:
    """Refuse (one line, listing the template's functions) a function the template does not declare."""
    from osscallback.deploy.fcyaml import load_template

    doc = load_template(template, {})
    if not any(function in (f.name, f.module) for f in doc.functions):
        raise InvokeError(_no_such_function(doc, function))


def _fc2_client(endpoint: str, remote: bool) -> Any:
    import fc2

    key_id, secret, token = _credentials(remote, endpoint)
    return fc2.Client(endpoint=endpoint, accessKeyID=key_id, accessKeySecret=secret, securityToken=token or "")


def _remote_endpoint() -> str:
    """FC_ENDPOINT, else the account's FC endpoint ``https://<account>.<region>.fc.aliyuncs.com``.

    The same host takes FC 2.0's and FC 3.0's InvokeFunction (it is where Serverless Devs' fc3 component sends
    its invocations too).
    """
    endpoint = os.environ.get("FC_ENDPOINT", "")
    if endpoint:
        return endpoint
    account, region = os.environ.get("FC_ACCOUNT_ID", ""), os.environ.get("FC_REGION", "")
    if not account or not region:
        raise InvokeError("--remote needs FC_ENDPOINT, or FC_ACCOUNT_ID and FC_REGION")
    return f"https://{account}.{region}.fc.aliyuncs.com"


def _credentials(remote: bool, endpoint: str) -> tuple[str, str, str]:
    prefix = "ALIBABA_CLOUD_" if remote else "FC_"
    key_id = os.environ.get(f"{prefix}ACCESS_KEY_ID", "")
    secret = os.environ.get(f"{prefix}ACCESS_KEY_SECRET", "")
    if not key_id or not secret:
        raise InvokeError(f"set {prefix}ACCESS_KEY_ID and {prefix}ACCESS_KEY_SECRET to invoke {endpoint}")
    return key_id, secret, os.environ.get(f"{prefix}SECURITY_TOKEN", "")


def _result(error_type: str | None, raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        data = {"raw": raw.decode("utf-8", "replace")}
    if error_type:
        return {"ok": False, "error": error_type, "message": data}
    return data if isinstance(data, dict) else {"ok": True, "result": data}


def _via_fc2(target: Target, endpoint: str, remote: bool, payload: bytes) -> dict[str, Any]:
    client = _fc2_client(endpoint, remote)
    if not target.service:
        raise InvokeError(f"FC 2.0 needs a service for {target.function!r}: give --service")
    try:
        resp = client.invoke_function(target.service, target.function, payload=payload)
    except Exception as exc:  # noqa: BLE001 - fc2 raises plain Exception subclasses (and requests' errors)
        hint = ""
        if getattr(exc, "err_code", "") in _NOT_FOUND:
            hint = ("; if that stack runs FC 3.0 (`osscallback local`, whose default is template.yml), invoke it "
                    "with --template template.yml too")
        raise InvokeError(f"invoking {target.service}/{target.function} at {endpoint} failed: "
                          f"{describe_fc2_error(exc)}{hint}") from None
    return _result(resp.headers.get("X-Fc-Error-Type") or resp.headers.get("x-fc-error-type"), resp.data)


def _fc3_client(endpoint: str, remote: bool) -> Any:
    from alibabacloud_fc20230330.client import Client
    from alibabacloud_tea_openapi.utils_models import Config

    key_id, secret, token = _credentials(remote, endpoint)
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    if not parts.netloc:
        raise InvokeError(f"not an FC endpoint: {endpoint!r}")
    return Client(Config(access_key_id=key_id, access_key_secret=secret, security_token=token or None,
                         endpoint=parts.netloc, protocol=parts.scheme or "https", read_timeout=900_000,
                         connect_timeout=10_000))


def _via_fc3(target: Target, endpoint: str, remote: bool, payload: bytes) -> dict[str, Any]:
    from alibabacloud_fc20230330 import models
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

    client = _fc3_client(endpoint, remote)
    try:
        resp = client.invoke_function(target.function, models.InvokeFunctionRequest(body=payload))
        raw = resp.body.read() if resp.body is not None else b""
    except AlibabaCloudException as exc:
        hint = ""
        if exc.code in _NOT_FOUND:
            hint = ("; if that stack runs FC 2.0 (`osscallback local --template template.fc2.yml`), invoke it "
                    "with --template template.fc2.yml")
        raise InvokeError(f"invoking {target.function} at {endpoint} failed: {exc.code}: {exc.message}{hint}") from None
    except Exception as exc:  # noqa: BLE001 - connection errors from the SDK's HTTP stack
        raise InvokeError(f"invoking {target.function} at {endpoint} failed: {exc}") from None
    headers = {k.lower(): v for k, v in (resp.headers or {}).items()}
    return _result(headers.get("x-fc-error-type"), raw)


def run(args: argparse.Namespace) -> int:
    from osscallback.local.preflight import read_event

    # Everything a user can get wrong is checked before anything starts: one line, exit 2, no server started.
    event = Path(args.event_file)
    payload = read_event(event)
    template = args.template if args.template is not None else str(default_template())
    if args.endpoint or args.remote:
        target = resolve_target(template, args.function, args.fc_version, args.service)
        endpoint = _remote_endpoint() if args.remote else args.endpoint
        via = _via_fc3 if target.fc_version == 3 else _via_fc2
        check_reachable(endpoint, local=not args.remote)  # dead: one line in seconds, not SDK retries
        with quiet_sdk():  # fc2 logs request headers (token, signature) through the root logger: never shown
            result = via(target, endpoint, args.remote, payload)
        ok = bool(result.get("ok", True))
    else:
        from osscallback.local.stack import LocalStack

        check_function(template, args.function)

        def sink(function: str, line: str) -> None:
            print(f"{function} | {line}", file=sys.stderr)

        # A fresh stack per invoke, like `sam local invoke`: its own throw-away data directory, so it never
        # collides with (or leaves objects in) the one a running `osscallback local` serves.
        with tempfile.TemporaryDirectory(prefix="osscallback-invoke-") as data_dir, LocalStack(
            template=template, data_dir=data_dir, log_sink=sink
        ) as stack:
            outcome = stack.run_event(event) if event.stem.startswith(args.function + "-") else None
            if outcome is None:
                result = stack.invoke(args.function, payload)
                ok = bool(result.get("ok", True))
            else:
                result, ok = outcome.result or {"ok": False, "error": outcome.error}, outcome.ok
    text = json.dumps(result, ensure_ascii=False, indent=None if args.json else 2)
    print(text)
    return 0 if ok else 1
