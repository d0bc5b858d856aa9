"""Read YAML documents while remembering where every value came from.

PyYAML's composer gives nodes with marks; we turn nodes into plain Python data
ourselves so that we can (a) record the line/column of every mapping key and sequence
item by path, and (b) reject duplicate keys, which ``yaml.safe_load`` silently accepts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError, Problem, format_path
from ..markers import PLAN_MARKER, is_edgewise_output
from ..yamlread import MAX_DEPTH, YAML_SUFFIXES, load_built
from ..yamlread import PLAIN as _PLAIN

__all__ = ["DataBuilder", "Document", "build_documents", "compose_documents", "iter_yaml_files", "read_documents",
           "yaml_error"]

PathKey = tuple[str | int, ...]
_STR_TAG = "tag:yaml.org,2002:str"
# libyaml's composer is an order of magnitude faster than the pure-Python one and still
# gives nodes with line/column marks; absent (no libyaml build), we use the Python one.
_FAST_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)

try:  # the compiled reader (rust/fastyaml); absent where it could not be built
    from .. import _fastyaml
    from .._fastyaml import Positions as PositionIndex
except ImportError:  # pragma: no cover - depends on the build
    _fastyaml = None  # type: ignore[assignment]
    PositionIndex = Any  # type: ignore[misc,assignment]




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
            # the pure-Python composer recurses per level and its scanner is quadratic
            # in flow nesting: deep documents are refused before it sees them
            deep = _depth_error(text)
            if deep is not None:
                raise deep from None
        else:
            yield from nodes
            return
    yield from yaml.compose_all(text, Loader=yaml.SafeLoader)


def _depth_error(text: str) -> yaml.MarkedYAMLError | None:
    """An error at the first collection nested deeper than MAX_DEPTH, if any (the event
    parser is iterative, so this is safe on any input)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_FAST_LOADER or yaml.SafeLoader):
            kind = type(event)
            if kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
                depth += 1
                if depth > MAX_DEPTH:
                    return yaml.MarkedYAMLError(problem=f"nested more than {MAX_DEPTH} levels deep",
                                                problem_mark=event.start_mark)  # type: ignore[arg-type]
            elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" in (exc.problem or ""):  # libyaml's own limit (1,000 levels)
            return exc
    except yaml.YAMLError:
        pass
    return None


class Document:
    """One YAML document: its data plus the position of every path inside it.

    ``positions`` maps each mapping key's and sequence item's path (and the root's,
    ``()``) to its (line, column). The compiled reader keeps them in a compact index
    (``index``) instead, looked up only when a position is asked for; ``positions`` is
    then made from it on first use.
    """

    __slots__ = ("_index", "_positions", "data", "file", "index", "line")

    def __init__(self, file: str, index: int, line: int, data: Any,
                 positions: dict[PathKey, tuple[int, int]] | None = None, *,
                 position_index: PositionIndex | None = None) -> None:
        self.file = file
        self.index = index  # 0-based document index in the file
        self.line = line  # line where the document starts
        self.data = data
        self._positions = positions if positions is not None or position_index is not None else {}
        self._index = position_index

    @property
    def positions(self) -> dict[PathKey, tuple[int, int]]:
        if self._positions is None:
            assert self._index is not None
            self._positions = self._index.to_dict()
        return self._positions

    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        """Line/column of ``path``, or of its closest ancestor that has one."""
        key = tuple(path)
        if self._index is not None:
            hash(key)  # an unhashable step fails as a dict look-up would
            return self._index.closest(key)
        positions = self.positions
        while key:
            if key in positions:
                return positions[key]
            key = key[:-1]
        return positions.get((), (self.line, 1))

    def problem(self, path: Sequence[str | int], message: str, hint: str = "") -> Problem:
        line, col = self.position(path)
        return Problem(self.file, line, col, format_path(path), message, hint)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        return ((self.file, self.index, self.line, self.data, self.positions)
                == (other.file, other.index, other.line, other.data, other.positions))

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it replaces

    def __reduce__(self) -> tuple[type[Document], tuple[Any, ...]]:
        # pickled (plan sends the spec to its check's forked child) with the positions
        # themselves: the compiled reader's index does not pickle
        return Document, (self.file, self.index, self.line, self.data, self.positions)

    def __repr__(self) -> str:
        return (f"Document(file={self.file!r}, index={self.index!r}, line={self.line!r}, data={self.data!r}, "
                f"positions={self.positions!r})")


