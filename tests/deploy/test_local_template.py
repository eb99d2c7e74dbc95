"""template.local.yml: template.yml for `s deploy` into the local stack, through Serverless Devs' `extend`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from osscallback.deploy.fcyaml import load_template
from osscallback.errors import ConfigError
from tests.support.deploy import ROOT

ENV = {"FC_REGION": "cn-hangzhou", "OSS_BUCKET": "examplebucket", "FC_ROLE_ARN": "acs:ram::1:role/x"}
#: A RAM role's ARN, as fc3's Role.isRoleArnFormat takes it (src/base.ts _handleRole: an ARN is used as given).
ARN = re.compile(r"acs:ram::[^:]+:role/[a-z0-9._-]+", re.I)
EMPTY_LOGS = {"project": "", "logstore": "", "enableRequestMetrics": False, "enableInstanceMetrics": False,
              "logBeginRule": "None"}


def test_local_template_differs_only_where_the_cloud_is_needed() -> None:
    """What fc3 would take to RAM or SLS is overridden (../shared/tools/fc3/README.md: "RAM: no call when every
    role is an ARN. An OSS trigger without invocationRole makes fc3 get-or-create AliyunOSSEventNotificationRole";
    "SLS: logConfig: auto calls SLS's fixed endpoint; an explicit or empty logConfig does not"); nothing else is."""
    cloud = load_template(ROOT / "template.yml", ENV)
    local = load_template(ROOT / "template.local.yml", {k: v for k, v in ENV.items() if k != "FC_ROLE_ARN"})
    assert local.edition == cloud.edition and local.name == cloud.name
    assert [f.name for f in local.functions] == [f.name for f in cloud.functions]
    assert set(local.raw["resources"]) == set(cloud.raw["resources"])  # a resource added to template.yml is here
    # both backstop prefixes (examples/, uploads/): `extend` replaces the trigger list, so it is repeated whole
    assert [t.oss.prefix for f in local.functions for t in f.oss_triggers if t.oss] == ["examples/", "uploads/"]
    for fc, fl in zip(cloud.functions, local.functions, strict=True):
        assert fc.log_config == "auto" and fl.log_config == EMPTY_LOGS  # no SLS project/logstore to create
        assert fc.raw["role"] == ENV["FC_ROLE_ARN"] and ARN.fullmatch(fl.raw["role"]), fl.raw["role"]  # no RAM
        for trigger in fl.raw.get("triggers", []):
            if trigger["triggerType"] == "oss":
                assert ARN.fullmatch(trigger["invocationRole"]), trigger  # no AliyunOSSEventNotificationRole lookup
        cloud_triggers = [{k: v for k, v in t.items() if k != "invocationRole"} for t in fc.raw.get("triggers", [])]
        assert [{k: v for k, v in t.items() if k != "invocationRole"} for t in fl.raw.get("triggers", [])] \
            == cloud_triggers
        same = {k: v for k, v in fc.raw.items() if k not in ("logConfig", "role", "triggers", "environmentVariables")}
        assert {k: v for k, v in fl.raw.items() if k not in ("logConfig", "role", "triggers",
                                                              "environmentVariables")} == same
        local_env = dict(fl.environment)
        if fl.module == "policy":  # the one other difference: the upload page is open for local use
            assert fc.environment["UPLOAD_AUTHORIZER"] == "" and local_env.pop("UPLOAD_AUTHORIZER") == "anonymous"
            local_env["UPLOAD_AUTHORIZER"] = ""
        assert (fl.handler, local_env) == (fc.handler, fc.environment)
        runs = [a["run"] for a in local.raw["resources"][fl.module]["actions"]["pre-deploy"]]
        cloud_runs = [a["run"] for a in cloud.raw["resources"][fc.module]["actions"]["pre-deploy"]]
        assert runs == [r.replace("--template template.yml", "--template template.local.yml") for r in cloud_runs]


def test_check_env_refuses_a_cloud_deploy_without_a_role_and_passes_the_local_one() -> None:
    """`s` reads ${env('FC_ROLE_ARN', '')} as empty when unset (the local deploy needs no role); the pre-deploy
    action is what stops a cloud deploy without one, in one line that says what to do."""
    env = {k: v for k, v in os.environ.items() if k not in ("FC_ROLE_ARN", "CALLBACK_URL")}
    env.update(FC_REGION="cn-hangzhou", OSS_BUCKET="examplebucket")
    cloud = _check_env("template.yml", env)
    assert cloud.returncode == 2 and cloud.stdout == "", cloud.stderr
    (line,) = cloud.stderr.strip().splitlines()
    assert "no role for oss-callback-fc-callback" in line and "FC_ROLE_ARN is empty" in line
    assert "export FC_ROLE_ARN=acs:ram::<account-id>:role/oss-callback-fc-role" in line and "The role to create" in line
    local = _check_env("template.local.yml", env)
    assert "unknown function(s) nosuch" in local.stderr, local.stderr  # past the check, at the build
    given = _check_env("template.yml", {**env, "FC_ROLE_ARN": "acs:ram::1:role/x"})
    assert "unknown function(s) nosuch" in given.stderr, given.stderr


def _check_env(template: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The pre-deploy action as template.yml runs it, for a function that does not exist: a template that passes
    the check stops at the build's "unknown function" (no wheels installed), one that fails stops before it."""
    return subprocess.run([sys.executable, "-m", "osscallback.cli", "build", "--function", "nosuch", "--check-env",
                           "--template", template], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def test_extend_merges_deeply_and_reports_a_missing_base(tmp_path: Path) -> None:
    (tmp_path / "base.yml").write_text("edition: 3.0.0\nname: n\nvars: {a: 1, b: {c: 2, d: 3}}\n"
                                       "resources: {f: {component: fc3, props: {functionName: f, timeout: 3}}}\n")
    (tmp_path / "over.yml").write_text("extend: base.yml\nvars: {b: {d: 4}}\n"
                                       "resources: {f: {props: {timeout: 9}}}\n")
    doc = load_template(tmp_path / "over.yml", {})
    assert doc.vars == {"a": 1, "b": {"c": 2, "d": 4}} and doc.functions[0].timeout == 9
    (tmp_path / "orphan.yml").write_text("extend: nowhere.yml\n")
    with pytest.raises(ConfigError, match="cannot read the extended template"):
        load_template(tmp_path / "orphan.yml", {})
    (tmp_path / "loop.yml").write_text("extend: loop.yml\n")
    with pytest.raises(ConfigError, match="too deep"):
        load_template(tmp_path / "loop.yml", {})
