"""Files a plan writes, and writing them atomically (all or nothing)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..yamlout import dump_all

__all__ = ["Artifact", "render_tree", "write_tree"]


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


def write_tree(target: Path, files: Mapping[str, str] | Sequence[Artifact]) -> None:
    """Write ``files`` under ``target`` atomically.

    Everything is written to a temporary sibling directory first; only when all files
    are written is it swapped in place of ``target`` (a previous ``target`` is replaced
    whole, so files that a new plan no longer produces do not linger). If anything
    fails, ``target`` is left exactly as it was.
    """
    rendered = files if isinstance(files, Mapping) else render_tree(files)
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for rel, content in rendered.items():
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(content, encoding="utf-8")
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
