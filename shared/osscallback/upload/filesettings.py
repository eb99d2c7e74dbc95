"""The upload function's settings: :class:`UploadSettings` is :class:`~osscallback.upload.settings.BucketSettings`
(where and as whom) plus how it sends files: the multipart part size and threads (``UPLOAD_PART_SIZE``,
``UPLOAD_THREADS``) and the directories files may be read from (``UPLOAD_ALLOWED_ROOTS``).

A module of its own so that only what sends files reads these: the policy function signs policies and credentials
through :mod:`osscallback.upload.settings` and :mod:`osscallback.upload.postpolicy` alone, and its template
declares none of these variables (tests/deploy/test_template.py matches each function's variables to its code).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from osscallback.errors import UploadError
from osscallback.upload.settings import BucketSettings

if TYPE_CHECKING:
    from osscallback.upload.event import UploadEvent

DEFAULT_PART_SIZE = 8 * 1024 * 1024
MIN_PART_SIZE = 100 * 1024  # OSS's minimum for every part but the last
MAX_PARTS = 10_000
DEFAULT_THREADS = 4
#: FC's only writable directory, where a function stages files to upload.
FC_TMP = "/tmp"  # noqa: S108


@dataclass(frozen=True)
class UploadSettings(BucketSettings):
    """Where and as whom to upload, and how to send files: from the FC context and environment, with event
    overrides."""

    part_size: int = DEFAULT_PART_SIZE
    threads: int = DEFAULT_THREADS
    allowed_roots: tuple[str, ...] = (FC_TMP,)
    base_dir: str = "."

    @classmethod
    def resolve(
        cls,
        event: UploadEvent,
        context: Any = None,
        env: Mapping[str, str] | None = None,
        base_dir: str | None = None,
    ) -> UploadSettings:
        """``base_dir`` is the function's code directory: relative paths resolve there, and it is an allowed root."""
        env = os.environ if env is None else env
        base = os.path.abspath(base_dir or os.getcwd())
        where = BucketSettings.resolve(event, context, env)
        roots_env = env.get("UPLOAD_ALLOWED_ROOTS", "")
        roots = tuple(r for r in roots_env.split(os.pathsep) if r) if roots_env else (FC_TMP, base)
        return cls(
            **{f.name: getattr(where, f.name) for f in dataclasses.fields(BucketSettings)},
            part_size=event.part_size or _env_int(env, "UPLOAD_PART_SIZE", DEFAULT_PART_SIZE),
            threads=event.threads or _env_int(env, "UPLOAD_THREADS", DEFAULT_THREADS),
            allowed_roots=roots,
            base_dir=base,
        )


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise UploadError(f"{name}={raw!r} is not an integer.") from None