#: at most this many problems are kept per file (the rest are counted)
MAX_PROBLEMS = 100
# Alias expansion is bounded the way go-yaml v3 bounds it (allowedAliasRatio in
# https://github.com/go-yaml/yaml/blob/v3/decode.go): once more than 100 values were
# built under aliases and more than 1,000 in all, the share built under aliases may be
# 99% up to 400,000 values (~100 MB worst case), falling linearly to 10% at 4,000,000.
# A 615-byte "billion laughs" document is stopped after a few hundred thousand values.
ALIAS_RATIO_LOW, ALIAS_RATIO_HIGH = 400_000, 4_000_000


def allowed_alias_ratio(decoded: int) -> float:
    if decoded <= ALIAS_RATIO_LOW:
        return 0.99
    if decoded >= ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - ALIAS_RATIO_LOW) / (ALIAS_RATIO_HIGH - ALIAS_RATIO_LOW)


class _Abandon(Exception):
    """The document cannot be built safely; the problem is already recorded."""


_TAG_NAMES = {"tag:yaml.org,2002:int": "an integer", "tag:yaml.org,2002:float": "a number",
              "tag:yaml.org,2002:bool": "a boolean (true or false)",
              "tag:yaml.org,2002:timestamp": "a date or timestamp (YYYY-MM-DD[THH:MM:SS])",
              "tag:yaml.org,2002:binary": "base64 binary data", "tag:yaml.org,2002:null": "null"}


