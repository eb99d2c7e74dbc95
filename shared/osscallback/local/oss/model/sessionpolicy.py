"""RAM policies as OSS evaluates a session policy (the ``Policy`` of STS ``AssumeRole``): parsed once, when the
credentials are issued, and evaluated on every request signed with them.

What is modelled, as RAM documents it (policy structure and grammar; explicit-deny evaluation, OSS error
0003-00000204):

- ``Version`` ``"1"`` and a list of ``Statement`` objects (one object is taken as a list of one);
- ``Effect``: ``Allow`` or ``Deny``; an explicit ``Deny`` wins over any ``Allow``; a request no ``Allow`` matches is
  denied (implicit deny);
- ``Action``: ``oss:<Operation>`` names (a string or a list), case-insensitive, with ``*`` wildcards
  (``oss:*``, ``oss:Put*``, ``*``);
- ``Resource``: ``acs:oss:<region>:<account>:<bucket>[/<key>]`` (a string or a list), with ``*`` wildcards in any
  part and across ``/``; keys are compared case-sensitively. The local OSS has one account, so the account part is
  not compared (any account id matches); the region part is compared with the local OSS's region.

What is not modelled is refused when the credentials are issued, never ignored (a policy that relied on it would
grant more here than in the cloud, or less): ``Condition``, ``NotAction``, ``NotResource``, ``Principal``, the
``?`` wildcard, and actions of other services than ``oss``. :class:`PolicyNotModelled` names the element.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from osscallback.errors import OssCallbackError

#: RAM's limit on a session policy passed to AssumeRole (STS's AssumeRole reference: "up to 2,048 characters").
MAX_POLICY_CHARS = 2048
_KNOWN = frozenset({"Effect", "Action", "Resource", "Sid"})
_REFUSED = ("Condition", "NotAction", "NotResource", "Principal")


class PolicyError(OssCallbackError):
    """The policy is not valid RAM policy grammar (STS answers ``InvalidParameter.PolicyGrammar``)."""


class PolicyNotModelled(PolicyError):
    """The policy uses an element the local OSS does not evaluate: refused, so nothing is silently widened."""


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...]  # lower-case patterns
    resources: tuple[str, ...]

    def matches(self, action: str, resource: str, region: str) -> bool:
        return any(_match(p, action.lower()) for p in self.actions) and any(
            _resource_matches(p, resource, region) for p in self.resources
        )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit: bool  # denied by a Deny statement (rather than by no Allow)
    action: str
    resource: str


@dataclass(frozen=True)
class Policy:
    statements: tuple[Statement, ...]
    text: str

    def decide(self, action: str, resource: str, region: str) -> Decision:
        """Explicit deny first, then any allow; otherwise an implicit deny."""
        hits = [s for s in self.statements if s.matches(action, resource, region)]
        if any(s.effect == "Deny" for s in hits):
            return Decision(False, True, action, resource)
        return Decision(any(s.effect == "Allow" for s in hits), False, action, resource)

    def decide_all(self, requests: Iterable[tuple[str, str]], region: str) -> Decision | None:
        """The first refusal among (action, resource) pairs an operation needs, or ``None`` when all are allowed."""
        for action, resource in requests:
            decision = self.decide(action, resource, region)
            if not decision.allowed:
                return decision
        return None


def parse_policy(text: str) -> Policy:
    """Parse and check a policy document; raise :class:`PolicyError` or :class:`PolicyNotModelled`."""
    if len(text) > MAX_POLICY_CHARS:
        raise PolicyError(f"the policy is {len(text)} characters; STS takes at most {MAX_POLICY_CHARS}")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise PolicyError(f"the policy is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise PolicyError("the policy must be a JSON object")
    if str(doc.get("Version", "")) != "1":
        raise PolicyError(f"Version must be \"1\", not {doc.get('Version')!r}")
    raw = doc.get("Statement")
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not items:
        raise PolicyError("Statement must be a non-empty list of objects")
    return Policy(tuple(_statement(item, n) for n, item in enumerate(items)), text)


def _statement(item: Any, n: int) -> Statement:
    where = f"Statement[{n}]"
    if not isinstance(item, dict):
        raise PolicyError(f"{where} must be an object")
    for name in _REFUSED:
        if name in item:
            raise PolicyNotModelled(
                f"{where} uses {name}, which the local OSS does not evaluate (docs/LOCAL_OSS.md, 'Session "
                "policies'): drop it, or test this policy against OSS itself"
            )
    unknown = sorted(set(item) - _KNOWN)
    if unknown:
        raise PolicyError(f"{where} has unknown elements: {', '.join(unknown)}")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{where}.Effect must be Allow or Deny, not {effect!r}")
    actions = _strings(item.get("Action"), f"{where}.Action")
    for action in actions:
        service = action.split(":", 1)[0] if ":" in action else ""
        if action != "*" and service.lower() != "oss":
            raise PolicyNotModelled(f"{where}.Action {action!r}: only oss:<Operation> actions are evaluated here")
    resources = _strings(item.get("Resource"), f"{where}.Resource")
    for resource in resources:
        if resource != "*" and not resource.startswith("acs:oss:"):
            raise PolicyError(f"{where}.Resource {resource!r} is not an acs:oss:<region>:<account>:<bucket> ARN")
        if resource != "*" and resource.count(":") < 4:
            raise PolicyError(f"{where}.Resource {resource!r}: give acs:oss:<region>:<account>:<bucket>[/<key>]")
    for pattern in (*actions, *resources):
        if "?" in pattern or "[" in pattern:
            raise PolicyNotModelled(f"{where}: {pattern!r} uses a wildcard other than '*', which is not modelled")
    return Statement(effect, tuple(a.lower() for a in actions), resources)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v for v in items):
        raise PolicyError(f"{where} must be a non-empty string or list of strings")
    return tuple(items)


def _match(pattern: str, value: str) -> bool:
    """``*`` matches any run of characters, ``/`` included; everything else is literal."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), value, re.DOTALL) is not None


def _resource_matches(pattern: str, resource: str, region: str) -> bool:
    if pattern == "*":
        return True
    # acs:oss:<region>:<account>:<rest>: the account is not compared (one account), the region is.
    p_parts, r_parts = pattern.split(":", 4), resource.split(":", 4)
    if len(p_parts) != 5 or len(r_parts) != 5:
        return False
    if not _match(p_parts[2], region):
        return False
    return _match(p_parts[4], r_parts[4])


def resource_arn(region: str, bucket: str, key: str | None = None) -> str:
    """The ARN a request is evaluated against: ``acs:oss:<region>:<account>:<bucket>[/<key>]``."""
    return f"acs:oss:{region}:*:{bucket}" + (f"/{key}" if key is not None else "")
