"""A long-running process's heap kept compact: few glibc malloc arenas.

glibc gives a thread that finds the main malloc arena busy an arena of its own (up to 8 per core), and
an arena keeps what was freed in it resident. The pipeline worker's threads (librdkafka's, the record
store's writes in ``asyncio.to_thread``, the Neo4j driver's) grew seven arenas of 35–64 MiB each: 330
of its 598 MiB after a million events (docs/projection-performance.md). Two arenas hold the same work.
"""

from __future__ import annotations

import ctypes
import functools
import sys

_M_ARENA_MAX = -8  # glibc's malloc.h


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """glibc, loaded once; None off Linux or where libc.so.6 is not there (musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def limit_malloc_arenas(arenas: int) -> bool:
    """At most ``arenas`` malloc arenas from now on (``0``: glibc's default); True if glibc took it.

    Call it before the process starts its threads: arenas already made stay. A no-op off glibc
    (macOS, musl), which have no such arenas or no ``mallopt``.
    """
    mallopt = getattr(_glibc(), "mallopt", None) if arenas > 0 else None
    return mallopt is not None and bool(mallopt(_M_ARENA_MAX, arenas))


def return_freed_memory() -> bool:
    """Give the pages malloc holds free back to the system (glibc's ``malloc_trim``); True if any went.

    glibc returns only the top of an arena by itself; what is freed below it stays resident until
    this is called. A no-op off glibc.
    """
    trim = getattr(_glibc(), "malloc_trim", None)
    return trim is not None and bool(trim(0))
