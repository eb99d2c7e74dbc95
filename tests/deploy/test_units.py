"""The pieces under the deploy tests: template interpolation, wheel purification, tag matching, the CLI's env check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from osscallback.deploy.build import BuildError, make_pure, tag_fits
from osscallback.deploy.fcyaml import load_template
from osscallback.errors import ConfigError
from tests.support.deploy import ROOT

FC2 = """
edition: 1.0.0
name: app
vars:
  region: ${env(REGION)}
  bucket: ${env('BUCKET', 'fallback-bucket')}
  service:
    name: svc
    role:
      policies: [{statement: [{Resource: ["acs:oss:*:*:${vars.bucket}/*"]}]}]
services:
  one:
    component: devsapp/fc
    props:
      region: ${vars.region}
      service: ${vars.service}
      function:
        name: f
        runtime: python3.10
        handler: index.handler
        codeUri: ./.build/f
        memorySize: 128
        environmentVariables:
          ENDPOINT: https://oss-${vars.region}-internal.aliyuncs.com
          N: 5
          DOT: ${env.DOTTED}
      triggers:
        - {name: t, type: http, config: {authType: anonymous, methods: [post]}}
"""


def test_interpolation_resolves_env_defaults_vars_and_nested_vars(tmp_path: Path) -> None:
    path = tmp_path / "s.yml"
    path.write_text(FC2, encoding="utf-8")
    template = load_template(path, {"REGION": "cn-shanghai", "DOTTED": "d"}, strict=True)
    fn = template.function("f")
    assert fn.service == "svc" and fn.region == "cn-shanghai"
    assert fn.environment == {"ENDPOINT": "https://oss-cn-shanghai-internal.aliyuncs.com", "N": "5", "DOT": "d"}
    assert fn.triggers[0].methods == ("POST",)
    assert fn.raw["service"]["role"]["policies"][0]["statement"][0]["Resource"] == ["acs:oss:*:*:fallback-bucket/*"]
    assert template.services() == {"svc": (fn,)}


def test_missing_environment_is_listed_or_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yml"
    path.write_text(FC2, encoding="utf-8")
    lenient = load_template(path, {})
    assert lenient.missing == ("environment variable DOTTED", "environment variable REGION")
    assert lenient.function("f").environment["ENDPOINT"] == "https://oss--internal.aliyuncs.com"
    with pytest.raises(ConfigError, match="DOTTED.*REGION"):
        load_template(path, {}, strict=True)
    with pytest.raises(ConfigError, match="not declared"):
        lenient.function("nope")


def _wheel(path: Path, files: dict[str, bytes], tag: str) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr("demo-1.0.dist-info/WHEEL", f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")
        z.writestr("demo-1.0.dist-info/RECORD", "")
    return path


def test_make_pure_drops_optional_native_code_only_where_known_safe(tmp_path: Path) -> None:
    house = tmp_path / "house"
    house.mkdir()
    files = {"crcmod/__init__.py": b"", "crcmod/_crcfunext.cpython-311-x86_64-linux-gnu.so": b"\x7fELF"}
    native = _wheel(tmp_path / "crcmod-1.7-cp311-cp311-linux_x86_64.whl", files, "cp311-cp311-linux_x86_64")
    pure = make_pure(native, house)
    assert pure.name == "crcmod-1.7-py3-none-any.whl"
    with zipfile.ZipFile(pure) as z:
        assert "crcmod/__init__.py" in z.namelist() and not any(n.endswith(".so") for n in z.namelist())
        wheel_meta = z.read("demo-1.0.dist-info/WHEEL").decode()
        assert "Tag: py3-none-any" in wheel_meta and "Root-Is-Purelib: true" in wheel_meta
    other = _wheel(tmp_path / "fastlib-1.0-cp311-cp311-linux_x86_64.whl", {"fastlib/x.so": b""}, "cp311-cp311-x")
    with pytest.raises(BuildError, match="native code"):
        make_pure(other, house)


@pytest.mark.parametrize(
    ("tag", "fits"),
    [
        ("py3-none-any", True),
        ("py2.py3-none-any", True),
        ("cp310-cp310-manylinux_2_17_x86_64", True),
        ("cp39-abi3-manylinux2014_x86_64", True),
        ("cp311-abi3-manylinux2014_x86_64", False),
        ("cp311-cp311-manylinux_2_17_x86_64", False),
        ("cp310-cp310-manylinux_2_17_aarch64", False),
        ("cp310-cp310-macosx_11_0_x86_64", False),
        ("cp310-cp310-win_amd64", False),
    ],
)
def test_wheel_tags_are_matched_against_the_fc_runtime(tag: str, fits: bool) -> None:
    assert tag_fits(tag, "3.10") is fits


def _cli(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "osscallback.cli", *command], capture_output=True, text=True,
                          env=env, timeout=60, check=False, cwd=ROOT)


def test_build_check_env_names_what_a_deploy_lacks() -> None:
    """FC 2.0's edition 1.0.0 has no defaults: every ${env(NAME)} must be exported, CALLBACK_URL too."""
    env = {k: v for k, v in os.environ.items() if k not in ("FC_REGION", "OSS_BUCKET", "CALLBACK_URL")}
    proc = _cli("build", "--check-env", "--function", "callback", "--root", str(ROOT),
                "--template", str(ROOT / "template.fc2.yml"), env=env)
    assert proc.returncode == 2
    assert "FC_REGION" in proc.stderr and "OSS_BUCKET" in proc.stderr and "CALLBACK_URL" in proc.stderr


