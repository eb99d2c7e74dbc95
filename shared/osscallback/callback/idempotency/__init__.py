"""Run each upload's action exactly once, across instances and delivery paths: the idempotency store.

The design follows AWS Lambda Powertools' idempotency utility: a *record* per idempotency key that is first
``in_progress`` (a claim, which lapses on its own if the instance running it dies) and then ``completed`` (the
action's result, kept for a TTL so every duplicate gets the identical answer), behind a small persistence
interface with one implementation per backend:

- :mod:`.memory` — one process's bounded LRU (the default, ``CALLBACK_IDEMPOTENCY_STORE=memory``);
- :mod:`.redis_store` — Redis / ApsaraDB for Redis (``redis://``), an atomic ``SET NX PX`` claim;
- :mod:`.oss_store` — marker objects in OSS written with ``x-oss-forbid-overwrite`` (``oss://``).

:mod:`.base` holds the record model and the orchestration every backend shares; :mod:`.factory` parses the store
URL and imports a backend's client (``redis``, ``oss2``) only when that backend is configured, so the default
cold path of the callback function imports neither. This package imports nothing at load time.
"""
