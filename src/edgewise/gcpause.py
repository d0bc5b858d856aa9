"""Pause Python's cyclic garbage collector around bulk work that builds no garbage.

Start-up imports, reading thousands of manifests and planning allocate hundreds of
thousands of dicts, lists, tuples, functions and classes that are all kept; every so many
allocations the collector traverses every one of them again and finds next to nothing
to free. Reference counting still frees memory while the collector is paused.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused"]


@contextmanager
def paused(*, freeze: bool = False) -> Iterator[None]:
    """The cyclic collector off for the block, then on again if it was on (nesting is
    harmless). ``freeze``: first move everything built so far out of the collector's
    generations (``gc.freeze``), so later collections do not traverse it either; for data
    kept for the rest of the process (imported modules, a loaded manifest set). Frozen
    objects are still freed by reference counting; only reference cycles among them
    would outlive their use."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if freeze:
                gc.freeze()
            gc.enable()