class DataBuilder:
    """Turn composed nodes into plain data, collecting :class:`Problem` s (duplicate
    keys, non-scalar keys, scalars their tag cannot construct) instead of stopping at
    the first.

    Hostile input is bounded: nesting deeper than :data:`MAX_DEPTH`, an alias that
    contains itself, or alias expansion beyond go-yaml's ratio abandons the document
    with a problem at the offending line (never a RecursionError or unbounded memory).

    ``loader`` constructs tagged scalars and collections (default: the safe loader's
    constructors; check passes one that understands CloudFormation short tags).
    """

    def __init__(self, file: str, loader: yaml.SafeLoader | None = None) -> None:
        self.file = file
        self._loader = loader if loader is not None else yaml.SafeLoader("")
        self.problems: list[Problem] = []
        self.dropped = 0  # problems beyond MAX_PROBLEMS

    def _problem(self, node: yaml.Node, path: PathKey, message: str, hint: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.dropped += 1
            return
        mark = node.start_mark
        self.problems.append(Problem(self.file, mark.line + 1, mark.column + 1, format_path(path), message, hint))

    def build(self, node: yaml.Node, path: PathKey, positions: dict[PathKey, tuple[int, int]]) -> Any:
        mark = node.start_mark
        positions.setdefault(path, (mark.line + 1, mark.column + 1))
        self._seen: set[int] = set()
        self._active: set[int] = set()
        self._aliasing = 0
        self._decoded = 0
        self._aliased = 0
        try:
            return self._value(node, path, positions, 0)
        except _Abandon:
            return None

    def _construct(self, node: yaml.Node, path: PathKey) -> Any:
        try:
            return self._loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            what = exc.problem or "cannot construct this value"
            self._problem(node, path, f"{what} (tag {node.tag})", "remove the tag or quote the value")
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError, RecursionError):
            value = node.value if isinstance(node, yaml.ScalarNode) else ""
            wanted = _TAG_NAMES.get(node.tag, f"a {node.tag} value")
            implicit = isinstance(node, yaml.ScalarNode) and not node.style and node.tag in (
                self._loader.resolve(yaml.ScalarNode, node.value, (True, False)),)  # type: ignore[no-untyped-call]
            hint = ("quote it to keep it as text, e.g. '" + str(value) + "'" if implicit
                    else "write a valid value or remove the tag")
            shown = value if len(value) <= 60 else value[:57] + "..."
            self._problem(node, path, f"{shown!r} is not {wanted}", hint)
        return None

    def _enter(self, node: yaml.Node, path: PathKey, depth: int) -> None:
        """Bookkeeping on entering a collection: depth, self-reference, alias budget."""
        if depth > MAX_DEPTH:
            self._problem(node, (), f"nested more than {MAX_DEPTH} levels deep",
                          "flatten the document; no Kubernetes, eksctl or CloudFormation input needs this")
            raise _Abandon
        nid = id(node)
        if nid in self._active:
            self._problem(node, path, "an alias refers to a collection that contains it (a recursive alias)",
                          "replace the alias with the values it should stand for")
            raise _Abandon
        if nid in self._seen:
            self._aliasing += 1
        else:
            self._seen.add(nid)
        self._active.add(nid)
        n = len(node.value)
        self._decoded += n
        if self._aliasing:
            self._aliased += n
            if (self._aliased > 100 and self._decoded > 1000
                    and self._aliased > allowed_alias_ratio(self._decoded) * self._decoded):
                self._problem(node, path, f"YAML aliases expand to too many values ({self._aliased:,} of "
                              f"{self._decoded:,} built from aliases; an alias bomb?)",
                              "write the values out, or use fewer nested aliases")
                raise _Abandon

    def _value(self, node: yaml.Node, path: PathKey, positions: dict[PathKey, tuple[int, int]],
               depth: int) -> Any:
        """Data of ``node`` whose own position is already recorded (hot: one call per collection)."""
        kind = type(node)  # exact node classes: faster than isinstance on this hot path
        if kind is yaml.ScalarNode:
            if node.tag == _STR_TAG:
                return node.value  # what the str constructor returns, without its bookkeeping
            return self._construct(node, path)
        if kind is yaml.MappingNode:
            aliasing = self._aliasing
            self._enter(node, path, depth)
            try:
                self._loader.flatten_mapping(node)  # type: ignore[arg-type]  # resolves YAML merge keys (<<)
            except (yaml.constructor.ConstructorError, RecursionError) as exc:
                what = getattr(exc, "problem", None) or "a merge key (<<) refers to a mapping that contains it"
                self._problem(node, path, str(what), "merge only mappings, and none that contains the merge")
                raise _Abandon from None
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = (key_node.value if key_node.tag == _STR_TAG and type(key_node) is yaml.ScalarNode
                       else self._construct(key_node, path)
                       if type(key_node) is yaml.ScalarNode else None)
                kmark = key_node.start_mark
                kline, kcol = kmark.line + 1, kmark.column + 1
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    shown = (repr(key) if type(key_node) is yaml.ScalarNode
                             else "a " + ("mapping" if type(key_node) is yaml.MappingNode else "sequence"))
                    self._problem(key_node, path, f"mapping key {shown} is not a plain scalar",
                                  "use a plain string as the key")
                    continue
                pkey: str | int = key if isinstance(key, (str, int)) else str(key)
                kpath = (*path, pkey)
                if key in out:
                    first = positions.get(kpath, (0, 0))[0]
                    self._problem(key_node, (*path, str(key)), f"duplicate key {key!r} (first given on line {first})",
                                  "remove one of the two; YAML keeps only the last silently")
                    continue
                positions[kpath] = (kline, kcol)  # the value's own position is never used over it
                if value_node.tag == _STR_TAG and type(value_node) is yaml.ScalarNode:
                    out[key] = value_node.value
                else:
                    out[key] = self._value(value_node, kpath, positions, depth + 1)
            self._active.discard(id(node))
            self._aliasing = aliasing
            return out
        if kind is yaml.SequenceNode:
            aliasing = self._aliasing
            self._enter(node, path, depth)
            items: list[Any] = []
            for i, item in enumerate(node.value):
                ipath = (*path, i)
                imark = item.start_mark
                positions.setdefault(ipath, (imark.line + 1, imark.column + 1))
                items.append(self._value(item, ipath, positions, depth + 1))
            self._active.discard(id(node))
            self._aliasing = aliasing
            return items
        return self._construct(node, path)


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


def _too_deep(text: str, file: str) -> InputError:
    """The composer ran out of stack: report where the nesting passes MAX_DEPTH."""
    deep = _depth_error(text)
    if deep is not None:
        return yaml_error(deep, file, text)
    return InputError.single(file, "the YAML is too deeply nested or recursive to read",
                             hint="flatten the document")


def yaml_error(exc: yaml.YAMLError, file: str, text: str) -> InputError:
    """A YAML error as an input error with its line and column."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        col = mark.column + 1 if mark else 0
        what = exc.problem or "YAML syntax error"
        if "nesting depth" in what or "levels deep" in what:  # ours, or libyaml's limit of 1,000 levels
            return InputError([Problem(file, line, col, "", f"nested more than {MAX_DEPTH} levels deep"
                                       + ("" if "levels deep" in what else f" ({what})"),
                                       "flatten the document; no Kubernetes, eksctl or CloudFormation input "
                                       "needs this")])
        return InputError([Problem(file, line, col, "", f"YAML syntax error: {what}",
                                   "fix the YAML syntax at this position (indentation, quotes, colons)")])
    if isinstance(exc, yaml.reader.ReaderError):
        pos = max(0, min(exc.position, len(text)))
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        char = exc.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        return InputError([Problem(file, line, col, "", f"YAML does not allow the control character {shown} here",
                                   "remove it, or write it as an escape in a double-quoted string, e.g. \"\\x01\"")])
    return InputError.single(file, f"YAML error: {exc}", hint="fix the YAML")




def fast_documents(text: str, file: str, *, drop_empty: bool = True) -> list[Document] | None:
    """The documents of ``text`` read by the compiled reader, or None when it is not
    built or leaves this text to PyYAML (then :func:`build_documents` reads it). The
    result equals PyYAML's (``tests/test_fastyaml.py`` holds the two together)."""
    found = load_built(text)
    return None if found is None else fast_built(found, file, drop_empty=drop_empty)


