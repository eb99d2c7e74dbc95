"""Object tagging operations: PutObjectTagging, GetObjectTagging, DeleteObjectTagging.

The rules a tag set must follow live in :mod:`..model.tags`; tags given at upload time (``x-oss-tagging``) are
stored by the upload operations themselves. PutObjectTagging replaces the whole set, as on OSS.
"""

from __future__ import annotations

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api.backend import Backend
from osscallback.local.oss.api.objects import require_object
from osscallback.local.oss.api.request import MAX_XML_BODY, Request, Response, xml_response
from osscallback.local.oss.model import tags


def put_object_tagging(backend: Backend, req: Request) -> Response:
    tag_set = tags.from_xml(req.body.read_all(MAX_XML_BODY))
    require_object(backend, req.bucket, req.key)
    if backend.store.update_object(req.bucket, req.key, tags=tag_set) is None:
        raise xmlresp.no_such_key(req.key)
    return Response(200)


def get_object_tagging(backend: Backend, req: Request) -> Response:
    meta = require_object(backend, req.bucket, req.key)
    return xml_response(tags.to_xml(meta.tags))


def delete_object_tagging(backend: Backend, req: Request) -> Response:
    require_object(backend, req.bucket, req.key)
    backend.store.update_object(req.bucket, req.key, tags={})
    return Response(204)
