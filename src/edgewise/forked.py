"""Run one function in a forked child process beside the caller, and get its result back.

``plan`` checks its objects while it builds, renders and writes them: the check runs in
a child forked before the spec is loaded (it sees everything imported before the fork
without copying it). The child imports the rules while the parent loads the spec, is
sent the spec, plans the applications' objects itself, and is sent the cluster's by the
parent (:func:`start_fed`, :meth:`Call.send`, one message each); it sends its result
back over a pipe, pickled. ``edgewise check`` runs some of its rules in a child the
same way (:func:`start`). Where ``os.fork`` is missing (not POSIX), on a single CPU, or when the
caller asks for it, the function runs in the calling process instead, when its result is
asked for: the same function on the same data, so the same result either way.

The child runs only the function, then ``os._exit``: no ``atexit`` handlers, no flushing
of the parent's buffered output, no cleanup of the parent's files or locks. An exception
in the child is raised again by :meth:`Call.result` in the parent, with the child's
traceback attached as a note (or, when it cannot be pickled, as a ``RuntimeError``
carrying that traceback). A child that dies without a result (killed) is reported as a
``RuntimeError`` naming the signal or exit status. The child closes its end of the pipe
as soon as it has sent its result, so :meth:`Call.result` returns without waiting for
its exit (which first unmaps the child's memory). Every child is waited for by
:meth:`Call.cancel`, at the end of the ``with`` block (it kills the child first when the
caller gives up before the whole result came), so no zombie is left behind. A child
whose whole result came is waited for later where the caller has better to do: in a
forked child, once that child has sent its own result; in a program that ends with its
command, at the exit (:func:`reap_at_exit`).
"""

from __future__ import annotations

import collections
import contextlib
import os
import pickle
import signal
import struct
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar, cast

__all__ = ["Call", "Receive", "Shares", "can_fork", "reap_at_exit", "start", "start_fed"]

T = TypeVar("T")

#: what a fed function calls for the next value the caller sends it (:meth:`Call.send`)
Receive = Callable[[], Any]

#: each message sent to a child: its length (8 bytes, little-endian), then its pickle
_LENGTH = struct.Struct("<Q")

#: children that had sent their whole result when their call ended, waited for later: in
#: a forked child once it has sent its own result, in a program that ends with its
#: command at its exit (:func:`reap_at_exit`); None anywhere else (waited for at once)
_leaving: list[int] | None = None

#: the calls of this process whose child may still be running, and (in a forked child)
#: the ends of its own result and input pipes: a child forked from here closes them all
_calls: weakref.WeakSet[Call[Any]] = weakref.WeakSet()
_own: tuple[int, ...] = ()


def can_fork() -> bool:
    """True where forking a child can use another CPU: ``os.fork`` exists and this process
    may run on more than one CPU."""
    if not hasattr(os, "fork"):
        return False
    try:
        return len(os.sched_getaffinity(0)) > 1
    except (AttributeError, OSError):
        return (os.cpu_count() or 1) > 1


