"""The built packages are self-contained: each handler template.yml names imports and runs from its code
directory alone (plus the stdlib), in a fresh interpreter, as on FC."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from osscallback.deploy.build import FunctionPackage, read_manifest, runtime_interpreter, verify_package
from osscallback.deploy.fcyaml import FunctionDef, load_template
from osscallback.testing import KeyServer, OssSigner, form_body
from tests.support.deploy import HOST_VERSION, ROOT, RUNNER
from tests.support.oss_clients import REGION

DEPLOY_ENV = {"FC_REGION": "cn-hangzhou", "OSS_BUCKET": "isolated-bucket", "CALLBACK_URL": "",
              "FC_ROLE_ARN": "acs:ram::1234567890123456:role/oss-callback-fc-role"}
TEMPLATE = load_template(ROOT / "template.yml", DEPLOY_ENV, strict=True)
RUNTIME_VERSION = TEMPLATE.functions[0].python_version or "3.10"


#: How the template's HTTP functions are called: FC 3.0's HTTP event (template.yml) or FC 2.0's WSGI.
HTTP = "fc3" if TEMPLATE.is_fc3 else "wsgi"


def _module(key: str) -> FunctionDef:
    """The function declared under resource ``key`` (FC 3.0 names it oss-callback-fc-<key>)."""
    return next(f for f in TEMPLATE.functions if f.module == key)


def _find_python(version: str) -> str | None:
    """A working CPython ``version`` on this machine (PATH, or a pyenv install), to run the FC-runtime packages."""
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(str(p) for p in Path.home().glob(f".pyenv/versions/{version}*/bin/python{version}"))
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def _interpreters() -> list[Any]:
    runtime_python = _find_python(RUNTIME_VERSION)
    params = [pytest.param("host", sys.executable, id=f"python{HOST_VERSION}")]
    if RUNTIME_VERSION == HOST_VERSION:
        return params
    marks = [] if runtime_python else [pytest.mark.skip(reason=f"no python{RUNTIME_VERSION} interpreter on PATH")]
    params.append(pytest.param("runtime", runtime_python, id=f"python{RUNTIME_VERSION}", marks=marks))
    return params


def _packages(kind: str, request: pytest.FixtureRequest) -> dict[str, FunctionPackage]:
    fixture = "host_packages" if kind == "host" else "runtime_packages"
    packages: dict[str, FunctionPackage] = request.getfixturevalue(fixture)
    return packages


def _run(python: str, code_dir: Path, spec: dict[str, Any], env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    proc_env = {"PATH": os.environ.get("PATH", ""), **env}  # like FC: only the function's variables
    proc = subprocess.run(
        [python, "-I", "-S", "-B", str(RUNNER), str(code_dir), str(spec_file)],
        capture_output=True,
        text=True,
        env=proc_env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["leaked_path"] == [], "site-packages reached the isolated interpreter"
    assert out["foreign"] == [], f"modules loaded from outside the package: {out['foreign']}"
    return out


def _spec(fn: FunctionDef, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "module": fn.handler_module,
        "attr": fn.handler_attr,
        "function": fn.name,
        "handler": fn.handler,
        "service": fn.service,
        "region": fn.region,
        "kind": kind,
        **extra,
    }


@pytest.mark.parametrize(("kind", "python"), _interpreters())
def test_callback_package_verifies_a_signed_request_in_isolation(
    kind: str, python: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """With the memory store and no confirmation, the callback package answers without importing oss2, which it
    ships only because the template's store is oss:// and its confirmation is head (never redis: no redis:// store
    is configured)."""
    fn = _module("callback")
    package = _packages(kind, request)[Path(fn.code_uri).name]
    assert fn.environment["CALLBACK_IDEMPOTENCY_STORE"].startswith("oss://")
    assert (package.path / "oss2").is_dir(), "the oss:// store needs oss2 in the callback package"
    assert not (package.path / "redis").exists(), "no redis:// store is configured: redis must not ship"
    with KeyServer() as keys:
        signer = OssSigner(keys.private_key, keys.key_url)
        signed = signer.sign("http://127.0.0.1:9000/", form_body({"bucket": "isolated-bucket", "object": "a.txt"}))
        env = {**fn.environment, "CALLBACK_KEY_URL_PREFIXES": keys.prefix, "CALLBACK_IDEMPOTENCY_STORE": "memory",
               "CALLBACK_CONFIRM": "none"}
        spec = _spec(fn, HTTP, path="/", headers=signed.headers, body=signed.body.decode("latin-1"))
        out = _run(python, package.path, spec, env, tmp_path)

        forged = dict(signed.headers, Authorization=signed.headers["Authorization"][:-8] + "AAAAAAA=")
        rejected = _run(python, package.path, dict(spec, headers=forged), env, tmp_path)
    assert out["status"].startswith("200"), out
    answer = json.loads(out["body"])
    assert answer["Status"] == "OK" and answer["object"] == "a.txt"
    assert out["oss2_loaded"] is False, "the callback function imported oss2 with the memory store"
    assert rejected["status"].startswith("403") or rejected["status"].startswith("400"), rejected


@pytest.mark.parametrize(("kind", "python"), _interpreters())
def test_callback_and_event_packages_share_the_oss_store_in_isolation(
    kind: str, python: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The deployed configuration, minus the cloud: the callback function (WSGI) and the OSS-event function run
    from the one package in isolated interpreters, with the template's oss:// store and confirmation pointed at a
    local OSS holding the object. The callback is confirmed, claims and completes the upload; the event for the
    same upload is then a duplicate."""
    import oss2

    from osscallback.local.oss import LocalOSS

    fn = _module("callback")
    events_fn = _module("oss-events")
    package = _packages(kind, request)[Path(fn.code_uri).name]
    with KeyServer() as keys, LocalOSS(tmp_path / "oss", port=0, buckets=("isolated-bucket",)) as oss:
        key_id, secret, token = oss.issue_sts_token()
        store = fn.environment["CALLBACK_IDEMPOTENCY_STORE"] + f"&endpoint={oss.endpoint}"
        assert fn.environment["CALLBACK_CONFIRM"] == "head"
        env = {**fn.environment, "CALLBACK_KEY_URL_PREFIXES": keys.prefix, "CALLBACK_IDEMPOTENCY_STORE": store,
               "CALLBACK_CONFIRM_ENDPOINT": oss.endpoint, "FC_REGION": "cn-hangzhou",
               "ALIBABA_CLOUD_ACCESS_KEY_ID": key_id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
               "ALIBABA_CLOUD_SECURITY_TOKEN": token}
        oss2.Bucket(oss2.AuthV4(oss.access_key_id, oss.access_key_secret), oss.endpoint, "isolated-bucket", region=REGION).put_object(
            "examples/a.txt", b"a")  # what the callback describes really is in OSS (the ETag is MD5("a"))
        fields = {"bucket": "isolated-bucket", "object": "examples/a.txt", "etag": "0CC175B9C0F1B6A831C399E269772661",
                  "size": "1", "reqId": "5F2A000000000000000000AB"}
        signed = OssSigner(keys.private_key, keys.key_url).sign("http://127.0.0.1:9000/", form_body(fields))
        spec = _spec(fn, HTTP, path="/", headers=signed.headers, body=signed.body.decode("latin-1"))
        out = _run(python, package.path, spec, env, tmp_path)
        event = {"events": [{"eventName": "ObjectCreated:PutObject", "region": "cn-hangzhou",
                             "oss": {"bucket": {"name": "isolated-bucket"},
                                     "object": {"key": "examples/a.txt", "eTag": fields["etag"], "size": 1}},
                             "responseElements": {"requestId": fields["reqId"]}}]}
        delivered = _run(python, package.path, _spec(events_fn, "event", event=json.dumps(event)), env, tmp_path)
        # the reconcile function (issue 30), from the same package: the upload the callback delivered is recognised
        reconcile_fn = _module("reconcile")
        reconcile_env = {**env, "CALLBACK_RECONCILE": "oss://isolated-bucket/examples/?region=cn-hangzhou"
                                                      f"&endpoint={oss.endpoint}", "CALLBACK_RECONCILE_SINCE": "0"}
        run = _run(python, package.path, _spec(reconcile_fn, "event", event=json.dumps({"reconcile": {"settle": 0}})),
                   reconcile_env, tmp_path)
    assert out["status"].startswith("200"), out
    assert out["oss2_loaded"] is True and not out["foreign"], out["foreign"]
    assert json.loads(delivered["result"])["records"][0]["outcome"] == "duplicate", delivered
    summary = json.loads(run["result"])["summary"]
    assert (summary["seen"], summary["already_delivered"], summary["delivered"]) == (1, 1, 0), run


