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


def port_number(text: str) -> int:
    """argparse ``type`` for ports: 0 (any free port) to 65535; anything else is a usage error naming the range
    (a socket layer would wrap 99999 to another port, or raise ``OverflowError``)."""
    import argparse

    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535; 0 = any free port)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535; 0 = any free port)")
    return port
