"""template.yml (FC 3.0) and template.fc2.yml (FC 2.0) agree with the code: handlers exist and are of the trigger's
kind, every environment variable the code reads is declared (and nothing else), trigger methods are what the callback
function accepts, the role is least-privilege, and the deploy docs cover what the template needs."""

from __future__ import annotations

import ast
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from osscallback.callback.core import CallbackApp, CallbackRequest
from osscallback.deploy.build import DEFAULT_OUT, available_functions
from osscallback.deploy.fcyaml import FunctionDef, Template, load_template
from osscallback.upload.browser.authorizer import ANONYMOUS_ROOT
from tests.support.deploy import ROOT, TEMPLATES

LIBRARY = ROOT / "shared" / "osscallback"
#: Read by the code but deliberately not declared in the templates, and why.
UNDECLARED = {
    "OSS_ACCESS_KEY_ID": "credentials: on FC they come from context.credentials (the service role), never the file",
    "OSS_ACCESS_KEY_SECRET": "credentials, as above",
    "OSS_SESSION_TOKEN": "credentials, as above",
    "CALLBACK_TEMPLATE_DIR": "optional extra callback templates; unset means the built-in ones",
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "the role's temporary credentials, set by FC in every instance (oss:// store)",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "as above",
    "ALIBABA_CLOUD_SECURITY_TOKEN": "as above",
    "FC_REGION": "set by FC in every instance: the oss:// store's default region",
    "UPLOAD_HOST": "optional: the policy function's custom OSS domain; unset means the bucket's own URL",
    "UPLOAD_STS_ENDPOINT": "optional: GET /sts's STS endpoint; unset means the region's (the local stack sets its own)",
}
#: Python runtimes FC offers (https://www.alibabacloud.com/help/en/functioncompute/fc/python/).
FC2_RUNTIMES = {"python3.9", "python3.10"}
FC3_RUNTIMES = {"python3.9", "python3.10", "python3.12"}
_ENV_READ = [
    # os.environ and the ``env`` mapping config code reads from (not a WSGI ``environ``, which is a request)
    re.compile(r"""(?:\bos\.environ|\benv)\s*\.get\(\s*["']([A-Z][A-Z0-9_]+)["']"""),
    re.compile(r"""(?:\bos\.environ|\benv)\s*\[\s*["']([A-Z][A-Z0-9_]+)["']\s*\]"""),
    re.compile(r"""getenv\(\s*["']([A-Z][A-Z0-9_]+)["']"""),
    re.compile(r"""\w+\(\s*env\s*,\s*["']([A-Z][A-Z0-9_]+)["']"""),  # _number(env, "X", ...), _env_int(env, "X")
]


def _load(path: Path) -> Template:
    return load_template(path, {"OSS_BUCKET": "bucket-x", "FC_REGION": "cn-hangzhou"}, strict=False)


def _templates() -> list[pytest.ParameterSet]:
    return [pytest.param(_load(path), id=path.name) for path in TEMPLATES]


def _source_dir(fn: FunctionDef) -> Path:
    return ROOT / "functions" / Path(fn.code_uri).name


def _module_file(name: str, base: Path) -> Path | None:
    """The file of module ``name`` (``osscallback.x`` or a sibling of the handler), if it is ours."""
    if name == "osscallback" or name.startswith("osscallback."):
        rel = Path(*name.split(".")[1:])
        for candidate in (LIBRARY / rel.with_suffix(".py"), LIBRARY / rel / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None
    candidate = base / f"{name.replace('.', '/')}.py"
    return candidate if candidate.is_file() else None


def reachable_modules(entry: Path) -> set[Path]:
    """Our modules a handler file imports, transitively (every import statement, including function-level ones)."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = "osscallback" if LIBRARY in path.parents else ""
        if package and path.name != "__init__.py":
            package = ".".join(["osscallback", *path.relative_to(LIBRARY).parent.parts])
        elif package:
            package = ".".join(["osscallback", *path.relative_to(LIBRARY).parent.parts])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(p for p in [*parts, base] if p)
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            for name in names:
                found = _module_file(name, entry.parent)
                if found is not None:
                    todo.append(found)
    return seen


def env_reads(files: set[Path]) -> set[str]:
    out: set[str] = set()
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern in _ENV_READ:
            out.update(pattern.findall(text))
    return out


def _assigned_by(path: Path, attr: str) -> str | None:
    """The function called to make module-level ``attr`` (``make_wsgi_handler``), "def" for a def, None if absent."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and node.name == attr:
            return "def"
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == attr for t in node.targets):
            value = node.value
            if isinstance(value, ast.Call):
                func = value.func
                return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "call")
            return "value"
    return None