@pytest.mark.parametrize("command", [["build", "--check-env"], ["invoke", "upload", "--event-file", "events/upload-put.json"],
                                     ["local", "--once"], ["redeliver", "--endpoint", "http://127.0.0.1:9"]])
@pytest.mark.parametrize(("old", "new"), [("template.fc3.yml", "template.yml"),
                                          ("template.fc3.local.yml", "template.local.yml")])
def test_an_old_template_name_is_answered_with_the_new_one(command: list[str], old: str, new: str) -> None:
    """Issue 27 renamed the FC 3.0 template: the old name gets one line naming the new file, never another file."""
    proc = _cli(*command, "--template", old)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{old} is now {new}" in lines[0], proc.stderr


def test_the_build_ships_the_client_the_configured_store_needs(tmp_path: Path) -> None:
    """``CALLBACK_IDEMPOTENCY_STORE`` in the template decides: redis:// adds redis, oss:// adds oss2, memory (or
    none) adds nothing; functions sharing a code directory share the union."""
    from osscallback.deploy.build import requirements_for, store_clients

    def template(stores: dict[str, str]) -> Path:
        services = {}
        for i, (code, store) in enumerate(stores.items()):
            env = {"CALLBACK_IDEMPOTENCY_STORE": store} if store else {}
            services[f"m{i}"] = {"component": "devsapp/fc", "props": {
                "service": {"name": "s"}, "function": {"name": f"f{i}", "codeUri": f"./.build/{code.split('#')[0]}",
                                                       "environmentVariables": env}}}
        path = tmp_path / f"t{len(list(tmp_path.iterdir()))}.yml"
        path.write_text(json.dumps({"edition": "1.0.0", "services": services}), encoding="utf-8")
        return path

    assert store_clients(template({"callback": "memory", "upload": ""})) == {}
    assert store_clients(template({"callback": "redis://:p@h:6379/0"})) == {"callback": ("redis",)}
    assert store_clients(template({"callback": "oss://${vars.bucket}/m/"})) == {"callback": ("oss2",)}
    both = template({"callback": "oss://b/m/", "callback#events": "rediss://h:6380/1"})
    assert store_clients(both) == {"callback": ("oss2", "redis")}
    callback = requirements_for("callback", ROOT, ("redis",))
    assert [r.split(">")[0] for r in callback] == ["cryptography", "jinja2", "redis"]
    assert requirements_for("upload", ROOT, ("oss2",)).count(next(r for r in callback if r.startswith("jinja2"))) == 1
    assert sum(r.startswith("oss2") for r in requirements_for("upload", ROOT, ("oss2",))) == 1


def test_the_build_ships_oss2_when_confirmation_is_on(tmp_path: Path) -> None:
    """``CALLBACK_CONFIRM=head`` HEADs through oss2, so a package with the memory store still needs it then."""
    from osscallback.deploy.build import store_clients

    def template(confirm: str) -> Path:
        env = {"CALLBACK_IDEMPOTENCY_STORE": "memory", "CALLBACK_CONFIRM": confirm}
        doc = {"edition": "1.0.0", "services": {"m": {"component": "devsapp/fc", "props": {
            "service": {"name": "s"}, "function": {"name": "f", "codeUri": "./.build/callback",
                                                   "environmentVariables": env}}}}}
        path = tmp_path / f"{confirm}.yml"
        path.write_text(json.dumps(doc), encoding="utf-8")
        return path

    assert store_clients(template("head")) == {"callback": ("oss2",)}
    assert store_clients(template("none")) == {}


def test_requirements_only_fcs_python_needs(tmp_path: Path) -> None:
    """pip evaluates markers against its own interpreter: what FC's older Python needs is found from the metadata
    (aiohttp's ``async-timeout; python_version < "3.11"``), extras and what is installed are left out."""
    from osscallback.deploy.wheels import runtime_only_requirements

    for name, requires in (("aiohttp", ['async-timeout<6.0,>=4.0; python_version < "3.11"',
                                        'aiodns>=3.3.0; extra == "speedups"', "yarl<2.0,>=1.17.0",
                                        'typing-extensions>=4.1; python_version < "3.13"']),
                           ("typing_extensions", [])):
        info = tmp_path / f"{name}-1.0.dist-info"
        info.mkdir()
        lines = [f"Name: {name}", "Version: 1.0", *(f"Requires-Dist: {r}" for r in requires)]
        (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert runtime_only_requirements(tmp_path, "3.10") == ["async-timeout<6.0,>=4.0"]
    assert runtime_only_requirements(tmp_path, "3.11") == []


def test_the_build_packages_for_the_runtime_the_deploy_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """template.yml deploys ${env('FC_RUNTIME', 'python3.12')}: the build reads the same value from the same
    environment (the pre-deploy action inherits s's), so FC_RUNTIME=python3.10 gets cp310 wheels, not cp312 ones;
    template.fc2.yml stays python3.10 (FC 2.0's Python page lists no 3.12)."""
    from osscallback.deploy.build import DEFAULT_PYTHON_VERSION, runtime_versions

    monkeypatch.delenv("FC_RUNTIME", raising=False)
    assert set(runtime_versions(ROOT / "template.yml").values()) == {"3.12"} == {DEFAULT_PYTHON_VERSION}
    assert set(runtime_versions(ROOT / "template.local.yml").values()) == {"3.12"}
    assert set(runtime_versions(ROOT / "template.fc2.yml").values()) == {"3.10"}
    monkeypatch.setenv("FC_RUNTIME", "python3.10")
    assert runtime_versions(ROOT / "template.yml") == {"callback": "3.10", "upload": "3.10"}