@pytest.mark.parametrize(("kind", "python"), _interpreters())
def test_upload_package_runs_in_isolation(
    kind: str, python: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fn = _module("upload")
    package = _packages(kind, request)[Path(fn.code_uri).name]
    env = {
        **fn.environment,
        "OSS_ENDPOINT": "http://127.0.0.1:9",  # never contacted: presigning is local
        "OSS_ACCESS_KEY_ID": "isolated-key-id",
        "OSS_ACCESS_KEY_SECRET": "isolated-key-secret",
    }
    event = {"action": "presign_put", "key": "isolated/a.txt", "expires": 600, "template": "none"}
    out = _run(python, package.path, _spec(fn, "event", event=json.dumps(event)), env, tmp_path)
    result = json.loads(out["result"])
    assert result["ok"] is True, result
    assert "isolated/a.txt" in json.dumps(result)


@pytest.mark.parametrize(("kind", "python"), _interpreters())
def test_policy_package_hands_out_sts_credentials_in_isolation(
    kind: str, python: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """GET /sts from the isolated upload package: the STS SDK it ships (FC's python3.10 has none of it) calls
    AssumeRole at the local STS, and the credentials may upload under the prefix only."""
    import oss2

    from osscallback.local.oss import LocalOSS
    from osscallback.local.sts import LocalSTS

    fn = _module("policy")
    package = _packages(kind, request)[Path(fn.code_uri).name]
    assert (package.path / "alibabacloud_sts20150401").is_dir()
    with LocalOSS(tmp_path / "oss", port=0, buckets=("isolated-bucket",)) as oss, LocalSTS(oss.credentials) as sts:
        key_id, secret, token = oss.issue_sts_token(3600)  # the function's role credentials, as FC gives them
        env = {**fn.environment, "OSS_ENDPOINT": oss.endpoint, "OSS_ACCESS_KEY_ID": key_id,
               "OSS_ACCESS_KEY_SECRET": secret, "OSS_SESSION_TOKEN": token, "UPLOAD_AUTHORIZER": "anonymous",
               "UPLOAD_STS_ENDPOINT": sts.url, "UPLOAD_STS_ROLE_ARN": "acs:ram::1:role/uploader",
               "CALLBACK_URL": "https://callback.example.com/"}
        spec = _spec(fn, HTTP, method="GET", path="/sts", body="", headers={})
        out = _run(python, package.path, spec, env, tmp_path)
        assert out["status"].startswith("200"), out
        answer = json.loads(out["body"])
        auth = oss2.StsAuth(answer["AccessKeyId"], answer["AccessKeySecret"], answer["SecurityToken"], "v4")
        bucket = oss2.Bucket(auth, oss.endpoint, "isolated-bucket", region=answer["region"])
        assert bucket.put_object(answer["key_prefix"] + "a.txt", b"ok").status == 200
        with pytest.raises(oss2.exceptions.AccessDenied):
            bucket.put_object("elsewhere.txt", b"no")


@pytest.mark.parametrize(("kind", "python"), _interpreters())
def test_upload_package_against_local_oss(
    kind: str, python: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The isolated upload package uploads to the local OSS with the template's settings (V4 signing), and the
    callback OSS makes is verified by the callback function: the deployed code path, minus the cloud."""
    from osscallback.callback.core import CallbackApp
    from osscallback.callback.wsgi import make_wsgi_handler
    from osscallback.local.httpserver import WSGIServer
    from osscallback.local.oss import LocalOSS

    fn = _module("upload")
    package = _packages(kind, request)[Path(fn.code_uri).name]
    with LocalOSS(tmp_path / "oss", port=0, buckets=("isolated-bucket",)) as oss:
        app = CallbackApp.from_env({"CALLBACK_KEY_URL_PREFIXES": oss.public_key_prefix})
        with WSGIServer(make_wsgi_handler(app), threads=4) as callback:
            env = {
                **fn.environment,
                "OSS_ENDPOINT": oss.endpoint,  # the template's is FC's internal OSS endpoint
                "OSS_ACCESS_KEY_ID": oss.access_key_id,
                "OSS_ACCESS_KEY_SECRET": oss.access_key_secret,
                "CALLBACK_URL": callback.url + "/",
            }
            event = {"action": "put", "key": "isolated/put.txt", "content": "from the package",
                     "template": "json-full", "custom_vars": {"x:via": "package"}}
            out = _run(python, package.path, _spec(fn, "event", event=json.dumps(event)), env, tmp_path)
    result = json.loads(out["result"])
    assert result["ok"] is True, result
    assert result["callback_status"] == "ok", result
    assert result["callback"] == {"Status": "OK", "bucket": "isolated-bucket", "object": "isolated/put.txt"}
    assert not out["foreign"], out["foreign"]


@pytest.mark.parametrize(("kind", "python"), _interpreters())
def test_policy_function_runs_from_the_upload_package(
    kind: str, python: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The policy function (policy.handler in the upload package) serves its page from the package's own static
    files and signs a V4 policy, with nothing but the package: called as the template declares it (FC 3.0's HTTP
    event)."""
    fn = _module("policy")
    package = _packages(kind, request)[Path(fn.code_uri).name]
    env = {**fn.environment, "OSS_ACCESS_KEY_ID": "isolated-key-id", "OSS_ACCESS_KEY_SECRET": "isolated-key-secret",
           "OSS_SESSION_TOKEN": "isolated-token"}
    page = _run(python, package.path, _spec(fn, HTTP, method="GET", path="/", body="", headers={}), env, tmp_path)
    assert page["status"].startswith("200") and "<script src=\"static/upload.js\"" in page["body"]
    ask = _spec(fn, HTTP, method="GET", path="/policy", body="", headers={})
    # As deployed (issue 27): no authorizer, so nobody gets a policy; the answer says how to configure one.
    closed = _run(python, package.path, ask, {**env, "CALLBACK_URL": "https://callback.example.test/"}, tmp_path)
    assert closed["status"].startswith("403"), closed
    assert json.loads(closed["body"])["error"] == "UploadEndpointNotConfigured" and "UPLOAD_AUTHORIZER" in closed["body"]
    env["UPLOAD_AUTHORIZER"] = "anonymous"  # the documented demo choice
    first = _run(python, package.path, ask, env, tmp_path)  # the first deploy: CALLBACK_URL is not known yet
    assert first["status"].startswith("500") and "set CALLBACK_URL" in json.loads(first["body"])["message"]
    answer = _run(python, package.path, ask, {**env, "CALLBACK_URL": "https://callback.example.test/"}, tmp_path)
    assert answer["status"].startswith("200"), answer["body"]
    policy = json.loads(answer["body"])
    assert policy["x-oss-signature-version"] == "OSS4-HMAC-SHA256" and policy["x-oss-security-token"] == "isolated-token"
    assert policy["host"] == "https://isolated-bucket.oss-cn-hangzhou.aliyuncs.com"  # the public endpoint
    assert "isolated-key-secret" not in answer["body"]


def test_runtime_packages_fit_the_template_runtime(runtime_packages: dict[str, FunctionPackage]) -> None:
    for fn in TEMPLATE.functions:
        package = runtime_packages[Path(fn.code_uri).name]
        manifest = read_manifest(package.path)
        assert manifest["python_version"] == fn.python_version, fn.name
        assert verify_package(package.path, str(fn.python_version)) == []
        natives = [p.name for p in package.path.rglob("*.so") if ".cpython-" in p.name]
        assert all(f".cpython-{fn.python_version.replace('.', '') if fn.python_version else ''}-" in n for n in natives)


def test_packages_hold_no_tests_caches_or_dev_tools(runtime_packages: dict[str, FunctionPackage]) -> None:
    for package in runtime_packages.values():
        names = {p.name for p in package.path.rglob("*")}
        assert "SelfTest" not in names
        library = {p.name for p in (package.path / "osscallback").iterdir()}
        assert not library & {"local", "doctor", "deploy", "cli", "testing.py", "keygen.py"}
        # the 512-bit key generator is for the local OSS, the test kit and the doctor: no package carries it
        assert not list(package.path.rglob("keygen.py"))
        assert not (package.path / "bin").exists()
        tag = f"cpython-{package.python_version.replace('.', '')}"
        for pyc in package.path.rglob("*.pyc"):  # only bytecode for the runtime, beside its own source
            assert pyc.parent.name == "__pycache__" and pyc.name.endswith(f".{tag}.pyc"), pyc
            assert (pyc.parent.parent / (pyc.name.split(".")[0] + ".py")).is_file(), pyc
        assert not [d for d in package.path.rglob("__pycache__") if not any(d.iterdir())]
        assert package.size_bytes > 0 and 0 < package.zip_bytes < 50 * 1024 * 1024  # FC's direct-upload limit


def test_each_package_ships_the_top_level_modules_and_its_own_subpackages(
    runtime_packages: dict[str, FunctionPackage],
) -> None:
    """The layout is the contract: the callback package is the top-level modules plus ``callback/``, and the
    upload package the top-level modules plus ``upload/``; local tooling, deploy code and the CLI never ship."""
    shipped = {name: sorted(p.name for p in (pkg.path / "osscallback").iterdir() if p.name != "__pycache__")
               for name, pkg in runtime_packages.items()}
    top = ["__init__.py", "_lazy.py", "errors.py", "logconfig.py", "osslocation.py", "py.typed"]  # no keygen.py
    assert shipped["callback"] == sorted([*top, "callback"])
    assert shipped["upload"] == sorted([*top, "upload"])
    callback_modules = {p.relative_to(runtime_packages["callback"].path).as_posix() for p in
                        (runtime_packages["callback"].path / "osscallback").rglob("*.py")}
    assert "osscallback/callback/core.py" in callback_modules
    assert not any(m.startswith(("osscallback/upload/", "osscallback/local/")) for m in callback_modules)


def test_packages_ship_bytecode_the_runtime_uses(runtime_packages: dict[str, FunctionPackage]) -> None:
    """FC's code directory is read-only: without shipped bytecode every cold start compiles every module again.
    The runtime's own interpreter checks each module's pyc: its magic number, unchecked-hash flags and the hash of
    the source beside it — exactly what makes CPython load a pyc without recompiling or touching the source."""
    python = runtime_interpreter(RUNTIME_VERSION)
    if python is None:
        pytest.skip(f"no python{RUNTIME_VERSION} here: the build ships sources only (and says so)")
    check = (
        "import importlib.util, pathlib, sys\n"
        "bad = []; count = 0\n"
        "for src in pathlib.Path(sys.argv[1]).rglob('*.py'):\n"
        "    count += 1\n"
        "    pyc = pathlib.Path(importlib.util.cache_from_source(str(src)))\n"
        "    head = pyc.read_bytes()[:16] if pyc.is_file() else b''\n"
        "    ok = (head[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(head[4:8], 'little') == 1\n"
        "          and head[8:16] == importlib.util.source_hash(src.read_bytes()))\n"
        "    bad += [] if ok else [str(src)]\n"
        "print(count, len(bad), bad[:5])\n"
    )
    for package in runtime_packages.values():
        assert package.bytecode == f"cpython-{RUNTIME_VERSION.replace('.', '')}"
        assert read_manifest(package.path)["bytecode"] == package.bytecode
        out = subprocess.run([python, "-I", "-c", check, str(package.path)], capture_output=True, text=True,
                             timeout=120, check=True)
        count, bad, examples = out.stdout.split(" ", 2)
        assert int(count) > 100 and int(bad) == 0, (package.name, examples)
