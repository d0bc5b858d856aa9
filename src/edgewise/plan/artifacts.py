"""Files a plan writes, and writing them atomically (all or nothing)."""

from __future__ import annotations

import os
import queue
import stat
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cfnlimits import MAX_INLINE_TEMPLATE_BYTES
from ..errors import InputError
from ..yamlout import dump, dump_all
from .outdir import MARKER, OutputDir, output_error

__all__ = ["Artifact", "StackFile", "TreeWriter", "render_tree", "write_tree"]


@dataclass(frozen=True)
class Artifact:
    """One output file: either YAML documents (``docs``) or ready ``text``.

    ``bare``: one document written without the ``---`` that starts each of ``docs``
    (as :func:`~edgewise.yamlout.dump` writes it), for a file kept as it was when it was
    ``text`` while plan's check reads its document."""

    path: str  # relative POSIX path inside the output directory
    docs: tuple[Mapping[str, Any], ...] | None = None
    text: str | None = None
    bare: bool = False
    #: the rendered ``docs``, kept after the first :meth:`render` (plan renders a
    #: template for its size, its check and its file)
    _rendered: list[str] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        # what PurePosixPath's is_absolute() and parts say, without building one per file
        if self.path.startswith("/") or ".." in self.path.split("/"):
            raise ValueError(f"artifact path must be relative and inside the output: {self.path}")
        if (self.docs is None) == (self.text is None):
            raise ValueError("an artifact has either docs or text")
        if self.bare and (self.docs is None or len(self.docs) != 1):
            raise ValueError("a bare artifact has one document")

    def render(self) -> str:
        if self.text is not None:
            return self.text if self.text.endswith("\n") else self.text + "\n"
        assert self.docs is not None
        if not self._rendered:
            self._rendered.append(dump(self.docs[0]) if self.bare else dump_all(self.docs))
        return self._rendered[0]


@dataclass(frozen=True)
class StackFile:
    """One CloudFormation stack of the plan: its name, template file, parameters, outputs
    and size in bytes (the cluster's stacks, :mod:`edgewise.plan.cluster.stacks`, and the
    applications' DNS stacks)."""

    stack: str
    path: str
    parameters: tuple[str, ...]
    outputs: tuple[str, ...]
    size: int
    zones: tuple[str, ...] = ()

    @property
    def via_s3(self) -> bool:
        """Too large to pass in the request: deployed from an S3 bucket."""
        return self.size > MAX_INLINE_TEMPLATE_BYTES


def render_tree(artifacts: Iterable[Artifact]) -> dict[str, str]:
    """Path -> content, sorted by path; duplicate paths are a bug in a generator."""
    out: dict[str, str] = {}
    for a in artifacts:
        if a.path in out:
            raise ValueError(f"two artifacts write {a.path}")
        out[a.path] = a.render()
    return dict(sorted(out.items()))


class TreeWriter:
    """Write a file tree under ``target`` atomically, in a background thread.

    ``target`` must be absent, empty, or a plan edgewise wrote before (see
    :mod:`edgewise.plan.outdir` for the rules; anything else raises InputError here,
    before anything is written). Files go to a temporary sibling directory as they are
    added (file creation is kernel work that runs while the caller keeps computing);
    :meth:`commit` waits for them, writes the marker and swaps the directory in place of
    ``target`` in one atomic step (a previous ``target`` is replaced whole, so files a
    new plan no longer produces do not linger); :meth:`abort` removes it. Until
    :meth:`commit` returns, ``target`` is exactly as it was. Use as a context manager:
    leaving the block without commit aborts. Failures to write (disk full, permissions)
    raise InputError naming ``target``.

    Plans are regenerated in place, and most files come out unchanged: a file whose
    bytes equal the previous ``target``'s is hard-linked from it instead of written (same
    inode and mtime, and an order of magnitude cheaper than creating a file on most
    file systems). Where hard links are not possible the file is written.
    """

    def __init__(self, target: Path) -> None:
        self._out = OutputDir(target)
        self.target = self._out.target
        try:
            with self._out.locked():
                self._out.sweep()
                self._tmp = self._out.make_temp()
        except OSError as exc:
            self._out.close(committed=False)
            raise output_error(self.target, exc, "create a temporary directory next to it") from None
        self._previous: Path | None = self.target if self.target.is_dir() else None
        self._files: list[str] = []
        #: files written / hard-linked unchanged from the previous tree
        self.written = 0
        self.reused = 0
        self._queue: queue.SimpleQueue[Mapping[str, str] | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._done = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="edgewise-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        made: set[str] = set()
        while (batch := self._queue.get()) is not None:
            if self._error is not None:
                continue
            try:
                for rel, content in batch.items():
                    parent = rel.rpartition("/")[0]
                    if parent not in made:
                        (self._tmp / parent).mkdir(parents=True, exist_ok=True)
                        made.add(parent)
                    self._put(rel, content.encode("utf-8"))
            except BaseException as exc:  # reported by commit()
                self._error = exc

    def _put(self, rel: str, data: bytes) -> None:
        dest = self._tmp / rel
        if self._previous is not None:
            old = self._previous / rel
            try:
                st = os.lstat(old)
                if stat.S_ISREG(st.st_mode) and st.st_size == len(data):
                    with open(old, "rb") as fh:
                        same = fh.read() == data
                    if same:
                        os.link(old, dest, follow_symlinks=False)
                        self.reused += 1
                        return
            except OSError:
                pass  # not there, unreadable, or no hard links here: write it
        with open(dest, "wb") as fh:
            fh.write(data)
        self.written += 1

    def add(self, files: Mapping[str, str]) -> None:
        """Queue ``files`` (relative POSIX path -> content) for writing."""
        for rel in files:
            if rel == MARKER:
                raise ValueError(f"{MARKER} is written by the TreeWriter")  # a bug in a generator
        self._files.extend(files)
        self._queue.put(dict(files))

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._queue.put(None)
            self._thread.join()

    def commit(self) -> None:
        """Wait for every file, then swap the tree into place."""
        self._finish()
        if self._error is not None:
            error = self._error
            self.abort()
            if isinstance(error, OSError):
                raise output_error(self.target, error, "write the plan") from None
            raise error
        try:
            with self._out.locked():
                self._out.swap_in(self._tmp, self._files)
        except InputError:
            self.abort()
            raise
        except OSError as exc:
            self.abort()
            raise output_error(self.target, exc, "write the plan") from None
        self._closed = True
        self._out.close(committed=True)

    def abort(self) -> None:
        """Drop everything written so far; ``target`` is untouched."""
        self._finish()
        if not self._closed:
            self._closed = True
            self._out.close(committed=False)

    def __enter__(self) -> TreeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


def write_tree(target: Path, files: Mapping[str, str] | Sequence[Artifact]) -> None:
    """Write ``files`` under ``target`` atomically (see :class:`TreeWriter`); if
    anything fails, ``target`` is left exactly as it was."""
    rendered = files if isinstance(files, Mapping) else render_tree(files)
    with TreeWriter(target) as writer:
        writer.add(rendered)
        writer.commit()