def fast_built(found: list[tuple[int, int, Any, PositionIndex, bool]], file: str, *,
               drop_empty: bool = True) -> list[Document]:
    """Documents of what the compiled reader built (:func:`fast_documents`, a prefetch)."""
    return [Document(file, index, line, data, position_index=positions)
            for index, line, data, positions, empty in found if not (drop_empty and empty)]


#: threads that read and parse files ahead of :class:`ReadAhead`'s caller (the parse runs
#: without the GIL; the caller builds the Python objects meanwhile)
READ_AHEAD_THREADS = 2


@dataclass(frozen=True)
class ReadFile:
    """A file read ahead: its identity (device, inode), its size, and its documents
    (empty ones dropped, as :func:`read_documents` does)."""

    identity: tuple[int, int]
    size: int
    documents: list[Document]


class ReadAhead:
    """Read a list of YAML files ahead of the caller, on other threads, with the compiled
    reader. ``get(i)`` gives the i-th file read as :func:`read_documents` would read it,
    or None when the caller is to read that file itself (no compiled reader, not a
    regular UTF-8 file, a ``!`` anywhere in it, YAML the compiled reader leaves to PyYAML,
    or a read error: the caller's own reading gives the same result or error as before).
    Take files in order; files passed over stay unread."""

    def __init__(self, paths: Sequence[str], threads: int = READ_AHEAD_THREADS) -> None:
        self._paths = list(paths)
        self._ahead = (_fastyaml.Prefetch(self._paths, _PLAIN[1], MAX_DEPTH, threads)
                       if _fastyaml is not None and _PLAIN is not None and self._paths else None)

    def get(self, i: int) -> ReadFile | None:
        if self._ahead is None or _PLAIN is None:
            return None
        got = self._ahead.take(i, _PLAIN[0])
        if got is None:
            return None
        dev, ino, size, found = got
        if found is None:
            return None
        return ReadFile((dev, ino), size, fast_built(found, self._paths[i]))


def build_documents(text: str, file: str, builder: DataBuilder, *, drop_empty: bool = True) -> list[Document]:
    """Compose and build every document of ``text``. Raises :class:`InputError` for
    YAML errors and for problems the builder found (at most MAX_PROBLEMS are listed)."""
    fast = fast_documents(text, file, drop_empty=drop_empty)
    if fast is not None:
        return fast
    docs: list[Document] = []
    try:
        for index, node in enumerate(compose_documents(text)):
            if node is None or (drop_empty and _is_empty(node)):
                continue
            positions: dict[PathKey, tuple[int, int]] = {}
            data = builder.build(node, (), positions)
            docs.append(Document(file, index, node.start_mark.line + 1, data, positions))
    except yaml.YAMLError as exc:
        raise yaml_error(exc, file, text) from None
    except RecursionError:
        raise _too_deep(text, file) from None
    if builder.problems:
        problems = list(builder.problems)
        if builder.dropped:
            problems.append(Problem(file, 0, 0, "", f"... and {builder.dropped} more problems in this file",
                                    "fix the ones above first"))
        raise InputError(problems)
    return docs


def read_documents(path: Path, *, display: str | None = None, raw: bytes | None = None) -> list[Document]:
    """Parse every YAML document of ``path``. Empty documents are dropped.

    ``raw`` is the file's content when the caller has already read it (not read again).
    Raises :class:`InputError` for unreadable
    files, YAML syntax errors, duplicate keys, bad tagged values, hostile nesting or aliasing.
    """
    file = display or str(path)
    if raw is None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError.single(file, f"cannot read file: {exc.strerror}",
                                    hint="check the path and its permissions") from None
    text = _decode(raw, file)
    return build_documents(text, file, DataBuilder(file))


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
                                hint="pass the spec directory or files the plan was made from "
                                "(a copy of them is in its spec/ folder)")
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
