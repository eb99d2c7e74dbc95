"""Opens the confirmer ``CALLBACK_CONFIRM`` asks for (:mod:`osscallback.callback.confirm`).

Why a module of its own: the HEAD behind ``head`` (:mod:`osscallback.callback.confirm_head`) imports ``oss2`` and
the rules in :mod:`~osscallback.callback.confirm`; importing it lazily from here, not from ``confirm`` itself, keeps
the import graph free of cycles while ``none`` never loads ``oss2`` (as :mod:`osscallback.callback.idempotency.factory`
does for the stores).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from osscallback.callback.confirm import Confirmer, ConfirmSpec
from osscallback.errors import ConfigError


def open_confirmer(spec: ConfirmSpec, *, env: Mapping[str, str], client: Any = None) -> Confirmer | None:
    """The confirmer ``spec`` asks for, or None for ``none``. ``client``: the ``oss://`` store's
    :class:`~osscallback.callback.ossclient.OssClient`, reused when that store is configured too."""
    if not spec.enabled:
        return None
    try:
        from osscallback.callback.confirm_head import OssHead
    except ImportError as exc:
        raise ConfigError(f"CALLBACK_CONFIRM=head needs oss2, which is not installed ({exc})") from None
    head = OssHead(spec, env=env, client=client)
    return Confirmer(head, observe=head.observe_credentials)
