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

__all__ = ["hold", "keep", "paused"]

_held = False
_kept: list[tuple[object, ...]] = []


def hold() -> None:
    """The collector off from now until the process ends, for a program that exits as
    soon as its command is done: what the command built is dropped by exiting. Without
    this, re-enabling the collector at the end of a :func:`paused` block made the next
    allocation collect, traversing everything still alive to find only what the exit
    drops anyway (~7 ms at the end of a 50 x 20 plan). :func:`paused` blocks leave the
    collector off (and freeze nothing) once this is called. Not for a process that
    goes on working (a controller, a test run): cycles it drops are never collected."""
    global _held
    _held = True
    gc.disable()


def keep(*objects: object) -> None:
    """After :func:`hold`, in a process that ends with its command: keep ``objects`` to
    the end, for the exit to drop at once. A large structure is otherwise freed one
    object at a time when its last reference goes, at the end of the function that
    built it: check's inputs and inventory took ~75 ms at 200 x 40, just before the
    process ended. Anywhere else (a process that goes on working) this does nothing."""
    if _held:
        _kept.append(objects)


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
        if was_enabled and not _held:
            if freeze:
                gc.freeze()
            gc.enable()
