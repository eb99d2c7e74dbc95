"""What the callback function runs on Function Compute: verify, parse, act once, answer.

Deployed code. It may import only the standard library, ``cryptography``, ``jinja2`` (answer templates) and the
top-level ``osscallback.errors``; never ``osscallback.upload`` (that would pull ``oss2`` onto the cold path that OSS
waits on), the local tooling, the deploy code or the CLI. ``lint-imports`` enforces this (see ``.importlinter``).

The core is transport-free (:mod:`osscallback.callback.core`); :mod:`~osscallback.callback.wsgi` (FC 2.0) and
:mod:`~osscallback.callback.fc3` (FC 3.0) are thin adapters over it. Import the submodule you need: this package
imports nothing at load time, so ``import osscallback.callback.x`` costs only ``x``.
"""
