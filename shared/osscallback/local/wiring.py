"""What the local stack adds to every function's ``template.yml`` environment: a deployment's values, made local.

Deployed, FC and the templates give the functions their region, the bucket's internal endpoint, the callback URL
and the stores; locally each of those is a server of the stack. :func:`function_env` is that one mapping (the
stack's ``env=`` is merged over it last), and :func:`local_oss_url` points an ``oss://`` URL (the idempotency
store's markers, the dead letters) at the local OSS.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode

if TYPE_CHECKING:
    from osscallback.local.fc import LocalFCHost


class _LocalOSSView(Protocol):
    @property
    def endpoint(self) -> str: ...
    @property
    def public_key_prefix(self) -> str: ...


class _LocalSTSView(Protocol):
    @property
    def url(self) -> str: ...


class StackView(Protocol):
    """What the wiring reads of a running :class:`~osscallback.local.stack.LocalStack` (which imports this module:
    a Protocol instead of the class keeps the import graph free of cycles)."""

    bucket: str
    region: str
    env: dict[str, str]

    @property
    def oss(self) -> _LocalOSSView: ...
    @property
    def callback_url(self) -> str: ...
    @property
    def store_url(self) -> str: ...
    @property
    def local_sts(self) -> _LocalSTSView | None: ...

GOSSPUBLIC = "http://gosspublic.alicdn.com/,https://gosspublic.alicdn.com/"
#: The upload page's authorizer in the local stack when the template names none (the deployed default is closed).
LOCAL_UPLOAD_AUTHORIZER = "anonymous"
#: Where the dead-letter function keeps the backstop's failed events: the templates' prefix.
LOCAL_DEAD_LETTER_PREFIX = ".osscallback/dead-letters/"
#: The role the policy function's ``/sts`` assumes locally (the local STS assumes any well-formed role ARN).
LOCAL_UPLOAD_ROLE = "oss-callback-fc-uploader"


def local_oss_url(bucket: str, prefix: str, region: str, endpoint: str) -> str:
    """``oss://<bucket>/<prefix>?region=...&endpoint=<the local OSS>``."""
    return f"oss://{bucket}/{prefix}?{urlencode({'region': region, 'endpoint': endpoint})}"


def dead_letters_url(stack: StackView) -> str:
    """Where the dead-letter function writes: the templates' prefix in the stack's bucket, at the local OSS."""
    return local_oss_url(stack.bucket, LOCAL_DEAD_LETTER_PREFIX, stack.region, stack.oss.endpoint)


def function_env(stack: StackView, fc: LocalFCHost) -> dict[str, str]:
    """Environment every function gets on top of template.yml: the local equivalents of a deployment."""
    code_dirs = ":".join(dict.fromkeys(str(s.code_dir) for s in fc.specs))  # each once: functions share code
    wiring = {
        "OSS_ENDPOINT": stack.oss.endpoint,
        "OSS_BUCKET": stack.bucket,
        "OSS_REGION": stack.region,
        "FC_REGION": stack.region,
        "CALLBACK_URL": stack.callback_url,
        "CALLBACK_KEY_URL_PREFIXES": f"{GOSSPUBLIC},{stack.oss.public_key_prefix}",
        "UPLOAD_ALLOWED_ROOTS": ":".join(p for p in ("/tmp", code_dirs) if p),  # noqa: S108 - FC's scratch dir
        "CALLBACK_IDEMPOTENCY_STORE": stack.store_url,
        # confirmation (CALLBACK_CONFIRM=head, the templates' default) asks the local OSS, not the region's
        "CALLBACK_CONFIRM_ENDPOINT": stack.oss.endpoint,
        "CALLBACK_DEAD_LETTERS": dead_letters_url(stack),
        # GET /sts: AssumeRole at the local STS (plain HTTP, the function logs it as a local override)
        "UPLOAD_STS_ENDPOINT": stack.local_sts.url if stack.local_sts is not None else "",
        "UPLOAD_STS_ROLE_ARN": f"acs:ram::{fc.account_id}:role/{LOCAL_UPLOAD_ROLE}",
        # reconciliation lists the local OSS, and only what was uploaded since the stack started (now: the host starts)
        "CALLBACK_RECONCILE_SINCE": f"{time.time():.0f}",
    }
    reconcile = next((s.env["CALLBACK_RECONCILE"] for s in fc.specs if s.env.get("CALLBACK_RECONCILE")), "")
    if reconcile:
        base, _, query = reconcile.partition("?")
        keep = "&".join(p for p in query.split("&") if p and not p.startswith("endpoint="))
        endpoint = urlencode({"endpoint": stack.oss.endpoint})
        wiring["CALLBACK_RECONCILE"] = f"{base}?{keep}{'&' if keep else ''}{endpoint}"
    if not any(s.env.get("UPLOAD_AUTHORIZER") for s in fc.specs):
        # The templates ship the upload page closed (no authorizer: a JSON 403); locally anyone may try it, as
        # template.local.yml says too. A template (or env=) naming an authorizer keeps it.
        wiring["UPLOAD_AUTHORIZER"] = LOCAL_UPLOAD_AUTHORIZER
    wiring.update(stack.env)
    return wiring


__all__ = ["GOSSPUBLIC", "LOCAL_DEAD_LETTER_PREFIX", "LOCAL_UPLOAD_AUTHORIZER", "LOCAL_UPLOAD_ROLE", "dead_letters_url",
           "function_env", "local_oss_url"]