# ----------------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("template", _templates())
def test_every_handler_exists_and_fits_its_trigger(template: Template) -> None:
    assert {Path(f.code_uri).name for f in template.functions} == set(available_functions(ROOT))
    for fn in template.functions:
        assert Path(fn.code_uri).parent.as_posix().lstrip("./") == DEFAULT_OUT.lstrip("."), fn.code_uri
        handler_file = _source_dir(fn) / f"{fn.handler_module}.py"
        assert handler_file.is_file(), f"{fn.name}: {handler_file} missing"
        made_by = _assigned_by(handler_file, fn.handler_attr)
        assert made_by is not None, f"{fn.name}: {fn.handler} is not defined in {handler_file}"
        if fn.http_triggers:
            expected = "make_fc3_handler" if template.is_fc3 else "make_wsgi_handler"
            assert made_by == expected, f"{fn.name}: an HTTP trigger on this FC version needs {expected}"
        else:
            assert made_by == "def", f"{fn.name}: an event function's handler is a plain def(event, context)"


@pytest.mark.parametrize("template", _templates())
def test_every_environment_variable_the_code_reads_is_declared(template: Template) -> None:
    for fn in template.functions:
        handler_file = _source_dir(fn) / f"{fn.handler_module}.py"
        assert handler_file.is_file(), f"{fn.name}: {handler_file} is missing"
        read = env_reads(reachable_modules(handler_file))
        declared = set(fn.environment)
        assert read - declared - set(UNDECLARED) == set(), f"{fn.name} reads undeclared variables"
        assert declared - read == set(), f"{fn.name} declares variables its code never reads"
        assert not declared & set(UNDECLARED), f"{fn.name} declares credentials or optional-only variables"


def test_the_env_scan_sees_the_callback_configuration() -> None:
    """Guards the scanner itself: the callback function's closure must include config.py's CALLBACK_* reads."""
    read = env_reads(reachable_modules(ROOT / "functions" / "callback" / "index.py"))
    assert {"CALLBACK_KEY_URL_PREFIXES", "CALLBACK_MAX_BODY_BYTES", "CALLBACK_IDEMPOTENCY_SIZE"} <= read
    assert not any(name.startswith("OSS_") for name in read), "the callback function must not reach upload code"


@pytest.mark.parametrize("template", _templates())
def test_http_trigger_methods_are_what_the_callback_function_accepts(template: Template) -> None:
    app = CallbackApp.from_env({})
    accepted = set()
    for method in ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"):
        response = app.handle(CallbackRequest(method=method, targets=(("/", ""),), headers={}, body=b""))
        if response.status != 405:
            accepted.add(method)
    http = [f for f in template.functions if f.http_triggers]
    assert [f.name for f in http] == [template.function(f.name).name for f in http]
    assert sorted(f.module for f in http) == ["callback", "policy"]  # OSS's callbacks; the browser's policies
    (trigger,) = next(f for f in http if f.module == "callback").http_triggers
    assert set(trigger.methods) == accepted == {"POST"}
    assert trigger.auth_type == "anonymous"  # OSS cannot sign FC requests; the function verifies OSS's signature


