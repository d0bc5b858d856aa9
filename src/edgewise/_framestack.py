"""Run the command in one roomy chunk of CPython's frame stack.

Since Python 3.11 the interpreter keeps its frames on a per-thread stack made of chunks
(16 KiB at first). A call that does not fit in the current chunk maps a new one with
``mmap``; when the first frame of that chunk returns, the chunk is unmapped again at once.
Code that calls in a loop just across a chunk boundary therefore maps, faults in and
unmaps 16 KiB on every call. CPython tracks this as gh-142183 ("Calls across stack chunks
perform badly"); the fix, one chunk kept per thread (gh-145789), was merged into 3.13
and 3.14 only, never into 3.11 or 3.12.

edgewise hits it: importing ``pydantic_core.core_schema`` (hundreds of module-level
class and function definitions) sits on a boundary at the depth where ``plan`` imports
it, and mapped and unmapped about 5,500 chunks there, 35-40 ms of a 50 x 20 plan's
start-up (7 ms when imported where it does not straddle a boundary).

:func:`run` calls a function from a frame that asks for about half a megabyte of stack.
Such a frame cannot fit in the thread's first chunk, so the interpreter maps a chunk of
1 MiB for it, and every frame below it, to any depth Python allows, lands in the same
chunk: no boundary is crossed while the function runs. The frame's stack slots are never
written, so the pages behind them are never touched and cost no memory. On interpreters
that keep a spare chunk the call is merely one more frame.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TypeVar

__all__ = ["run"]

T = TypeVar("T")

#: stack slots (8 bytes each) asked of the trampoline frame: half of a 1 MiB chunk. The
#: interpreter sizes a new chunk as the smallest power-of-two multiple of 16 KiB that
#: holds the frame plus 1,000 slots, so the frame leaves about 512 KiB (65,000 slots)
#: for the frames it calls: ample for Python's default recursion limit of 1,000.
ROOM_SLOTS = 64 * 1024


def _call(fn: Callable[[], T]) -> T:
    return fn()


_roomy_call = types.FunctionType(
    _call.__code__.replace(co_stacksize=_call.__code__.co_stacksize + ROOM_SLOTS),
    _call.__globals__, "_roomy_call")


def run(fn: Callable[[], T]) -> T:
    """``fn()``, called from a frame that owns a chunk of the frame stack large enough
    for every call below it (see the module's docstring)."""
    result: T = _roomy_call(fn)
    return result
