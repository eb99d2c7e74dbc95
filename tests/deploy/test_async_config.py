"""The backstop's asynchronous invocation in both templates agrees with the code: retries and event age derived from
the claim TTL (osscallback.deploy.asyncconfig.backstop_policy, docs/DEPLOY.md), and an on-failure destination that
is the template's own dead-letter function, writing under a prefix the OSS trigger's filter excludes.

Spellings: devsapp/fc `asyncConfiguration` {destination: {onFailure: <arn>}, maxAsyncRetryAttempts,
maxAsyncEventAgeInSeconds} (github.com/devsapp/fc docs/en/yaml/function.md, readme.md); fc3 `asyncInvokeConfig`
{destinationConfig: {onFailure: {destination}}, ...} (github.com/devsapp/fc3 src/interface/async_invoke_config.ts,
__tests__/e2e/nodejs/s.yaml for the ARN `acs:fc:<region>::functions/<name>`)."""

from __future__ import annotations

import pytest

from osscallback.callback.deadletter import BoxSpec
from osscallback.callback.idempotency.factory import StoreSpec
from osscallback.deploy.asyncconfig import AsyncConfig, BackstopPolicy, FunctionArn, backstop_policy
from osscallback.deploy.fcyaml import Template, load_template
from osscallback.errors import ConfigError
from tests.support.deploy import ROOT, TEMPLATES


def _templates() -> list[pytest.ParameterSet]:
    env = {"OSS_BUCKET": "bucket-x", "FC_REGION": "cn-hangzhou"}
    return [pytest.param(load_template(p, env, strict=False), id=p.name) for p in TEMPLATES]


@pytest.mark.parametrize("template", _templates())
def test_the_backstop_retries_until_a_dead_claim_lapses_then_dead_letters(template: Template) -> None:
    (backstop,) = [f for f in template.functions if f.oss_triggers]
    config = AsyncConfig.of(backstop)
    claim_ttl = float(backstop.environment["CALLBACK_IDEMPOTENCY_CLAIM_TTL"])
    assert backstop.timeout is not None
    policy = backstop_policy(claim_ttl, float(backstop.timeout))
    assert (config.retry_attempts, config.max_event_age) == (policy.retry_attempts, policy.max_event_age)
    # the retries' back-off outlasts the claim of a run that died, and the event outlives every attempt
    assert policy.retry_span >= claim_ttl + backstop.timeout
    assert policy.max_event_age >= policy.retry_span + (policy.retry_attempts + 1) * backstop.timeout
    assert backstop.max_async_retry_attempts == config.retry_attempts  # the host's reader agrees

    arn = FunctionArn.parse(config.on_failure)
    assert arn is not None and arn.region == "cn-hangzhou"
    if template.is_fc3:
        assert arn.service is None
    else:
        assert arn.service == backstop.service and arn.qualifier == "LATEST"
    target = template.function(arn.function, arn.service)
    assert target.handler == "deadletter.handler" and target.code_uri == backstop.code_uri
    assert not target.triggers and AsyncConfig.of(target).on_failure == ""  # no chain of destinations
    assert template.functions.index(target) < template.functions.index(backstop), "deployed before it is named"

    box = BoxSpec.parse(target.environment["CALLBACK_DEAD_LETTERS"], {})
    assert len(backstop.oss_triggers) == 2  # examples/ and uploads/
    for trigger in backstop.oss_triggers:
        oss = trigger.oss
        assert oss is not None and box.bucket == oss.bucket == "bucket-x"
        assert not box.prefix.startswith(oss.prefix) and not oss.prefix.startswith(box.prefix), "dead letters trigger"
    store = StoreSpec.parse(backstop.environment["CALLBACK_IDEMPOTENCY_STORE"], {})
    assert not box.prefix.startswith(store.prefix) and not store.prefix.startswith(box.prefix)
    assert "${vars.backstop.deadLetters}" in (ROOT / template.path.name).read_text(encoding="utf-8")


def test_the_policy_follows_the_claim_ttl() -> None:
    assert backstop_policy(60, 30) == BackstopPolicy(8, 420, 127.5)
    assert backstop_policy(1, 1).retry_attempts == 3  # FC's default suffices for a short claim (0.5+1+2 >= 2)
    assert backstop_policy(0.2, 0.1, first_delay=0.05).retry_attempts == 3  # the tests' short schedule
    with pytest.raises(ConfigError, match="CALLBACK_IDEMPOTENCY_CLAIM_TTL"):
        backstop_policy(120, 30)  # 8 retries wait 127.5 s < 150


def test_function_arns() -> None:
    assert FunctionArn.parse("acs:fc:cn-shanghai:123:functions/f1") == FunctionArn("cn-shanghai", "123", "f1")
    assert FunctionArn.parse("acs:fc:::services/s.LATEST/functions/f") == FunctionArn("", "", "f", "s", "LATEST")
    assert FunctionArn.parse("acs:mns:cn-hangzhou::/topics/t/messages") is None  # another service's destination
    assert FunctionArn.parse("acs:fc:cn-hangzhou::functions/") is None