@pytest.mark.parametrize("template", _templates())
def test_the_shipped_policy_function_refuses_without_an_authorizer(template: Template) -> None:
    """Issue 27, nothing open by default: a plain deploy's policy function hands out no upload policy. Its
    environment is the template's (after interpolation, as deployed) plus FC's credentials; it is called through the
    handler the template names, with the request a browser's page makes."""
    from osscallback.upload.browser.app import PolicyApp
    from osscallback.upload.browser.http import make_fc3_handler, make_wsgi_handler

    (policy,) = [f for f in template.functions if f.module == "policy"]
    assert policy.environment["UPLOAD_AUTHORIZER"] == ""  # anonymous only by a conscious edit (docs/DEPLOY.md)
    env = {**policy.environment, "CALLBACK_URL": "https://callback.example.test/", "OSS_ACCESS_KEY_ID": "id",
           "OSS_ACCESS_KEY_SECRET": "secret", "OSS_SESSION_TOKEN": "token"}
    app = PolicyApp.from_env(env)
    if template.is_fc3:
        assert policy.handler == "policy.handler_fc3"
        event = {"version": "v1", "rawPath": "/policy", "body": "", "isBase64Encoded": False, "headers": {},
                 "queryParameters": {}, "requestContext": {"http": {"method": "GET", "path": "/policy"}}}
        answer = make_fc3_handler(app)(json.dumps(event).encode(), None)
        status, body = int(answer["statusCode"]), answer["body"]
    else:
        assert policy.handler == "policy.handler"
        seen: list[str] = []
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/policy", "QUERY_STRING": "", "fc.request_uri": "/policy",
                   "wsgi.input": io.BytesIO(b""), "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "9000"}
        chunks = make_wsgi_handler(app)(environ, lambda st, headers, exc=None: seen.append(st))
        status, body = int(seen[0].split()[0]), b"".join(chunks).decode()
    doc = json.loads(body)
    assert status == 403 and doc["error"] == "UploadEndpointNotConfigured", doc
    assert "UPLOAD_AUTHORIZER" in doc["message"] and "docs/DEPLOY.md" in doc["message"]
    assert "policy" not in doc and "x-oss-signature" not in body


@pytest.mark.parametrize("template", _templates())
def test_the_policy_trigger_lists_what_the_policy_endpoint_answers(template: Template) -> None:
    from osscallback.upload.browser.app import HttpRequest, PolicyApp

    app = PolicyApp.from_env({"UPLOAD_ALLOWED_ORIGINS": "https://a.example"})
    headers = {"origin": "https://a.example", "access-control-request-method": "GET"}
    accepted = {m for m in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
                if app.handle(HttpRequest(method=m, path="/", headers=headers, public_path="/")).status != 405}
    policy = template.function(next(f.name for f in template.functions if f.module == "policy"))
    (trigger,) = policy.http_triggers
    assert set(trigger.methods) == accepted == {"GET", "OPTIONS"}
    assert trigger.auth_type == "anonymous"  # browsers cannot sign FC requests: UPLOAD_AUTHORIZER decides
    assert policy.code_uri.endswith("/upload") and policy.handler_module == "policy"
    assert "-internal." not in policy.environment["OSS_ENDPOINT"]  # browsers post to the public endpoint
    assert policy.environment["UPLOAD_AUTHORIZER"] == ""  # closed; vars.page says how to open it (issue 27)


@pytest.mark.parametrize("template", _templates())
def test_runtime_is_offered_by_fc_and_sized_for_oss(template: Template) -> None:
    offered = FC3_RUNTIMES if template.is_fc3 else FC2_RUNTIMES
    for fn in template.functions:
        assert fn.runtime in offered, fn.runtime
        assert fn.memory_size and fn.timeout
    callback = next(f for f in template.functions if f.module == "callback")
    assert callback.timeout is not None and callback.timeout >= 5  # never cut below OSS's own 5 s wait


