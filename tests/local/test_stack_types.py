"""``LocalStack.oss`` and ``.fc`` are typed (they were ``Any``): a ``LocalOSS`` and a ``LocalFCHost`` while the stack
runs, and a clear :class:`LocalStackError` instead of ``None`` before it starts or after it stops."""

from __future__ import annotations

import typing

import pytest

from osscallback.local.fc import LocalFCHost
from osscallback.local.oss import LocalOSS
from osscallback.local.stack import LocalStack, LocalStackError


def test_the_properties_declare_the_real_classes() -> None:
    import osscallback.local.stack as module

    namespace = {**vars(module), "LocalOSS": LocalOSS, "LocalFCHost": LocalFCHost}
    assert typing.get_type_hints(LocalStack.oss.fget, namespace)["return"] is LocalOSS
    assert typing.get_type_hints(LocalStack.fc.fget, namespace)["return"] is LocalFCHost


def test_a_stack_that_is_not_running_says_so() -> None:
    stack = LocalStack()  # the repository's template.yml; nothing started
    for attribute in ("oss", "fc"):
        with pytest.raises(LocalStackError, match="not running"):
            getattr(stack, attribute)
