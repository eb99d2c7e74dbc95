"""``osscallback local``: the whole-stack command is optional, a broken import is not.

cli/local.py once caught every ImportError around ``osscallback.cli.stack``, so a dependency that failed to import
turned ``osscallback local`` into a help screen. Only the stack command's own absence may do that.
"""

from __future__ import annotations

import argparse
import sys

import pytest

import osscallback.cli
from osscallback.cli import build_parser, local


def _local_parser() -> argparse.ArgumentParser:
    """Only the ``local`` command mounted: no other command module's imports can make a test pass."""
    parser = argparse.ArgumentParser(prog="osscallback")
    local.register(parser.add_subparsers(dest="command"))
    return parser


def _forget_stack_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "osscallback.cli.stack", raising=False)
    monkeypatch.delattr(osscallback.cli, "stack", raising=False)


def test_a_broken_import_inside_the_stack_command_surfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    _forget_stack_command(monkeypatch)
    # None in sys.modules makes importing the stack module fail exactly as a missing module does
    monkeypatch.setitem(sys.modules, "osscallback.local.stack", None)
    with pytest.raises(ModuleNotFoundError) as caught:
        _local_parser()
    assert caught.value.name == "osscallback.local.stack"


def test_an_absent_stack_command_leaves_local_as_help(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _forget_stack_command(monkeypatch)
    monkeypatch.setitem(sys.modules, "osscallback.cli.stack", None)
    args = _local_parser().parse_args(["local"])
    assert args.func(args) == 2
    assert "usage: osscallback local" in capsys.readouterr().out


def test_the_stack_command_is_mounted_when_present() -> None:
    args = build_parser().parse_args(["local", "--once"])
    assert args.once is True and args.func.__module__ == "osscallback.cli.stack"
