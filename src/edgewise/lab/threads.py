"""Threads the lab starts never take the process's signals.

The kernel delivers a signal sent to the process (Ctrl-C's SIGINT, a SIGTERM) to any one
of its threads that does not block it. CPython runs every Python signal handler, and
raises KeyboardInterrupt, in the main thread, but only once the main thread wakes up:
a signal that lands in a helper thread while the main thread sleeps (``time.sleep``,
``signal.pause``) or waits in a blocking call is acted on only when that call returns,
possibly never (https://docs.python.org/3/library/signal.html#signals-and-threads,
``pthread_sigmask(2)``). A lab holding daemon threads (the egress gate, data-plane relays
and servers) then outlived a SIGINT by more than the 30 s a test allowed it.

:func:`start` starts a daemon thread with those signals blocked, so the kernel delivers
them to the main thread; threads the new thread starts inherit its mask.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["PROCESS_SIGNALS", "start"]

#: the signals that stop a lab (Ctrl-C, kill, a closed terminal)
PROCESS_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


def start(target: Callable[..., Any], *args: Any, name: str | None = None, **kwargs: Any) -> threading.Thread:
    """Start ``target(*args, **kwargs)`` in a daemon thread that blocks
    :data:`PROCESS_SIGNALS` (the calling thread's own mask is left as it was)."""
    thread = threading.Thread(target=target, args=args, kwargs=kwargs, name=name, daemon=True)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, PROCESS_SIGNALS)
    try:
        thread.start()  # the new thread inherits the mask in force now
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread
