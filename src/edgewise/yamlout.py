"""Deterministic YAML emission for everything edgewise writes.

Objects are plain dicts built in a fixed key order (apiVersion, kind, metadata, spec,
...); we never sort keys on output, so the order the generators chose is the order
users read. Lists are emitted as built. No timestamps, no anchors/aliases: the same
input gives the same bytes.

The format is PyYAML's block style (``default_flow_style=False``, indent 2, sequences
not indented under their key, multi-line strings as literal blocks). PyYAML is the
reference: :func:`dump_all` writes exactly what ``yaml.dump_all`` with those options
writes, but for the JSON-like documents edgewise generates (dicts with string keys,
lists, strings, ints, bools, None) it walks the tree itself instead of going through
PyYAML's pure-Python representer and resolver, which is most of the cost of planning
thousands of objects. How each distinct string is written (plain, quoted, escaped) is
still PyYAML's decision, once per string (:func:`_inline`, cached: its emitter's rules
for plain text, its resolver, else a dump of the string; :func:`_literal` for
multi-line strings, by its emitter's rules); anything the walker is not certain about
(floats, long or special multi-line strings, unusual keys, other types) sends the whole
document to PyYAML.

The walk itself is compiled: ``edgewise._fastyaml.dump_docs`` (``rust/fastyaml/src/emit.rs``)
lays out a whole stream of documents, looking strings up in :data:`_inline_cache` and
calling back :func:`_inline` / :func:`_literal` for strings it has not seen; a
:class:`_Fallback` from them, or anything else the Python walker would give up on, sends
that document to PyYAML. The Python walker (:func:`_document`) is the same layout in
Python: it is used where the extension could not be built (it is optional, as for the
compiled reader) and is the compiled walker's reference in the tests, which hold the
two walkers and PyYAML together byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import yaml
import yaml.resolver

try:  # the compiled walker (rust/fastyaml); absent where it could not be built, or in a build older than it
    from ._fastyaml import dump_docs as _dump_docs
except ImportError:  # pragma: no cover - depends on the build
    _dump_docs = None  # type: ignore[assignment]

__all__ = ["documents", "dump", "dump_all"]

_Base: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)

_OPTIONS: dict[str, Any] = {"Dumper": _Dumper, "sort_keys": False, "default_flow_style": False,
                            "allow_unicode": True, "width": 4096}


def _pyyaml_dump(obj: Any) -> str:
    out: str = yaml.dump(obj, **_OPTIONS)
    return out


def _pyyaml_dump_all(objs: list[Any]) -> str:
    out: str = yaml.dump_all(objs, explicit_start=True, **_OPTIONS)
    return out


class _Fallback(Exception):
    """The walker is not certain to match PyYAML for this document."""


# --- scalars -------------------------------------------------------------------------

#: one line of printable ASCII: PyYAML's emitter finds no special character in it
_PRINTABLE_LINE = re.compile(r"[\x20-\x7e]+\Z")
#: characters that may not start a plain scalar in block context (PyYAML's
#: ``Emitter.analyze_scalar``: indicators at index 0, and a leading space)
_NOT_FIRST = frozenset("#,[]{}&*!|>'\"%@` ")


def _plain_in_block(s: str) -> bool:
    """Whether PyYAML's emitter allows ``s`` (one line of printable ASCII) as a plain
    scalar in block context (``Emitter.analyze_scalar``, ``allow_block_plain``): no
    indicator starts it (``?``, ``:`` and ``-`` only when a space or the end follows),
    no ``---`` / ``...`` start, no ``: `` or `` #`` inside, no trailing ``:`` or space.
    Whether it is then written plain is the resolver's call (it must read back as a
    string); ``tests/test_yamlout.py`` holds this to PyYAML."""
    if not _PRINTABLE_LINE.match(s):
        return False
    first = s[0]
    if first in _NOT_FIRST or (first in "?:-" and (len(s) == 1 or s[1] == " ")):
        return False
    if s.startswith(("---", "...")) or s.endswith((" ", ":")):
        return False
    return ": " not in s and " #" not in s


_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
#: PyYAML never folds a scalar shorter than this at width 4096 (indent + key stay far below).
_MAX_INLINE = 2000
_BREAKS = "\n\x85\u2028\u2029"
#: one-line string -> how it is written; filled by :func:`_inline` alone, so it never holds
#: a string with a line break (the compiled walker takes a hit here as a one-line string)
_inline_cache: dict[str, str] = {}


def _inline(s: str) -> str:
    """How PyYAML writes the one-line string ``s`` as a mapping key or a scalar value."""
    text = _inline_cache.get(s)
    if text is not None:
        return text
    if not s or len(s) > _MAX_INLINE or any(c in s for c in "\r" + _BREAKS):
        raise _Fallback
    if _plain_in_block(s) and _RESOLVER.resolve(yaml.ScalarNode, s, (True, False)) == _STR_TAG:  # type: ignore[no-untyped-call]
        text = s
    else:
        dumped = _pyyaml_dump(s)
        if dumped.endswith("\n...\n"):
            dumped = dumped[:-4]
        text = dumped[:-1]
        if "\n" in text:
            raise _Fallback
    _inline_cache[s] = text
    return text


#: literal blocks are only written here for printable ASCII: libyaml (the reference) and
#: PyYAML's Python emitter disagree on what else is printable
_LITERAL_OK = re.compile(r"[\x20-\x7e\n]*\Z")


def _block_allowed(s: str) -> bool:
    """Whether PyYAML's emitter allows the multi-line ``s`` (printable ASCII and line
    breaks) as a block scalar (``Emitter.analyze_scalar``, ``allow_block``): for such
    text only a trailing space, or a space right before a line break, forbids it.
    Walking the text in Python as the emitter does took ~5,000 instructions a character
    (a zone's node bootstrap script: 3 ms); ``tests/test_yamlout.py`` holds this to it."""
    return not s.endswith(" ") and " \n" not in s


def _literal(s: str, indent: int) -> str:
    """``s`` (containing a line break) as PyYAML's literal block, content at ``indent``."""
    if (len(s) > 100_000 or not _LITERAL_OK.match(s) or not _block_allowed(s)
            or s == "\n" or s.endswith("\n\n")):
        raise _Fallback
    hints = ""
    if s[0] in " \n":
        hints += "2"
    if s[-1] != "\n":
        hints += "-"
    pad = " " * indent
    body = s[:-1] if s[-1] == "\n" else s
    lines = [pad + line if line else "" for line in body.split("\n")]
    return "|" + hints + "\n" + "\n".join(lines)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    raise _Fallback


# --- block collections -----------------------------------------------------------------

#: "\n" + indentation + key + ":" by indentation, for keys already seen there (every
#: object repeats the same keys; a lookup is cheaper than building the line again)
_key_lines: list[dict[str, str]] = []
#: " " + how a one-line string is written as a mapping value
_values: dict[str, str] = {}


def _mapping(d: dict[Any, Any], indent: int, out: list[str], inline: bool) -> None:
    """Append ``d`` (non-empty) at column ``indent``; ``inline``: the first key continues
    the current line (after ``- ``)."""
    while len(_key_lines) <= indent:
        _key_lines.append({})
    lines = _key_lines[indent]
    append = out.append
    first = inline
    for key, value in d.items():
        if type(key) is not str:
            raise _Fallback
        if first:
            if len(key) >= 128:
                raise _Fallback
            append(_inline(key) + ":")
            first = False
        else:
            line = lines.get(key)
            if line is None:
                if len(key) >= 128:
                    raise _Fallback
                line = lines[key] = "\n" + " " * indent + _inline(key) + ":"
            append(line)
        t = type(value)
        if t is str:
            if "\n" in value:
                append(" " + _literal(value, indent + 2))
            else:
                text = _values.get(value)
                if text is None:
                    text = _values[value] = " " + _inline(value)
                append(text)
        elif t is dict:
            if value:
                append("\n" + " " * (indent + 2))
                _mapping(value, indent + 2, out, True)
            else:
                append(" {}")
        elif t is list:
            if value:
                _sequence(value, indent, out, False)
            else:
                append(" []")
        else:
            append(" " + _scalar(value))


def _sequence(items: list[Any], indent: int, out: list[str], inline: bool) -> None:
    """Append ``items`` (non-empty) with their ``-`` at column ``indent``."""
    dash = "\n" + " " * indent + "- "
    append = out.append
    first = inline
    for value in items:
        append("- " if first else dash)
        first = False
        t = type(value)
        if t is str:
            append(_literal(value, indent + 2) if "\n" in value else _inline(value))
        elif t is dict:
            if value:
                _mapping(value, indent + 2, out, True)
            else:
                append("{}")
        elif t is list:
            if value:
                _sequence(value, indent + 2, out, True)
            else:
                append("[]")
        else:
            append(_scalar(value))


def _document(obj: Any) -> str | None:
    """``obj`` as a block document without the start marker, or None to use PyYAML."""
    out: list[str] = []
    try:
        if type(obj) is dict and obj:
            _mapping(obj, 0, out, True)
        elif type(obj) is list and obj:
            _sequence(obj, 0, out, True)
        else:
            return None
    except _Fallback:
        return None
    out.append("\n")
    return "".join(out)


# --- public API --------------------------------------------------------------------------

def _texts(objs: Sequence[Any], explicit_start: bool) -> list[str | None]:
    """Each of ``objs`` written by a walker (compiled if built), None where PyYAML writes it."""
    if _dump_docs is not None:
        return _dump_docs(objs, _inline_cache, _inline, _literal, _Fallback, explicit_start=explicit_start)
    start = "---\n" if explicit_start else ""
    return [None if (text := _document(obj)) is None else start + text for obj in objs]


def dump(obj: Any) -> str:
    """One YAML document (no ``---``)."""
    text = _texts([obj], False)[0]
    return text if text is not None else _pyyaml_dump(obj)


def documents(objs: Iterable[Any]) -> list[str]:
    """Each of ``objs`` as a YAML document starting with ``---`` (joined, they are
    :func:`dump_all`'s text)."""
    objs = objs if isinstance(objs, list | tuple) else list(objs)
    return [text if text is not None else _pyyaml_dump_all([obj])
            for text, obj in zip(_texts(objs, True), objs, strict=True)]


def dump_all(objs: Iterable[Any]) -> str:
    """YAML documents, each starting with ``---``."""
    return "".join(documents(objs))
