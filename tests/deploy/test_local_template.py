"""template.local.yml: template.yml for `s deploy` into the local stack, through Serverless Devs' `extend`."""

from __future__ import annotations

from pathlib import Path

import pytest

from osscallback.deploy.fcyaml import load_template
from osscallback.errors import ConfigError
from tests.support.deploy import ROOT

ENV = {"FC_REGION": "cn-hangzhou", "OSS_BUCKET": "examplebucket", "FC_ROLE_ARN": "acs:ram::1:role/x"}
EMPTY_LOGS = {"project": "", "logstore": "", "enableRequestMetrics": False, "enableInstanceMetrics": False,
              "logBeginRule": "None"}


def test_local_template_differs_only_where_the_cloud_is_needed() -> None:
    cloud = load_template(ROOT / "template.yml", ENV)
    local = load_template(ROOT / "template.local.yml", ENV)
    assert local.edition == cloud.edition and local.name == cloud.name
    assert [f.name for f in local.functions] == [f.name for f in cloud.functions]
    for fc, fl in zip(cloud.functions, local.functions, strict=True):
        assert fc.log_config == "auto" and fl.log_config == EMPTY_LOGS  # no SLS project/logstore to create
        assert fc.raw["role"] == ENV["FC_ROLE_ARN"] and fl.raw["role"] == ""  # no RAM role
        same = {k: v for k, v in fc.raw.items() if k not in ("logConfig", "role")}
        assert {k: v for k, v in fl.raw.items() if k not in ("logConfig", "role")} == same
        assert (fl.handler, fl.environment, fl.triggers) == (fc.handler, fc.environment, fc.triggers)
    assert local.raw["resources"]["callback"]["actions"] == cloud.raw["resources"]["callback"]["actions"]


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
