"""Read YAML documents while remembering where every value came from.

PyYAML's composer gives nodes with marks; we turn nodes into plain Python data
ourselves so that we can (a) record the line/column of every mapping key and sequence
item by path, and (b) reject duplicate keys, which ``yaml.safe_load`` silently accepts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError, Problem, format_path

__all__ = ["Document", "iter_yaml_files", "read_documents"]

YAML_SUFFIXES = (".yaml", ".yml")
PathKey = tuple[str | int, ...]


@dataclass
class Document:
    """One YAML document: its data plus the position of every path inside it."""

    file: str
    index: int  # 0-based document index in the file
    line: int  # line where the document starts
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        """Line/column of ``path``, or of its closest ancestor that has one."""
        key = tuple(path)
        while key:
            if key in self.positions:
                return self.positions[key]
            key = key[:-1]
        return self.positions.get((), (self.line, 1))

    def problem(self, path: Sequence[str | int], message: str, hint: str = "") -> Problem:
        line, col = self.position(path)
        return Problem(self.file, line, col, format_path(path), message, hint)


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self._loader = yaml.SafeLoader("")
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: PathKey, positions: dict[PathKey, tuple[int, int]]) -> Any:
        positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            self._loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._loader.construct_object(key_node, deep=True)
                kline, kcol = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    self.problems.append(
                        Problem(self.file, kline, kcol, format_path(path),
                                f"mapping key {key!r} is not a plain scalar",
                                "use a plain string as the key")
                    )
                    continue
                pkey: str | int = key if isinstance(key, (str, int)) else str(key)
                if key in out:
                    first = positions.get((*path, pkey), (0, 0))[0]
                    self.problems.append(
                        Problem(self.file, kline, kcol, format_path((*path, str(key))),
                                f"duplicate key {key!r} (first given on line {first})",
                                "remove one of the two; YAML keeps only the last silently")
                    )
                    continue
                positions[(*path, pkey)] = (kline, kcol)
                out[key] = self.build(value_node, (*path, pkey), positions)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), positions) for i, item in enumerate(node.value)]
        return self._loader.construct_object(node, deep=True)


def _decode(raw: bytes, file: str) -> str:
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise InputError.single(file, "this is a binary file (it holds NUL bytes), not YAML text",
                                line=line, hint="pass a .yaml file written as UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError.single(file, f"not valid UTF-8 text (byte {exc.start})", line=line,
                                hint="save the file as UTF-8") from None


def _is_empty(node: yaml.Node) -> bool:
    """A document with no content at all, e.g. after a trailing ``---`` (not an explicit null)."""
    return (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"
            and node.value == "")


def read_documents(path: Path, *, display: str | None = None) -> list[Document]:
    """Parse every YAML document of ``path``. Empty documents are dropped.

    Raises :class:`InputError` for unreadable files, YAML syntax errors, duplicate keys.
    """
    file = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError.single(file, f"cannot read file: {exc.strerror}",
                                hint="check the path and its permissions") from None
    text = _decode(raw, file)
    builder = _Builder(file)
    docs: list[Document] = []
    try:
        for index, node in enumerate(yaml.compose_all(text, Loader=yaml.SafeLoader)):
            if node is None or _is_empty(node):
                continue
            positions: dict[PathKey, tuple[int, int]] = {}
            data = builder.build(node, (), positions)
            docs.append(Document(file, index, node.start_mark.line + 1, data, positions))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        col = mark.column + 1 if mark else 0
        what = exc.problem or "YAML syntax error"
        raise InputError([Problem(file, line, col, "", f"YAML syntax error: {what}",
                                  "fix the YAML syntax at this position (indentation, quotes, colons)")]) from None
    except yaml.YAMLError as exc:
        raise InputError.single(file, f"YAML error: {exc}") from None
    if builder.problems:
        raise InputError(builder.problems)
    return docs


def iter_yaml_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Expand directories (recursively, sorted) to the YAML files they hold."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
        else:
            yield path
