"""Typed errors of the local FC host: the library's own, and one class per FC API error.

The library's errors (:class:`WorkerStartError`, :class:`UnknownFunctionError`, :class:`FunctionInvocationError`)
are what Python callers (the CLI, tests) catch. The FC API errors (:class:`FCError` and its subclasses) are what
an HTTP client gets: each class carries FC's ``code`` and HTTP ``status``, as moto's exceptions do, and is raised
wherever the error is found (a signature check, a lookup, the control plane); the API renders it here, in one
place, in the shape the API it reached speaks:

- FC 2.0 (API 2016-08-15): ``{"ErrorCode": ..., "ErrorMessage": ...}``. FC's "Error codes" page
  (https://www.alibabacloud.com/help/en/functioncompute/error-codes) writes the fields ``errorCode`` /
  ``errorMessage``, but the official SDK reads ``ErrorCode`` (``fc2/client.py``, ``Client._do_request``:
  ``err_d.get('ErrorCode', '')``), so that is what the host sends: ``fc2.Client`` raises ``FcError`` with it.
- FC 3.0 (API 2023-03-30): ``{"Code": ..., "Message": ..., "RequestId": ...}``, the data structure ``Error``
  (https://help.aliyun.com/zh/functioncompute/fc/developer-reference/api-fc-2023-03-30-struct-error); the SDKs
  read ``Code``/``RequestId`` (``alibabacloud_tea_openapi/client.py``) and raise ``ClientException``.

Codes and statuses follow FC's error-code tables (FC 2.0's page above; FC 3.0's
https://help.aliyun.com/zh/functioncompute/api-fc-2023-03-30-errorcodes): 400 ``InvalidArgument`` /
``MissingRequiredHeader`` / ``PathNotSupported``, 403 ``SignatureNotMatch`` / ``InvalidAccessKeyID`` (so spelled in
both tables), 404 ``ServiceNotFound`` / ``FunctionNotFound``, 409 ``FunctionAlreadyExists`` / ``FunctionNotEmpty``.
``TriggerNotFound`` (404), ``TriggerAlreadyExists`` (409) and ``MethodNotAllowed`` (403, an HTTP trigger that does
not allow the method) are the FC 3.0 API's and the HTTP trigger's names for the same kinds of refusal.
A function without the configuration asked for: 404 ``AsyncConfigNotExists`` "AsyncConfig for %s:%s does not
exist." (FC's error centre, https://help.aliyun.com/document_detail/440324.html) and 404 ``OnDemandConfigNotFound``
for GetConcurrencyConfig (the code the Terraform provider reads as "no concurrency configuration":
aliyun/terraform-provider-alicloud ``alicloud/service_alicloud_fcv3_v2.go``, ``DescribeFcv3ConcurrencyConfig``;
FC 2.0's Java SDK tests expect it of GetOnDemandConfig too; its message is not documented).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from osscallback.errors import OssCallbackError


class LocalFCError(OssCallbackError):
    """Base class of the local FC host's errors."""


class WorkerStartError(LocalFCError):
    """A function's worker process did not come up (bad interpreter, crash before serving, start-up timeout)."""


class UnknownFunctionError(LocalFCError):
    """No function (or more than one, for a bare function name) matches the name asked for."""


class FunctionInvocationError(LocalFCError):
    """An invocation answered with ``X-Fc-Error-Type`` (the function raised, timed out or its process died).

    ``error_type`` is the header's value (``UnhandledInvocationError``), ``body`` FC's JSON error document.
    """

    def __init__(self, error_type: str, body: bytes, request_id: str | None = None) -> None:
        super().__init__(f"{error_type}: {body.decode('utf-8', 'replace')}")
        self.error_type = error_type
        self.body = body
        self.request_id = request_id


# ------------------------------------------------------------------------------------------------ FC API errors
class FCError(LocalFCError):
    """An FC API error: FC's ``code`` and HTTP ``status`` (class attributes), and a message for this case.

    One subclass per FC error code, named as FC names the code: the class name is the ``code`` (set here, so the
    two cannot drift apart); a subclass declares its ``status``.
    """

    code: ClassVar[str] = "InternalServerError"
    status: ClassVar[int] = 500

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = cls.__name__

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def fc2_body(self) -> bytes:
        """The FC 2.0 API's error document."""
        return json.dumps({"ErrorCode": self.code, "ErrorMessage": self.message}).encode("utf-8")

    def fc3_body(self, request_id: str) -> bytes:
        """The FC 3.0 API's error document (data structure ``Error``)."""
        return json.dumps({"Code": self.code, "Message": self.message, "RequestId": request_id}).encode("utf-8")


class InvalidArgument(FCError):
    status = 400


class MissingRequiredHeader(FCError):
    status = 400

    def __init__(self, header: str) -> None:
        super().__init__(f"required HTTP header {header} was not specified")


class PathNotSupported(FCError):
    status = 400

    def __init__(self, method: str, path: str, note: str = "") -> None:
        super().__init__(f"'{method}' against '{path}' is not supported{note}")


class SignatureNotMatch(FCError):
    status = 403
    #: FC's message for a signature that does not match (both error-code tables).
    MESSAGE = ("The request signature we calculated does not match the signature you provided. "
               "Check your access key and signing method")

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)


class InvalidAccessKeyID(FCError):
    status = 403

    def __init__(self, key_id: str) -> None:
        super().__init__(f"invalid access key ID '{key_id}'")


class MethodNotAllowed(FCError):
    status = 403


class ServiceNotFound(FCError):
    status = 404


class FunctionNotFound(FCError):
    status = 404


class TriggerNotFound(FCError):
    status = 404


class AsyncConfigNotExists(FCError):
    status = 404

    def __init__(self, function: str, qualifier: str) -> None:
        super().__init__(f"AsyncConfig for {function}:{qualifier} does not exist.")


class OnDemandConfigNotFound(FCError):
    status = 404

    def __init__(self, function: str) -> None:
        super().__init__(f"concurrency config of function '{function}' does not exist")


class FunctionAlreadyExists(FCError):
    status = 409


class FunctionNotEmpty(FCError):
    status = 409


class TriggerAlreadyExists(FCError):
    status = 409


__all__ = [
    "AsyncConfigNotExists",
    "FCError",
    "FunctionAlreadyExists",
    "FunctionInvocationError",
    "FunctionNotEmpty",
    "FunctionNotFound",
    "InvalidAccessKeyID",
    "InvalidArgument",
    "LocalFCError",
    "MethodNotAllowed",
    "MissingRequiredHeader",
    "OnDemandConfigNotFound",
    "PathNotSupported",
    "ServiceNotFound",
    "SignatureNotMatch",
    "TriggerAlreadyExists",
    "TriggerNotFound",
    "UnknownFunctionError",
    "WorkerStartError",
]
