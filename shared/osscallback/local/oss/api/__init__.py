"""The local OSS's HTTP face, one module per operation family (moto's "responses").

Each family module turns a parsed :class:`~.request.Request` into calls on the state in
:mod:`osscallback.local.oss.model` and renders OSS's answer (status, headers, XML). :class:`~.dispatch.Operations`
routes a request to its family, and answers 501 ``NotImplemented`` naming any operation it does not support.
"""

from osscallback.local.oss.api.dispatch import Operations
from osscallback.local.oss.api.request import BodyReader, Request, Response

__all__ = ["BodyReader", "Operations", "Request", "Response"]
