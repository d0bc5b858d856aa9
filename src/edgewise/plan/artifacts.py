"""Files a plan writes, and writing them atomically (all or nothing)."""

from __future__ import annotations

import os
import queue
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..yamlout import dump_all

__all__ = ["Artifact", "TreeWriter", "render_tree", "write_tree"]


@dataclass(frozen=True)
class Artifact:
    """One output file: either YAML documents (``docs``) or ready ``text``."""

    path: str  # relative POSIX path inside the output directory
    docs: tuple[Mapping[str, Any], ...] | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        p = PurePosixPath(self.path)
        if p.is_absolute() or ".." in p.parts:
            raise ValueError(f"artifact path must be relative and inside the output: {self.path}")
        if (self.docs is None) == (self.text is None):
            raise ValueError("an artifact has either docs or text")

    def render(self) -> str:
        if self.text is not None:
            return self.text if self.text.endswith("\n") else self.text + "\n"
        assert self.docs is not None
        return dump_all(self.docs)


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

    Files go to a temporary sibling directory as they are added (file creation is
    kernel work that runs while the caller keeps computing); :meth:`commit` waits for
    them and swaps the directory in place of ``target`` (a previous ``target`` is
    replaced whole, so files a new plan no longer produces do not linger);
    :meth:`abort` removes it. Until :meth:`commit` returns, ``target`` is exactly as it
    was. Use as a context manager: leaving the block without commit aborts.

    Plans are regenerated in place, and most files come out unchanged: a file whose
    bytes equal the previous ``target``'s is hard-linked from it instead of written (same
    inode and mtime, and an order of magnitude cheaper than creating a file on most
    file systems). Where hard links are not possible the file is written.
    """

    def __init__(self, target: Path) -> None:
        self.target = target.resolve()
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=self.target.parent))
        self._previous: Path | None = self.target if self.target.is_dir() else None
        #: files written / hard-linked unchanged from the previous tree
        self.written = 0
        self.reused = 0
        self._queue: queue.SimpleQueue[Mapping[str, str] | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._done = False
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
            self.abort()
            raise self._error
        old = None
        if self.target.exists():
            old = self.target.with_name(f".{self.target.name}.old-{os.getpid()}")
            os.replace(self.target, old)
        try:
            os.replace(self._tmp, self.target)
        except BaseException:
            if old is not None:
                os.replace(old, self.target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        """Drop everything written so far; ``target`` is untouched."""
        self._finish()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> TreeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tmp.exists():
            self.abort()


def write_tree(target: Path, files: Mapping[str, str] | Sequence[Artifact]) -> None:
    """Write ``files`` under ``target`` atomically (see :class:`TreeWriter`); if
    anything fails, ``target`` is left exactly as it was."""
    rendered = files if isinstance(files, Mapping) else render_tree(files)
    with TreeWriter(target) as writer:
        writer.add(rendered)
        writer.commit()
