"""Code the interpreter compiles from text at start-up, kept between runs.

Three places in Python's library compile text each time a program starts:

* :mod:`dataclasses` writes a dataclass's ``__init__``, ``__repr__``, ``__eq__`` (and,
  frozen, ``__setattr__``, ``__delattr__`` and ``__hash__``) as text and compiles each
  with ``exec`` (``_create_fn``, Python 3.11). Compiling is most of a dataclass's
  creation;
* :mod:`typing` compiles every annotation given as a string into a ``ForwardRef``
  (``ForwardRef.__init__``), with ``compile(text, "<string>", "eval")``. pydantic-core's
  schema module alone makes ~900 of them as it is imported (its ``TypedDict`` classes,
  under ``from __future__ import annotations``);
* :mod:`re` turns each pattern a module compiles as it is imported into the code of its
  matching engine, in Python (``re._compiler.compile``: parse, then optimise and emit;
  a character class over all of Unicode, as PyYAML's reader has, takes milliseconds),
  then hands that code to ``_sre.compile``.

``edgewise plan`` makes ~130 dataclasses as it starts (its own, pydantic's,
annotated-types'), ~600 texts, ~250 distinct forward references and ~50 patterns
before its check's child imports the rules: compiling them was a sixth of the
instructions a 50 x 20 plan runs (measured: docs/performance.md).

:func:`install` stands in for ``exec`` inside :mod:`dataclasses`, for ``compile``
inside :mod:`typing` (a module global of that name comes before the built-in one
there) and for ``re._compiler.compile``, and nowhere else: a text compiled in an
earlier run is not compiled again; its code is read from a cache file, as the
interpreter reads a module's bytecode from ``__pycache__``. A text's code is the very
code ``compile`` makes of it (in the same mode, with no ``__future__`` flag inherited,
as neither module has one); a pattern's is the engine code ``re._compiler`` emits for
it, which ``_sre.compile`` checks again as it takes it (anything it refuses is
compiled afresh). Patterns with ``re.LOCALE`` or ``re.DEBUG`` are always compiled.
So every class and pattern is made as before: ``tests/test_codecache.py`` holds those
made with the cache to those made without it.

The cache file (``$XDG_CACHE_HOME/edgewise`` or ``~/.cache/edgewise``; another
directory with ``EDGEWISE_CACHE_DIR``; none at all with ``EDGEWISE_NO_CODE_CACHE=1``)
is a run of segments, each its length (4 bytes, little-endian) then a marshal: a dict
of key -> code (keys ``("exec", text)``, ``("eval", text)``, ``("re", pattern,
flags)``), or one (key, code) record. A text's code is kept the second time a run
compiles it: the first time only a mark is (``("seen", kind, CRC-32, length, flags,
bytes)`` -> None). A text that differs from run to run is never kept: Python's
tokenize builds a pattern from a set of string prefixes, in the set's hash order,
which changes with every process; kept at its first compile, such a text was appended
at every run (10 kB each time). A process appends what it compiled, one record per
``write`` to a file opened for appending, so processes running at once (``plan``'s
forked check, parallel test workers) never interleave their records. A reader that
finds more than :data:`COMPACT_AFTER` records rewrites the file as one dict (written
aside, then renamed over it; marks of kept texts dropped): one ``marshal.loads`` of a
dict is half the work of as many records. A record appended meanwhile by another
process is lost with the old file, and compiled and appended again when next needed.
Marshal's format belongs to one Python version: the file's name carries it. Reading
stops at the first segment that is neither (a write cut short). A file grown past
:data:`MAX_BYTES` is removed and made again. Whatever fails (no home, a read-only
disk) leaves the three compiling as before.
"""

from __future__ import annotations

import builtins
import contextlib
import marshal
import os
import re
import struct
import sys
import zlib
from types import CodeType
from typing import Any

__all__ = ["MAX_BYTES", "cache_path", "install", "installed"]

#: a cache file larger than this is removed when read (texts of ~3,000 classes)
MAX_BYTES = 4 << 20
#: a reader rewrites the file as one dict when it finds more records than this
COMPACT_AFTER = 64

_LENGTH = struct.Struct("<I")

