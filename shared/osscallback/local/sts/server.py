"""A local STS: ``AssumeRole`` over HTTP, as the official STS SDK calls it, minting credentials the local OSS accepts
and limiting them to the session policy the caller passed.

The deployed policy function's ``/sts`` runs unchanged against it: ``alibabacloud_sts20150401``'s client with its
endpoint set to this server (``UPLOAD_STS_ENDPOINT``, over plain HTTP), signed with the function's own role
credentials (which the local OSS issued to the local FC host). What it checks, as STS does:

- the V3 signature (:mod:`.signature`) with a key the local OSS knows, its security token, and that the token has
  not expired;
- ``Action=AssumeRole`` (anything else: ``InvalidAction.NotFound``), ``RoleArn`` (``acs:ram::<account>:role/<name>``),
  ``RoleSessionName`` (2 to 64 of ``[A-Za-z0-9.@_-]``), ``DurationSeconds`` (900 to 3600: the role's default
  maximum session duration), ``Policy`` (:mod:`..oss.model.sessionpolicy`; what it does not model is refused).

What it does not model: roles and their trust policies (any well-formed role ARN is assumed; the role may do
everything, so the session policy is the whole limit), ``ExternalId`` and ``SourceIdentity`` (accepted, unused).
Error answers have STS's JSON shape (``RequestId``, ``HostId``, ``Code``, ``Message``), which the SDK raises as a
``ClientException`` with that code.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from osscallback.local.httpserver import WSGIServer
from osscallback.local.oss.credentials import CredentialStore
from osscallback.local.oss.model.sessionpolicy import PolicyError, PolicyNotModelled, parse_policy
from osscallback.local.sts import signature

log = logging.getLogger("osscallback.local.sts")

MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 900, 3600, 3600
MAX_SKEW_SECONDS = 15 * 60
ROLE_ARN = re.compile(r"acs:ram::(\d+):role/([A-Za-z0-9.@_-]{1,64})")
SESSION_NAME = re.compile(r"[A-Za-z0-9.@_-]{2,64}")
HOST_ID = "sts.aliyuncs.com"
_STATUS = {200: "200 OK", 400: "400 Bad Request", 403: "403 Forbidden", 404: "404 Not Found",
           405: "405 Method Not Allowed"}


class STSError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


class STSApp:
    """The WSGI application: one action, AssumeRole, over the local OSS's credential store."""

    def __init__(self, credentials: CredentialStore, clock: Callable[[], float] = time.time) -> None:
        self.credentials = credentials
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request_id = str(uuid.uuid4()).upper()
        try:
            status, doc = 200, {"RequestId": request_id, **self._handle(environ)}
        except STSError as err:
            log.info("local STS %s: %s", request_id, err)
            status = err.status
            doc = {"RequestId": request_id, "HostId": HOST_ID, "Code": err.code, "Message": err.message}
        body = json.dumps(doc).encode("utf-8")
        start_response(_STATUS.get(status, f"{status} Error"),
                       [("Content-Type", "application/json;charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]

    def _handle(self, environ: dict[str, Any]) -> dict[str, Any]:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        if method not in ("GET", "POST"):
            raise STSError(405, "MethodNotAllowed", f"{method} is not allowed: STS takes GET or POST.")
        body = _read_body(environ)
        query = parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        self._authenticate(method, str(environ.get("PATH_INFO") or "/"), query, headers, body)
        params = dict(query)
        if body and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        action = headers.get("x-acs-action") or params.get("Action", "")
        if action != "AssumeRole":
            raise STSError(404, "InvalidAction.NotFound",
                           f"Specified api is not found, please check your url and method: {action or 'none'}.")
        return self._assume_role(params)

    def _authenticate(self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str],
                      body: bytes) -> None:
        try:
            auth = signature.parse_authorization(headers.get("authorization", ""))
        except signature.SignatureRefused as exc:
            raise STSError(400, "IncompleteSignature", f"The request signature does not conform to Aliyun "
                                                       f"standards: {exc}.") from None
        payload = hashlib.sha256(body).hexdigest()
        if headers.get("x-acs-content-sha256", payload) != payload:
            raise STSError(400, "SignatureDoesNotMatch", "The x-acs-content-sha256 header does not match the body.")
        self._check_date(headers.get("x-acs-date", ""))
        cred = self.credentials.get(auth.access_key_id)
        if cred is None:
            raise STSError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if cred.security_token is not None:
            token = headers.get("x-acs-security-token", "")
            if token != cred.security_token:
                raise STSError(400, "InvalidSecurityToken.MismatchWithAccessKey",
                               "Specified SecurityToken mismatch with the AccessKey.")
            if cred.expires_at is not None and self.clock() > cred.expires_at:
                raise STSError(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
        canonical = signature.canonical_request(method, path, query, headers, auth.signed_headers,
                                                headers.get("x-acs-content-sha256", payload))
        if not signature.matches(cred.access_key_secret, canonical, auth.signature):
            raise STSError(400, "SignatureDoesNotMatch",
                           f"Specified signature is not matched with our calculation. server string to sign is:"
                           f"{canonical}")

    def _check_date(self, value: str) -> None:
        try:
            when = calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ"))
        except ValueError:
            raise STSError(400, "InvalidTimeStamp.Format", f"Specified x-acs-date is malformed: {value!r}.") from None
        if abs(self.clock() - when) > MAX_SKEW_SECONDS:
            raise STSError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")

    def _assume_role(self, params: dict[str, str]) -> dict[str, Any]:
        for name in ("RoleArn", "RoleSessionName"):
            if not params.get(name):
                raise STSError(400, "MissingParameter", f"The input parameter {name} that is mandatory for "
                                                        "processing this request is not supplied.")
        role = ROLE_ARN.fullmatch(params["RoleArn"])
        if role is None:
            raise STSError(400, "InvalidParameter.RoleArn",
                           "The parameter RoleArn is wrongly formed: give acs:ram::<account id>:role/<role name>.")
        session = params["RoleSessionName"]
        if not SESSION_NAME.fullmatch(session):
            raise STSError(400, "InvalidParameter.RoleSessionName",
                           "The parameter RoleSessionName is wrongly formed: 2 to 64 of A-Z a-z 0-9 . @ - _.")
        try:
            duration = int(params.get("DurationSeconds") or DEFAULT_DURATION)
        except ValueError:
            duration = -1
        if not MIN_DURATION <= duration <= MAX_DURATION:
            raise STSError(400, "InvalidParameter.DurationSeconds",
                           f"The Min/Max value of DurationSeconds is {MIN_DURATION}/{MAX_DURATION} seconds.")
        policy = None
        if params.get("Policy"):
            try:
                policy = parse_policy(params["Policy"])
            except PolicyNotModelled as exc:
                raise STSError(400, "InvalidParameter.PolicyNotModelled", f"Local STS: {exc}.") from None
            except PolicyError as exc:
                raise STSError(400, "InvalidParameter.PolicyGrammar", f"The parameter Policy has not passed "
                                                                      f"grammar check: {exc}.") from None
        cred = self.credentials.issue_sts(duration, policy)
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cred.expires_at or 0))
        account, name = role.groups()
        log.info("local STS: %s assumed as %s for %d s%s", params["RoleArn"], session, duration,
                 " with a session policy" if policy else "")
        return {
            "AssumedRoleUser": {"AssumedRoleId": f"3{account[-12:]}:{session}",
                                "Arn": f"acs:ram::{account}:role/{name.lower()}/{session}"},
            "Credentials": {"AccessKeyId": cred.access_key_id, "AccessKeySecret": cred.access_key_secret,
                            "SecurityToken": cred.security_token, "Expiration": expires},
        }


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 64 * 1024:
        raise STSError(400, "InvalidParameter", "The request body is too large.")
    return bytes(environ["wsgi.input"].read(length)) if length > 0 else b""


class LocalSTS:
    """``with LocalSTS(oss.credentials) as sts: sts.endpoint`` — the STS SDK's ``endpoint`` (host:port, HTTP)."""

    def __init__(self, credentials: CredentialStore, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = STSApp(credentials)
        self._server = WSGIServer(self.app, host, port, threads=4)

    @property
    def endpoint(self) -> str:
        return f"{self._server.host}:{self._server.port}"

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> LocalSTS:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> LocalSTS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
