"""A function's asynchronous-invocation settings in a template, and the backstop's, derived from the claim TTL.

**Where a template says it.** devsapp/fc (FC 2.0) puts ``asyncConfiguration`` on the function, with the
destinations as plain ARNs: ``{destination: {onSuccess, onFailure}, maxAsyncEventAgeInSeconds,
maxAsyncRetryAttempts, statefulInvocation}`` (devsapp/fc ``docs/en/yaml/function.md`` "asyncConfiguration",
``publish.yaml``; ARN ``acs:fc:{region}:{uid}:services/{service}.{qualifier}/functions/{function}``). fc3 (FC 3.0)
puts ``asyncInvokeConfig`` beside the function's props: ``{destinationConfig: {onSuccess: {destination},
onFailure: {destination}}, maxAsyncEventAgeInSeconds, maxAsyncRetryAttempts, asyncTask, qualifier}`` (devsapp/fc3
``src/interface/async_invoke_config.ts``; ARN ``acs:fc:{region}:{account}:functions/{function}``, the account
may be left empty as in fc3's ``__tests__/e2e/nodejs/s.yaml``; fc3's ``2to3`` turns the FC 2.0 block into this one).
Destinations may also be MNS queues/topics, EventBridge or RocketMQ (FC's "Result callback" page); only a
function is modelled locally.

**What the backstop needs** (:func:`backstop_policy`). FC retries a failed asynchronous invocation
``maxAsyncRetryAttempts`` times (0-8, default 3; FC 3.0 API ``PutAsyncInvokeConfigInput``) and discards an event
older than ``maxAsyncEventAgeInSeconds`` (1-604800, default 86400). FC documents its retry back-off for throttling
(0.5 s, then doubling: "Retry policies"), not for function errors; the local FC host uses that schedule for every
retry, and this derivation assumes it. A run that holds a claim and dies leaves the claim until
``CALLBACK_IDEMPOTENCY_CLAIM_TTL`` has passed; its own attempt ends at the latest at the function's timeout. So the
retries must still be going ``claim_ttl + timeout`` seconds after the first attempt: the fewest retries whose
waits add up to that. The event's maximum age must outlive every attempt: those waits plus one timeout per attempt,
rounded up to a minute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from osscallback.deploy.fcyaml import FunctionDef
from osscallback.errors import ConfigError

#: FC's range for ``maxAsyncRetryAttempts`` and its default.
MAX_RETRY_ATTEMPTS = 8
DEFAULT_RETRY_ATTEMPTS = 3
#: FC 3.0's range for ``maxAsyncEventAgeInSeconds`` (FC 2.0's devsapp schema allows up to 2592000) and default.
MAX_EVENT_AGE = 604800
DEFAULT_EVENT_AGE = 86400
#: First retry's delay; each further retry waits twice as long (FC's documented back-off).
FIRST_RETRY_DELAY = 0.5


@dataclass(frozen=True)
class AsyncConfig:
    """A function's asynchronous-invocation settings; ``None`` where the template leaves FC's default."""

    retry_attempts: int | None = None
    max_event_age: int | None = None
    on_success: str = ""  # destination ARN
    on_failure: str = ""

    @classmethod
    def of(cls, fn: FunctionDef) -> AsyncConfig:
        if fn.service is not None:
            function = fn.raw.get("function")
            block = function.get("asyncConfiguration") if isinstance(function, Mapping) else None
            dest = block.get("destination") if isinstance(block, Mapping) else None
            on_success = dest.get("onSuccess") if isinstance(dest, Mapping) else ""
            on_failure = dest.get("onFailure") if isinstance(dest, Mapping) else ""
        else:
            block = fn.raw.get("asyncInvokeConfig")
            dest = block.get("destinationConfig") if isinstance(block, Mapping) else None
            on_success = _nested(dest, "onSuccess", "destination")
            on_failure = _nested(dest, "onFailure", "destination")
        if not isinstance(block, Mapping):
            return cls()
        return cls(retry_attempts=_int(block.get("maxAsyncRetryAttempts")),
                   max_event_age=_int(block.get("maxAsyncEventAgeInSeconds")),
                   on_success=str(on_success or ""), on_failure=str(on_failure or ""))


@dataclass(frozen=True)
class FunctionArn:
    """A destination that is a function: ``service`` is ``None`` for FC 3.0's ``functions/<name>``."""

    region: str
    account: str
    function: str
    service: str | None = None
    qualifier: str = ""

    @classmethod
    def parse(cls, arn: str) -> FunctionArn | None:
        """``acs:fc:<region>:<account>:functions/<name>`` (FC 3.0) or ``acs:fc:<region>:<account>:services/
        <service>[.<qualifier>]/functions/<name>`` (FC 2.0); ``None`` for any other destination (MNS, ...)."""
        parts = arn.split(":", 4)
        if len(parts) != 5 or parts[:2] != ["acs", "fc"]:
            return None
        region, account, path = parts[2], parts[3], parts[4].strip("/").split("/")
        if len(path) == 2 and path[0] == "functions" and path[1]:
            return cls(region, account, path[1])
        if len(path) == 4 and path[0] == "services" and path[2] == "functions" and path[1] and path[3]:
            service, _, qualifier = path[1].partition(".")
            return cls(region, account, path[3], service, qualifier)
        return None


@dataclass(frozen=True)
class BackstopPolicy:
    """The backstop's ``maxAsyncRetryAttempts`` and ``maxAsyncEventAgeInSeconds``, and the figures behind them."""

    retry_attempts: int
    max_event_age: int
    retry_span: float  # seconds of waiting between the first attempt and the last

    @staticmethod
    def waits(retries: int, first: float = FIRST_RETRY_DELAY) -> float:
        """Seconds of back-off before the last of ``retries`` retries: 0.5 + 1 + 2 + ... (``first * (2^n - 1)``)."""
        return first * (2 ** retries - 1)


def backstop_policy(claim_ttl: float, timeout: float, first_delay: float = FIRST_RETRY_DELAY) -> BackstopPolicy:
    """The fewest retries that outlast a dead run's claim, and an event age that outlives them (module doc)."""
    needed = claim_ttl + timeout
    for retries in range(MAX_RETRY_ATTEMPTS + 1):
        span = BackstopPolicy.waits(retries, first_delay)
        if span >= needed:
            age = math.ceil((span + (retries + 1) * timeout) / 60) * 60
            if age > MAX_EVENT_AGE:
                break
            return BackstopPolicy(retries, age, span)
    raise ConfigError(
        f"a claim TTL of {claim_ttl:g} s plus a timeout of {timeout:g} s outlasts FC's {MAX_RETRY_ATTEMPTS} retries "
        f"({BackstopPolicy.waits(MAX_RETRY_ATTEMPTS, first_delay):g} s of back-off): lower "
        "CALLBACK_IDEMPOTENCY_CLAIM_TTL"
    )


def _nested(node: Any, *path: str) -> Any:
    for name in path:
        node = node.get(name) if isinstance(node, Mapping) else None
    return node


def _int(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


__all__ = ["AsyncConfig", "BackstopPolicy", "FunctionArn", "backstop_policy"]