#: ("exec" | "eval", text), ("re", pattern, flags), or a text's mark (:func:`_mark`)
Key = tuple[Any, ...]

#: key -> its code (a code object; a pattern's engine code; None for a mark), from the
#: cache file and this process's compiles
_codes: dict[Key, Any] = {}
#: the cache file appended to; None once appending failed (or before install)
_path: str | None = None
#: ``re._compiler.compile`` as it was before :func:`install`
_re_compile: Any = None


def cache_path() -> str | None:
    """The cache file for this interpreter's version, or None when the cache is off
    (``EDGEWISE_NO_CODE_CACHE`` set to anything but empty or 0) or no directory is known."""
    if os.environ.get("EDGEWISE_NO_CODE_CACHE", "") not in ("", "0"):
        return None
    directory = os.environ.get("EDGEWISE_CACHE_DIR")
    if not directory:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        if not os.path.isabs(base):  # XDG: a relative path is to be ignored
            return None
        directory = os.path.join(base, "edgewise")
    tag = sys.implementation.cache_tag or sys.implementation.name
    return os.path.join(directory, f"compiled-code.{tag}-{sys.hexversion:x}.marshal")


#: re's compiler and parser (Python 3.11 and later), with what this module calls of them
_re_compiler: Any = sys.modules.get("re._compiler")
_re_parser: Any = sys.modules.get("re._parser")
_sre: Any = sys.modules.get("_sre")
_RE_KNOWN = (getattr(getattr(_re_compiler, "compile", None), "__module__", None) == "re._compiler"
             and hasattr(_re_compiler, "_code") and hasattr(_re_parser, "parse") and hasattr(_sre, "compile"))


def installed() -> bool:
    """True when :mod:`dataclasses`, :mod:`typing` and :mod:`re` compile through the cache."""
    import dataclasses
    import typing

    return (getattr(dataclasses, "exec", None) is _exec and getattr(typing, "compile", None) is _compile
            and getattr(_re_compiler, "compile", None) is _compile_pattern)


def install() -> None:
    """Make :mod:`dataclasses`, :mod:`typing` and :mod:`re` compile through the cache from
    now on (once per process; nothing when the cache is off, or where one of them is not
    as this module knows it: an ``exec`` or ``compile`` of its own, another
    ``re._compiler.compile``)."""
    global _path, _re_compile
    import dataclasses
    import typing

    if "exec" in vars(dataclasses) or "compile" in vars(typing) or not _RE_KNOWN:
        return
    path = cache_path()
    if path is None:
        return
    _codes.update(_read(path))
    _path = path
    _re_compile = _re_compiler.compile
    dataclasses.exec = _exec  # type: ignore[attr-defined]
    typing.compile = _compile  # type: ignore[attr-defined]
    _re_compiler.compile = _compile_pattern


def _read(path: str) -> dict[Key, Any]:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError:
        return {}
    if len(data) > MAX_BYTES:
        _remove(path)
        return {}
    codes: dict[Key, Any] = {}
    view = memoryview(data)
    at = records = 0
    while at + _LENGTH.size <= len(view):
        (size,) = _LENGTH.unpack_from(view, at)
        start, at = at + _LENGTH.size, at + _LENGTH.size + size
        if at > len(view):
            break
        try:
            segment = marshal.loads(view[start:at])
        except (EOFError, ValueError, TypeError):
            break
        if type(segment) is dict:
            if not all(_valid(k, v) for k, v in segment.items()):
                break
            codes.update(segment)
        elif type(segment) is tuple and len(segment) == 2 and _valid(*segment):
            codes[segment[0]] = segment[1]
            records += 1
        else:
            break
    if records > COMPACT_AFTER or at != len(view):  # records to merge, or a tail to drop
        _compact(path, codes)
    return codes


def _valid(key: Any, code: Any) -> bool:
    """A key and code as this module writes them (a pattern's engine code is checked
    later, by ``_sre.compile``)."""
    if type(key) is not tuple or not key:
        return False
    if key[0] == "exec" or key[0] == "eval":
        return len(key) == 2 and type(key[1]) is str and type(code) is CodeType
    if key[0] == "seen":
        return len(key) == 6 and code is None
    return (key[0] == "re" and len(key) == 3 and type(key[1]) in (str, bytes) and type(key[2]) is int
            and type(code) is tuple and len(code) == 5)