class Call(Generic[T]):
    """A call of ``fn(receive)``, running in a forked child or deferred to :meth:`result`;
    each ``receive()`` returns the next value the caller gave :meth:`send`, in order
    (made by :func:`start` or :func:`start_fed`)."""

    def __init__(self, fn: Callable[[Receive], T], *, fork: bool) -> None:
        self._fn: Callable[[Receive], T] | None = fn
        self.pid: int | None = None
        self._fd: int | None = None
        self._to_child: int | None = None  # the write end of the pipe send() writes to
        self._queued = 0  # bytes sent to the child so far (what the pipe is sized for)
        self._closed = False  # the child's pipe was closed (it ended without reading)
        self._sent: collections.deque[Any] = collections.deque()  # what send() gave a call run here
        self._reaped = False
        self._delivered = False
        if fork:
            self._fork(fn)

    @property
    def forked(self) -> bool:
        return self.pid is not None

    def _fork(self, fn: Callable[[Receive], T]) -> None:
        r, w = os.pipe()
        inbox, to_child = os.pipe()
        try:
            pid = os.fork()
        except OSError:  # no process to spare (EAGAIN, ENOMEM): run it here instead
            for fd in (r, w, inbox, to_child):
                os.close(fd)
            return
        if pid == 0:  # the child: run fn, send the outcome, leave without any cleanup
            global _leaving, _calls, _own
            _leaving = []
            code = 0
            try:
                # the pipes of every other call of this process are not this child's: held
                # open here, they would keep another child from seeing the end of its
                # input, or this process's caller from seeing the end of its result
                for fd in (*_own, *(fd for c in _calls for fd in (c._fd, c._to_child) if fd is not None)):
                    with contextlib.suppress(OSError):
                        os.close(fd)
                os.close(r)
                os.close(to_child)
                _calls, _own = weakref.WeakSet(), (w, inbox)
                _write_all(w, _outcome(lambda: fn(_receiver(inbox))))
                # the parent reads to the end of the pipe: close it now rather than at the
                # exit, which first unmaps this process's memory (~5-9 ms at 50 x 20)
                os.close(w)
                _reap_leaving()  # its own children that were only leaving (cancel())
            except BaseException:  # nowhere left to report it: the parent sees no result
                code = 70
            finally:
                os._exit(code)
        os.close(w)
        os.close(inbox)
        self.pid, self._fd, self._to_child, self._fn = pid, r, to_child, None
        _calls.add(self)

    def send(self, value: object) -> None:
        """Give the function the value its next ``receive()`` returns. To a child it goes
        pickled through a pipe sized to hold what was sent where the system allows, so
        this returns without waiting for the child to read it. A child that already
        ended (it failed) is not sent anything: :meth:`result` says why it ended."""
        if self.pid is None:
            self._sent.append(value)
            return
        if self._closed:
            return
        if self._to_child is None:
            raise RuntimeError("send() after the call was cancelled")
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        self._queued += _LENGTH.size + len(data)
        try:
            _widen(self._to_child, self._queued)
            _write_all(self._to_child, _LENGTH.pack(len(data)))
            _write_all(self._to_child, data)
        except BrokenPipeError:  # the child ended without reading it (it failed): result() says why
            self._closed = True
            os.close(self._to_child)
            self._to_child = None

    def result(self) -> T:
        """The function's return value (its exception, raised here)."""
        if self._fn is not None:
            fn, self._fn = self._fn, None
            return fn(self._take_sent)
        assert self.pid is not None and self._fd is not None, "result() asked for once"
        if self._to_child is not None:  # nothing more is sent: a child waiting for more sees the end
            os.close(self._to_child)
            self._to_child = None
        try:
            data = _read_all(self._fd)
        except BaseException:
            self.cancel()
            raise
        os.close(self._fd)
        self._fd = None
        try:
            ok, trace, inner = pickle.loads(data)  # a bool, a str and bytes, when all of it came
        except Exception:  # nothing or a part: the child died before it had sent it all
            raise RuntimeError(f"the forked process (pid {self.pid}) ended without a result: "
                               f"{_describe(self._reap())}") from None
        # the whole result came: the child is leaving, and is reaped by cancel() (the end of
        # the with block), not waited for here while its exit unmaps its memory
        self._delivered = True
        try:
            value = pickle.loads(inner) if inner is not None else None
        except Exception as exc:  # e.g. an exception class that does not unpickle
            if ok:
                raise
            raise RuntimeError(f"the forked process (pid {self.pid}) failed:\n{trace}") from exc
        if ok:
            return cast(T, value)
        if isinstance(value, BaseException):
            value.add_note(f"(raised in the forked process {self.pid})\n{trace}")
            raise value
        raise RuntimeError(f"the forked process (pid {self.pid}) failed:\n{trace}")

    def _take_sent(self) -> Any:
        if not self._sent:
            raise RuntimeError("receive(): nothing was sent")
        return self._sent.popleft()

    def cancel(self) -> None:
        """Wait for the child: once it has sent its whole result it is only leaving; else
        give up on the result and kill it first."""
        self._fn = None
        for fd in (self._fd, self._to_child):
            if fd is not None:
                os.close(fd)
        self._fd = self._to_child = None
        if self.pid is None or self._reaped:
            return
        if self._delivered and _leaving is not None:
            # a child that has sent its whole result is only leaving: its exit unmaps its
            # memory (~5 ms at 50 x 20, ~15 ms for check at 200 x 40), which the caller
            # need not wait for; it is waited for later (_leaving)
            self._reaped = True
            _leaving.append(self.pid)
            return
        if not self._delivered:
            with contextlib.suppress(ProcessLookupError):  # not reaped yet, so it exists; to be sure
                os.kill(self.pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> int:
        assert self.pid is not None
        self._reaped = True
        while True:
            try:
                return os.waitpid(self.pid, 0)[1]
            except ChildProcessError:  # reaped already (SIGCHLD ignored by the host)
                return 0

    def __enter__(self) -> Call[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


def reap_at_exit() -> None:
    """For a program that ends as soon as its command is done: a child that has sent its
    whole result is waited for when the program exits (``atexit``), not when its call
    ends, so the caller goes on while the child's exit unmaps its memory. Not for a
    process that goes on working (a controller, a test run): there a child is waited for
    when its call ends, and no zombie outlives it."""
    global _leaving
    if _leaving is None:
        import atexit

        _leaving = []
        atexit.register(_reap_leaving)


def _reap_leaving() -> None:
    while _leaving:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(_leaving.pop(), 0)


def _outcome(fn: Callable[[], object]) -> bytes:
    """``(True, "", pickled value)`` or ``(False, traceback, pickled exception)``, pickled;
    an exception (or a value) that cannot be pickled is sent as a traceback alone."""
    dumps = pickle.dumps
    try:
        return dumps((True, "", dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # sent to the parent, raised there
        import traceback

        trace = "".join(traceback.format_exception(exc))
        try:
            inner: bytes | None = dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # unpicklable: the traceback still says what happened
            inner = None
        return dumps((False, trace, inner), protocol=pickle.HIGHEST_PROTOCOL)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"killed by {name}"
    if os.WIFEXITED(status):
        return f"exit status {os.WEXITSTATUS(status)}"
    return f"wait status {status}"


def start(fn: Callable[[], T], *, fork: bool | None = None) -> Call[T]:
    """Start ``fn()`` in a forked child (``fork=None``: where :func:`can_fork`), else defer
    it to :meth:`Call.result`."""
    return Call(lambda _receive: fn(), fork=can_fork() if fork is None else fork)


def start_fed(fn: Callable[[Receive], T], *, fork: bool | None = None) -> Call[T]:
    """:func:`start` for a function that needs values the caller has only later:
    ``fn(receive)`` runs at once in the child (where there is one) and each
    ``receive()`` waits for the next value the caller gives :meth:`Call.send`. Where
    the function runs in the calling process, it runs at :meth:`Call.result`, after the
    sends."""
    return Call(fn, fork=can_fork() if fork is None else fork)


class Shares:
    """The numbers ``0 .. n-1`` shared out between this process and the children it forks
    after making them (:func:`start`): each number goes to whichever process asks for one
    next, and to that process only, so work split this way is done once, by whoever is
    free. The numbers wait in a pipe, two bytes each, written at once and its write end
    closed: a read of two bytes takes one number whole (the pipe only ever holds whole
    numbers), and once they are all taken a read finds the end of the pipe instead of
    waiting. A process that asks after the numbers are all taken gets none, so where the
    child runs its function in the calling process instead (no fork), that call simply
    finds them taken. Used as a context manager, which closes this process's end.

    At most :attr:`LIMIT` numbers: they are written before anyone reads, so they must fit
    the pipe, and a pipe holds at least a page (4 KiB) even for a user past the system's
    pipe limits (Linux: pipe(7), ``pipe-user-pages-soft``)."""

    _ITEM = struct.Struct("<H")
    LIMIT = 4096 // 2

    def __init__(self, n: int) -> None:
        if not 0 <= n <= self.LIMIT:
            raise ValueError(f"Shares holds 0 to {self.LIMIT} numbers, not {n}")
        r, w = os.pipe()
        try:
            _write_all(w, b"".join(self._ITEM.pack(i) for i in range(n)))
        except BaseException:
            os.close(r)
            raise
        finally:
            os.close(w)
        self._fd: int | None = r

    def take(self) -> Iterator[int]:
        """The numbers this process gets, one at a time, each when asked for."""
        while self._fd is not None:
            data = os.read(self._fd, self._ITEM.size)
            if not data:
                return
            yield self._ITEM.unpack(data)[0]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Shares:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _receiver(fd: int) -> Receive:
    """In the child: ``receive()`` for the next message the parent sends through ``fd``. A
    parent that gave up (or died) closes the pipe: an EOFError, and the child ends."""
    def receive() -> Any:
        head = _read_exactly(fd, _LENGTH.size)
        if len(head) < _LENGTH.size:
            raise EOFError("the caller sent nothing")
        (size,) = _LENGTH.unpack(head)
        data = _read_exactly(fd, size)
        if len(data) < size:
            raise EOFError("the caller stopped in the middle of a message")
        return pickle.loads(data)

    return receive


def _read_exactly(fd: int, size: int) -> bytes:
    """``size`` bytes from ``fd``, or fewer where its writers closed it first."""
    chunks, left = [], size
    while left and (chunk := os.read(fd, min(left, 1 << 20))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_all(fd: int) -> bytes:
    """Everything read from ``fd`` until its writers close it."""
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _widen(fd: int, size: int) -> None:
    """Make the pipe ``fd`` hold ``size`` bytes, as far as the system allows (Linux:
    ``F_SETPIPE_SZ``, up to ``/proc/sys/fs/pipe-max-size``, 1 MiB by default), so a write
    of that many bytes does not wait for the reader."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, min(max(size, 1 << 16), 1 << 20))
    except (ImportError, AttributeError, OSError):  # another system, or a limit: writes may wait
        pass
