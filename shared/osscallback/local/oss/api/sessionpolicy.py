"""The session policy of STS credentials, enforced as OSS enforces it: before the operation runs, every action it
needs (:mod:`..model.ramactions`) is evaluated against the policy AssumeRole was given
(:mod:`..model.sessionpolicy`); the first refusal is answered 403 ``AccessDenied``.

OSS's words for it, as captured answers show: ``Access denied by authorizer's policy.`` (ali-oss
test/node/sts.test.js expects it for a deleteMulti outside the policy; aliyun-oss-java-sdk names it
``OSSErrorCode.SECURITY_TOKEN_ACCESS_DENIED_ERR``; aliyun/oss-browser#32 shows the XML), with EC
``0003-00000301``, OSS's code for "denied by the policy configured for the security token" (OSS error page
0003-00000301). Credentials without a policy (AccessKey pairs, the functions' own role credentials) are not
limited here.
"""

from __future__ import annotations

import logging

from osscallback.local.oss.api.backend import Backend
from osscallback.local.oss.api.request import Request
from osscallback.local.oss.model.ramactions import required
from osscallback.local.oss.xmlresp import OSSError

log = logging.getLogger("osscallback.local.oss")

MESSAGE = "Access denied by authorizer's policy."
EC = "0003-00000301"


def check(backend: Backend, operation: str, req: Request, key: str | None = None) -> None:
    """Raise OSS's ``AccessDenied`` when the credentials that signed ``req`` carry a policy that refuses it."""
    cred = backend.credentials.get(req.access_key_id) if req.access_key_id else None
    if cred is None or cred.policy is None:
        return
    needs = required(operation, backend.region, req.bucket, req.key if key is None else key, req.headers)
    refusal = cred.policy.decide_all(needs, backend.region)
    if refusal is None:
        return
    log.info("request %s: %s on %s refused by the session policy (%s deny)", req.request_id, refusal.action,
             refusal.resource, "explicit" if refusal.explicit else "implicit")
    raise OSSError(403, "AccessDenied", MESSAGE, ec=EC)
