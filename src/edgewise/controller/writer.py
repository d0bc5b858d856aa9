"""Concurrent EndpointSlice writes: bounded workers, coalesced per Service.

A readiness burst -- a whole zone's pods going unready at once, one change per service
-- changes many Services at the same instant. Written one after another, the last
Service's slice waits for every other write (on the lab at 200 zones x 40 services, a
40-change burst took up to 1.6 s that way: docs/failover-without-a-mesh.md). Here the
controller hands each changed Service's slices to a pool of ``workers`` threads:

* different Services are written concurrently, at most ``workers`` at a time;
* one Service is never written by two workers at once, so an older write cannot land
  after a newer one;
* a Service changed again while its write is queued or in flight is written once more
  with the latest slices only (the API needs the final state, not every step).

The writer knows nothing of Kubernetes: it calls ``write(key, payload)`` in a worker
thread and then ``done(key, payload, error)`` (``error`` None on success).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SliceWriter"]

K = TypeVar("K", bound=Hashable)
P = TypeVar("P")


class SliceWriter(Generic[K, P]):
    def __init__(self, write: Callable[[K, P], None], done: Callable[[K, P, Exception | None], None], *,
                 workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1 (got {workers})")
        self._write, self._done = write, done
        self._cond = threading.Condition()
        self._pending: dict[K, P] = {}  # latest payload not yet taken by a worker
        self._queue: deque[K] = deque()  # keys pending and not in flight, oldest first
        self._busy: set[K] = set()  # keys a worker is writing
        self.coalesced = 0  # payloads replaced before they were written
        self._threads = [threading.Thread(target=self._run, name=f"slice-writer-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, key: K, payload: P) -> None:
        """Write ``payload`` for ``key`` soon, replacing any payload of ``key`` still waiting."""
        with self._cond:
            if key in self._pending:
                self.coalesced += 1
            elif key not in self._busy:
                self._queue.append(key)
            self._pending[key] = payload
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                key = self._queue.popleft()
                payload = self._pending.pop(key)
                self._busy.add(key)
            error: Exception | None = None
            try:
                self._write(key, payload)
            except Exception as exc:  # reported to done(); the caller decides about retries
                error = exc
            try:
                self._done(key, payload, error)
            finally:
                with self._cond:
                    self._busy.discard(key)
                    if key in self._pending:  # changed while in flight: write the latest
                        self._queue.append(key)
                    self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return not self._pending and not self._busy

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted payload is written (or failed); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)
