"""What the upload function runs on Function Compute: uploads with a callback, and the callback-template library.

Deployed code. :mod:`~osscallback.upload.uploader` drives ``oss2`` (put, put from file, multipart, presigned PUT,
browser PostObject policy); :mod:`~osscallback.upload.templates` turns jinja2 callback templates into OSS callback
parameters (:mod:`~osscallback.upload.callback_params`, also used by the local OSS to read them back). It may import
``osscallback.errors`` and third-party libraries, never the local tooling, the deploy code or the CLI.

This package imports nothing at load time: ``osscallback.upload.templates`` does not pull in ``oss2``.
"""
