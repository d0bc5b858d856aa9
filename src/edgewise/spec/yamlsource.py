"""Read YAML documents while remembering where every value came from.

PyYAML's composer gives nodes with marks; we turn nodes into plain Python data
ourselves so that we can (a) record the line/column of every mapping key and sequence
item by path, and (b) reject duplicate keys, which ``yaml.safe_load`` silently accepts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError, Problem, format_path
from ..markers import PLAN_MARKER, is_edgewise_output

__all__ = ["DataBuilder", "Document", "compose_documents", "iter_yaml_files", "read_documents"]

YAML_SUFFIXES = (".yaml", ".yml")
PathKey = tuple[str | int, ...]
_STR_TAG = "tag:yaml.org,2002:str"
# libyaml's composer is an order of magnitude faster than the pure-Python one and still
# gives nodes with line/column marks; absent (no libyaml build), we use the Python one.
_FAST_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)


def compose_documents(text: str) -> Iterator[yaml.Node]:
    """Nodes of every YAML document of ``text``, as the pure-Python composer gives them.

    The fast composer parses the whole text first; if it fails in any way, the text is
    composed again lazily by the pure-Python composer, so that errors (their messages,
    and which one comes first relative to later construction errors) are exactly those
    the Python composer reports.
    """
    if _FAST_LOADER is not None:
        try:
            nodes = list(yaml.compose_all(text, Loader=_FAST_LOADER))
        except yaml.YAMLError:
            pass
        else:
            yield from nodes
            return
    yield from yaml.compose_all(text, Loader=yaml.SafeLoader)


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


class DataBuilder:
    """Turn composed nodes into plain data, collecting :class:`Problem` s (duplicate
    keys, non-scalar keys) instead of stopping at the first.

    ``loader`` constructs tagged scalars and collections (default: the safe loader's
    constructors; check passes one that understands CloudFormation short tags).
    """

    def __init__(self, file: str, loader: yaml.SafeLoader | None = None) -> None:
        self.file = file
        self._loader = loader if loader is not None else yaml.SafeLoader("")
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: PathKey, positions: dict[PathKey, tuple[int, int]]) -> Any:
        mark = node.start_mark
        positions.setdefault(path, (mark.line + 1, mark.column + 1))
        return self._value(node, path, positions)

    def _value(self, node: yaml.Node, path: PathKey, positions: dict[PathKey, tuple[int, int]]) -> Any:
        """Data of ``node`` whose own position is already recorded (hot: one call per collection)."""
        kind = type(node)  # exact node classes: faster than isinstance on this hot path
        if kind is yaml.ScalarNode:
            if node.tag == _STR_TAG:
                return node.value  # what the str constructor returns, without its bookkeeping
            return self._loader.construct_object(node, deep=True)
        if kind is yaml.MappingNode:
            self._loader.flatten_mapping(node)  # type: ignore[arg-type]  # resolves YAML merge keys (<<)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = (key_node.value if key_node.tag == _STR_TAG and type(key_node) is yaml.ScalarNode
                       else self._loader.construct_object(key_node, deep=True))
                kmark = key_node.start_mark
                kline, kcol = kmark.line + 1, kmark.column + 1
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    self.problems.append(
                        Problem(self.file, kline, kcol, format_path(path),
                                f"mapping key {key!r} is not a plain scalar",
                                "use a plain string as the key")
                    )
                    continue
                pkey: str | int = key if isinstance(key, (str, int)) else str(key)
                kpath = (*path, pkey)
                if key in out:
                    first = positions.get(kpath, (0, 0))[0]
                    self.problems.append(
                        Problem(self.file, kline, kcol, format_path((*path, str(key))),
                                f"duplicate key {key!r} (first given on line {first})",
                                "remove one of the two; YAML keeps only the last silently")
                    )
                    continue
                positions[kpath] = (kline, kcol)  # the value's own position is never used over it
                if value_node.tag == _STR_TAG and type(value_node) is yaml.ScalarNode:
                    out[key] = value_node.value
                else:
                    out[key] = self._value(value_node, kpath, positions)
            return out
        if kind is yaml.SequenceNode:
            items: list[Any] = []
            for i, item in enumerate(node.value):
                ipath = (*path, i)
                imark = item.start_mark
                positions.setdefault(ipath, (imark.line + 1, imark.column + 1))
                items.append(self._value(item, ipath, positions))
            return items
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


def read_documents(path: Path, *, display: str | None = None, raw: bytes | None = None) -> list[Document]:
    """Parse every YAML document of ``path``. Empty documents are dropped.

    ``raw`` is the file's content when the caller has already read it (not read again).
    Raises :class:`InputError` for unreadable
    files, YAML syntax errors, duplicate keys.
    """
    file = display or str(path)
    if raw is None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError.single(file, f"cannot read file: {exc.strerror}",
                                    hint="check the path and its permissions") from None
    text = _decode(raw, file)
    builder = DataBuilder(file)
    docs: list[Document] = []
    try:
        for index, node in enumerate(compose_documents(text)):
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


def _spec_dir_files(root: Path) -> Iterator[Path]:
    """YAML files under the directory ``root``, sorted. Directories plan wrote (its
    output and temporary directories) are skipped; a subdirectory that cannot be read or
    is a symbolic link (not followed: it may loop or leave the tree) is an input error,
    so a spec is never silently read in part."""
    problems: list[Problem] = []

    def unreadable(exc: OSError) -> None:
        problems.append(Problem(str(exc.filename or root), 0, 0, "",
                                f"cannot read this directory of the spec: {exc.strerror}",
                                "make it readable, or move it out of the spec directory"))

    try:
        top = os.listdir(root)
    except OSError as exc:
        unreadable(exc)
        raise InputError(problems) from None
    if PLAN_MARKER in top:
        raise InputError.single(str(root), f"this is a plan edgewise wrote (it holds {PLAN_MARKER}), not a spec",
                                hint="pass the spec directory or files the plan was made from")
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        keep = []
        for name in sorted(dirnames):
            sub = os.path.join(dirpath, name)
            if os.path.islink(sub):
                problems.append(Problem(sub, 0, 0, "", "a symbolic link to a directory inside a spec directory "
                                        "is not followed", "pass the directory it points to as its own argument"))
                continue
            try:
                entries = os.listdir(sub)
            except OSError as exc:
                unreadable(exc)
                continue
            if not is_edgewise_output(name, entries):
                keep.append(name)
        dirnames[:] = keep
        for name in filenames:
            p = Path(dirpath, name)
            if p.suffix in YAML_SUFFIXES and p.is_file():
                found.append(p)
    if problems:
        raise InputError(problems)
    yield from sorted(found)


def iter_yaml_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Expand directories (recursively, sorted) to the YAML files they hold; raises
    :class:`InputError` for a part of a directory that cannot be read."""
    for path in paths:
        if path.is_dir():
            yield from _spec_dir_files(path)
        else:
            yield path
