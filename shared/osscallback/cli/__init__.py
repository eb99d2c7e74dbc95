"""The ``osscallback`` command line.

One argparse tree; each feature module contributes its own subcommands through a ``register(subparsers)``
function so this file stays a thin dispatcher. Errors a user can fix end as one readable line on stderr and
exit status 2 (argparse's own convention for usage errors).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from osscallback.errors import OssCallbackError

# Modules that add subcommands: each has ``register(subparsers) -> None``; the handler each registers is stored
# as ``func`` on the parsed namespace and returns the exit status.
_COMMAND_MODULES = (
    "osscallback.cli.serve",
    "osscallback.cli.template",
    "osscallback.cli.local",
    "osscallback.cli.invoke",
    "osscallback.cli.redeliver",
    "osscallback.cli.reconcile",
    "osscallback.cli.upload",
    "osscallback.cli.build",
    "osscallback.cli.doctor",
    "osscallback.cli.cors",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="osscallback",
        description="Verify, run locally (local OSS + local FC) and deploy Alibaba Cloud OSS upload callbacks on "
        "Function Compute.",
    )
    from osscallback import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command module not written yet: skip it, keep the rest usable
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def fail(message: str) -> int:
    """Print one readable error line and return the usage-error status."""
    print(f"osscallback: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (OssCallbackError, OSError) as exc:
        return fail(str(exc))
