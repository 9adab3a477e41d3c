"""The cyclic garbage collector paused while a large, long-lived structure is built.

Building ~10^6–10^7 objects (a projection read, a full recompute, a region's what-if) with the
collector on triggers repeated full collections over everything the process holds; none of these
structures has reference cycles, so pausing costs nothing but saves seconds (see docs/risk-model.md).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the collector for the block; restore it as the caller had it (nesting is safe)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