def _mark(key: Key) -> Key:
    """The mark a text leaves the first time it is compiled (:func:`_store`)."""
    text = key[1]
    data = text if type(text) is bytes else text.encode("utf-8", "surrogatepass")
    return ("seen", key[0], zlib.crc32(data), len(data), key[2] if len(key) > 2 else 0, type(text) is bytes)


def _compact(path: str, codes: dict[Key, Any]) -> None:
    """Rewrite the cache file as one dict segment (written aside, then renamed over it),
    without the marks of texts whose code it holds."""
    kept = {_mark(k) for k in codes if k[0] != "seen"}
    body = marshal.dumps({k: v for k, v in codes.items() if k not in kept})
    aside = f"{path}.{os.getpid()}"
    try:
        _write(os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), _LENGTH.pack(len(body)) + body)
        os.replace(aside, path)
    except OSError:
        _remove(aside)


def _write(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (in one ``write`` where the system takes it whole),
    then close it."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _code(text: str, mode: str) -> CodeType:
    """The code of ``text`` compiled in ``mode``: from the cache, else compiled (with no
    ``__future__`` flag of this module inherited) and appended to the cache file."""
    key = (mode, text)
    code = _codes.get(key)
    if code is None:
        code = compile(text, "<string>", mode, dont_inherit=True)
        _store(key, code)
    return code


def _exec(source: Any, globals: dict[str, Any] | None = None, locals: Any = None, /) -> None:
    """``exec`` for :mod:`dataclasses`, whose texts come from the cache."""
    builtins.exec(_code(source, "exec") if type(source) is str else source, globals, locals)


def _compile(source: Any, filename: Any, mode: str, *args: Any, **kwargs: Any) -> Any:
    """``compile`` for :mod:`typing`: a forward reference's text (``"<string>"``, ``"eval"``
    and nothing more, as ``ForwardRef`` asks) from the cache; anything else compiled."""
    if type(source) is str and filename == "<string>" and mode == "eval" and not args and not kwargs:
        return _code(source, "eval")
    return builtins.compile(source, filename, mode, *args, **kwargs)


#: flags with which a pattern is always compiled: its code may depend on the locale, or
#: compiling prints it
_UNCACHED_FLAGS = re.LOCALE | re.DEBUG


def _compile_pattern(p: Any, flags: int = 0) -> Any:
    """``re._compiler.compile``: a pattern's engine code from the cache (handed to
    ``_sre.compile`` as ``re._compiler.compile`` hands it), else emitted by it."""
    if type(p) not in (str, bytes) or flags & _UNCACHED_FLAGS:
        return _re_compile(p, flags)
    key = ("re", p, int(flags))
    code = _codes.get(key)
    if code is not None:
        try:
            return _sre.compile(p, *code)
        except (TypeError, ValueError, RuntimeError, OverflowError):  # refused: compile afresh
            pass
    parsed = _re_parser.parse(p, flags)
    emitted = _re_compiler._code(parsed, flags)
    groupindex = parsed.state.groupdict
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, index in groupindex.items():
        indexgroup[index] = name
    code = (int(flags | parsed.state.flags), [int(c) for c in emitted], parsed.state.groups - 1,
            dict(groupindex), tuple(indexgroup))
    pattern = _sre.compile(p, *code)
    _store(key, code)
    return pattern


def _store(key: Key, code: Any) -> None:
    """Keep ``code`` for this process, and in the cache file if an earlier run compiled
    the same text (its mark is there); else leave a mark for the next run to find."""
    _codes[key] = code
    mark = _mark(key)
    if mark in _codes:
        _append(key, code)
    else:
        _codes[mark] = None
        _append(mark, None)


def _append(key: Key, code: Any) -> None:
    global _path
    if _path is None:
        return
    body = marshal.dumps((key, code))
    try:
        os.makedirs(os.path.dirname(_path), mode=0o700, exist_ok=True)
        _write(os.open(_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), _LENGTH.pack(len(body)) + body)
    except OSError:
        _path = None  # nowhere to keep it: compile as before from now on
