"""Subcommands of the ``osscallback`` CLI, one module each (see ``osscallback.cli``)."""

from __future__ import annotations

from osscallback.errors import OssCallbackError


class UsageError(OssCallbackError):
    """A command-line value is malformed (reported as one line, exit status 2)."""


def parse_pairs(items: list[str], what: str) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` → ``{"a": "1", "b": "x=y"}``, for repeatable ``--var NAME=VALUE`` options."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{what} {item!r} is not NAME=VALUE")
        result[name] = value
    return result
