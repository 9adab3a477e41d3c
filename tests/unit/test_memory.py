"""The worker's malloc arena limit takes on glibc Linux and is a no-op when switched off."""

from __future__ import annotations

import platform
import sys

import pytest

from streams.memory import limit_malloc_arenas


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_glibc_takes_the_arena_limit() -> None:
    assert limit_malloc_arenas(2) is True


def test_zero_leaves_glibc_default() -> None:
    assert limit_malloc_arenas(0) is False
