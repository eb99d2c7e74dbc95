"""``osscallback local``: local stand-ins for the cloud.

``local oss`` runs the local OSS alone (:mod:`osscallback.cli.local_oss`). Bare ``local`` starts the whole
stack (local OSS + local FC) when :mod:`osscallback.cli.stack` is available, and prints help otherwise.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

#: The optional whole-stack command. Only its own absence means "print help"; a module it imports that is missing
#: or broken raises, so a broken install is never mistaken for a command not written.
_STACK_COMMAND = "osscallback.cli.stack"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "local",
        help="run local stand-ins for OSS and FC (`local oss`: the local OSS alone)",
        description="Local development stack. `osscallback local oss` runs only the local OSS.",
    )
    stack: Any = None
    try:
        stack = importlib.import_module(_STACK_COMMAND)
    except ModuleNotFoundError as exc:  # the whole-stack command is optional; anything else broken must surface
        if exc.name != _STACK_COMMAND:
            raise
    if stack is not None:
        stack.add_arguments(p)
        p.set_defaults(func=stack.run)
    else:
        p.set_defaults(func=lambda _args: _help(p))
    local_sub = p.add_subparsers(dest="local_command", metavar="SERVICE")
    local_sub.required = False

    from osscallback.cli import local_oss as local_oss_cli

    oss = local_sub.add_parser(
        "oss",
        help="run the local OSS (oss2-compatible, performs upload callbacks)",
        description="Run a local OSS on 127.0.0.1 that the unmodified oss2 SDK talks to and that performs upload "
        "callbacks like OSS. State lives in the data directory and survives restarts.",
    )
    local_oss_cli.add_arguments(oss)
    oss.set_defaults(func=local_oss_cli.run)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