@pytest.mark.parametrize("template", _templates())
def test_pre_deploy_builds_the_functions_own_code_dir(template: Template) -> None:
    modules = template.raw["resources" if template.is_fc3 else "services"]
    for fn in template.functions:
        runs = [a["run"] for a in modules[fn.module]["actions"]["pre-deploy"]]
        name = Path(fn.code_uri).name
        assert any(r.startswith("osscallback build") and f"--function {name}" in r and "--check-env" in r for r in runs)
        assert any(f"--template {template.path.name}" in r for r in runs)  # each builds from its own template


def test_fc2_functions_share_one_service_with_a_least_privilege_role() -> None:
    template = _load(ROOT / "template.fc2.yml")
    services = template.services()
    assert len(services) == 1
    (service_fns,) = services.values()
    assert {f.name for f in service_fns} == {f.name for f in template.functions}
    role = template.functions[0].raw["service"]["role"]
    actions: set[str] = set()
    for policy in role["policies"]:
        for statement in policy["statement"]:
            assert statement["Effect"] == "Allow"
            actions.update(statement["Action"])
            if "sts:AssumeRole" in statement["Action"]:  # GET /sts assumes the uploader role, and no other
                assert statement["Action"] == ["sts:AssumeRole"]
                assert statement["Resource"] == ["acs:ram:*:*:role/oss-callback-fc-uploader"]
                continue
            for resource in statement["Resource"]:
                assert resource.startswith(("acs:oss:*:*:", "acs:log:")) and "*:*:*" not in resource
            if "oss:ListObjects" in statement["Action"]:  # reconciliation lists the bucket: that bucket, nothing more
                assert statement["Action"] == ["oss:ListObjects"]
                assert statement["Resource"] == [f"acs:oss:*:*:{template.vars['bucket']}"]
    assert actions == {"oss:PutObject", "oss:GetObject", "oss:AbortMultipartUpload", "oss:ListObjects",
                       "sts:AssumeRole", "log:PostLogStoreLogs"}


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.name for p in TEMPLATES])
def test_both_templates_run_reconcile_on_a_timer_over_the_backstops_prefix(path: Path) -> None:
    """Issue 30: the reconcile function, timer-triggered every 10 minutes by default (vars), over the key prefix
    of the OSS trigger, with the callback function's store and action, in the callback function's package."""
    template = _load(path)
    (fn,) = [f for f in template.functions if f.handler == "reconcile.handler"]
    (timer,) = [t for t in fn.triggers if t.type == "timer"]
    assert timer.config["cronExpression"] == template.vars["reconcile"]["schedule"] == "@every 10m"
    assert timer.config["enable"] is True
    backstop = next(f for f in template.functions if f.oss_triggers)
    prefixes = ",".join(t.oss.prefix for t in backstop.oss_triggers)  # type: ignore[union-attr]
    assert prefixes == "examples/,uploads/"  # every trigger's prefix is listed, and only those
    assert fn.environment["CALLBACK_RECONCILE"].startswith(f"oss://{template.vars['bucket']}/{prefixes}?")
    for name in ("CALLBACK_IDEMPOTENCY_STORE", "CALLBACK_ACTION", "CALLBACK_IDEMPOTENCY_TTL"):
        assert fn.environment[name] == backstop.environment[name]
    assert fn.code_uri == backstop.code_uri
    assert float(fn.environment["CALLBACK_RECONCILE_SETTLE"]) > 420 + 30 + float(
        fn.environment["CALLBACK_IDEMPOTENCY_CLAIM_TTL"])


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.name for p in TEMPLATES])
def test_no_secrets_and_deploy_docs_cover_the_template(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(?i)(secret|password|token)\s*:\s*\S", text)
    assert not re.search(r"LTAI[0-9A-Za-z]{12,}", text)  # an AccessKey ID
    docs = (ROOT / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
    env_names = set(re.findall(r"\$\{env\(\s*'?([A-Z_][A-Z0-9_]*)", text))
    assert env_names, "the template takes deployment values from the environment"
    for name in env_names:
        assert name in docs, f"docs/DEPLOY.md does not explain {name}"
    assert f"s deploy -t {path.name}" in docs and f"s remove -t {path.name}" in docs
    for fn in _load(path).functions:
        assert fn.name in docs


@dataclass(frozen=True)
class _Filter:
    prefix: str
    raw_prefix: str  # as the template file writes it


def _oss_filters(template: Template, fn: FunctionDef) -> list[_Filter]:
    """Each OSS trigger's key prefix, resolved and as written (fc3: filter.key.prefix; devsapp/fc: Key.Prefix)."""
    raw_triggers = template.raw["resources" if template.is_fc3 else "services"][fn.module]["props"]["triggers"]
    out = []
    for trigger, raw in zip(fn.triggers, raw_triggers, strict=True):
        key, raw_key = ("key", "prefix") if template.is_fc3 else ("Key", "Prefix")
        config = "triggerConfig" if template.is_fc3 else "config"
        out.append(_Filter(trigger.config["filter"][key][raw_key], str(raw[config]["filter"][key][raw_key])))
    return out


@pytest.mark.parametrize("template", _templates())
def test_the_oss_backstop_delivers_uploads_and_never_its_own_markers(template: Template) -> None:
    """An OSS trigger on the three upload events, filtered by a key prefix from a variable, on a function that
    shares the callback function's code and store; the store is oss:// by default, its markers outside the
    filter (and skipped by the function too: tests/callback/test_oss_event.py)."""
    from osscallback.callback.idempotency.factory import StoreSpec

    callback = next(f for f in template.functions if f.http_triggers)
    backstops = [f for f in template.functions if any(t.type == "oss" for t in f.triggers)]
    assert len(backstops) == 1
    (fn,) = backstops
    assert fn.code_uri == callback.code_uri and fn.handler == "oss_event.handler"
    assert dict(fn.environment) == dict(callback.environment)  # one configuration, one store
    # One trigger per prefix: examples/ (the upload function's samples) and uploads/, where the page and /sts put
    # every upload of the `anonymous` authorizer (uploads/<random>/), so a client that skips the callback is covered.
    assert [t.raw_prefix for t in _oss_filters(template, fn)] == ["${vars.backstop.keyPrefix}",
                                                                   "${vars.backstop.uploadsPrefix}"]
    prefixes = [t.prefix for t in _oss_filters(template, fn)]
    assert prefixes == [template.vars["backstop"]["keyPrefix"], template.vars["backstop"]["uploadsPrefix"]]
    assert prefixes == ["examples/", ANONYMOUS_ROOT]
    assert not prefixes[0].startswith(prefixes[1]) and not prefixes[1].startswith(prefixes[0]), "OSS refuses overlaps"
    for trigger in fn.triggers:
        assert trigger.config["events"] == ["oss:ObjectCreated:PutObject", "oss:ObjectCreated:PostObject",
                                            "oss:ObjectCreated:CompleteMultipartUpload"]
    store = StoreSpec.parse(fn.environment["CALLBACK_IDEMPOTENCY_STORE"], {})
    assert store.kind == "oss" and store.bucket == "bucket-x"
    for prefix in prefixes:
        assert not store.prefix.startswith(prefix) and not prefix.startswith(store.prefix), "markers would trigger it"
    assert fn.timeout is not None and fn.timeout < float(fn.environment["CALLBACK_IDEMPOTENCY_CLAIM_TTL"])
    assert callback.timeout is not None and callback.timeout < float(fn.environment["CALLBACK_IDEMPOTENCY_CLAIM_TTL"])
    for raw, trigger in zip(fn.raw["triggers"], fn.triggers, strict=True):
        bucket_ref = raw.get("sourceArn", "") if template.is_fc3 else trigger.config.get("bucketName", "")
        assert bucket_ref.endswith("bucket-x"), "the trigger watches the bucket the uploads go to"
