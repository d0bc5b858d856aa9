"""The cache of the code :mod:`dataclasses` compiles (edgewise/_codecache.py): a class
made through it is the class made without it, method for method and code object for
code object; the file is read back by another process, survives a write cut short and
garbage, is removed when too large, and the cache gets out of the way when it cannot
work (turned off, nowhere to write)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import marshal
import os
import re
import subprocess
import sys
import textwrap
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from edgewise import _codecache

#: re's own compile, whether or not this process installed the cache
_RE_COMPILE = _codecache._re_compile or sys.modules["re._compiler"].compile
assert _RE_COMPILE is not _codecache._compile_pattern

METHODS = ("__init__", "__repr__", "__eq__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__",
           "__setattr__", "__delattr__")


def _classes() -> list[type[Any]]:
    """One of each kind of dataclass the project and its libraries make."""

    @dataclasses.dataclass
    class Plain:
        a: int
        b: str = "x"
        c: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True)
    class Frozen:
        name: str
        size: int = 0
        tags: tuple[str, ...] = ()
        registry: ClassVar[dict[str, int]] = {}

    @dataclasses.dataclass(frozen=True, order=True)
    class Ordered:
        rank: int
        label: str = dataclasses.field(default="", compare=False)

    @dataclasses.dataclass(slots=True, kw_only=True)
    class Slotted:
        x: float
        y: float = 1.5

    @dataclasses.dataclass(eq=False, repr=False)
    class Bare:
        v: Any = None
        init_only: dataclasses.InitVar[int] = 0

        def __post_init__(self, init_only: int) -> None:
            self.w = init_only * 2

    @dataclasses.dataclass(unsafe_hash=True)
    class Hashed:
        k: str
        n: int = dataclasses.field(default=1, hash=False)

    return [Plain, Frozen, Ordered, Slotted, Bare, Hashed]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The cache installed in this process with an empty file of its own."""
    path = tmp_path / "cache" / "dataclass-code.marshal"
    monkeypatch.setattr(_codecache, "_codes", {})
    monkeypatch.setattr(_codecache, "_path", str(path))
    monkeypatch.setattr(dataclasses, "exec", _codecache._exec, raising=False)
    monkeypatch.setattr(typing, "compile", _codecache._compile, raising=False)
    monkeypatch.setattr(_codecache, "_re_compile", _RE_COMPILE)
    yield path


def _without_cache(monkeypatch: pytest.MonkeyPatch) -> list[type[Any]]:
    with monkeypatch.context() as m:
        m.delattr(dataclasses, "exec", raising=False)
        return _classes()


def _methods(cls: type[Any]) -> dict[str, Any]:
    return {m: getattr(vars(cls).get(m), "__code__", vars(cls).get(m)) for m in METHODS}


def _same_classes(made: list[type[Any]], reference: list[type[Any]]) -> None:
    for cls, ref in zip(made, reference, strict=True):
        mine, theirs = _methods(cls), _methods(ref)
        for name in METHODS:
            a, b = mine[name], theirs[name]
            if b is None or not hasattr(b, "co_code"):
                assert type(a) is type(b), (cls.__name__, name)
                continue
            assert a == b, (cls.__name__, name)  # co_code, consts, names, flags, line table
            assert a.co_flags == b.co_flags
        assert cls.__init__.__annotations__ == ref.__init__.__annotations__
        assert [f.name for f in dataclasses.fields(cls)] == [f.name for f in dataclasses.fields(ref)]


def _behave_alike(classes: list[type[Any]]) -> None:
    plain, frozen, ordered, slotted, bare, hashed = classes
    p = plain(1)
    assert repr(p) == f"{plain.__qualname__}(a=1, b='x', c=[])" and p == plain(1, "x", [])
    f = frozen("n", 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.name = "m"  # type: ignore[misc]
    assert hash(f) == hash(frozen("n", 2)) and f != frozen("n", 3)
    assert ordered(1, "z") < ordered(2, "a") and ordered(1, "a") == ordered(1, "b")
    s = slotted(x=1.0)
    assert s.y == 1.5 and not hasattr(s, "__dict__")
    with pytest.raises(TypeError):
        slotted(1.0)  # type: ignore[misc]
    assert bare(init_only=3).w == 6 and bare() != bare()
    assert hash(hashed("a", 1)) == hash(hashed("a", 2))


def _next_run(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    """What a new process starts from: the cache file read."""
    monkeypatch.setattr(_codecache, "_codes", _codecache._read(str(cache)))


def _compiling(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    compiles: list[Any] = []
    real_compile = compile

    def counting(source: Any, *args: Any, **kwargs: Any) -> Any:
        compiles.append(source)
        return real_compile(source, *args, **kwargs)

    monkeypatch.setattr("builtins.compile", counting)
    return compiles


def test_a_class_made_through_the_cache_is_the_class_made_without_it(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _without_cache(monkeypatch)
    first = _classes()  # every text compiled here; the file keeps only marks of them
    texts = {k for k in _codecache._codes if k[0] != "seen"}
    assert len(texts) >= 20 and all(k[0] == "exec" for k in texts)
    assert set(_codecache._read(str(cache))) == {_codecache._mark(k) for k in texts}
    _same_classes(first, reference)
    _behave_alike(first)

    # the next run compiles them again, and keeps them
    _next_run(monkeypatch, cache)
    second = _classes()
    assert {k for k in _codecache._read(str(cache)) if k[0] != "seen"} == texts
    _same_classes(second, reference)

    # every run after it: every text read back from the file, none compiled
    _next_run(monkeypatch, cache)
    size = cache.stat().st_size
    compiles = _compiling(monkeypatch)
    cached = _classes()
    assert compiles == [] and cache.stat().st_size == size
    _same_classes(cached, reference)
    _behave_alike(cached)


def test_a_text_that_changes_from_run_to_run_leaves_only_marks(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for run in range(5):
        _next_run(monkeypatch, cache)
        _codecache._exec(f"x = {run}  # differs at every run", {}, {})
        _codecache._exec("y = 'the same at every run'", {}, {})
    kept = _codecache._read(str(cache))
    assert [k for k in kept if k[0] != "seen"] == [("exec", "y = 'the same at every run'")]
    assert sum(k[0] == "seen" for k in kept) == 6  # five runs' marks, and the kept text's
    assert cache.stat().st_size < 1500


def test_a_forward_reference_made_through_the_cache_is_the_one_made_without_it(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["list[int]", "dict[str, tuple[int, ...]] | None", "Annotated[int, Field(gt=0)]", "'quoted'"]
    with monkeypatch.context() as m:
        m.delattr(typing, "compile", raising=False)
        reference = [typing.ForwardRef(t) for t in texts]
        with pytest.raises(SyntaxError, match="must be an expression"):
            typing.ForwardRef("x = 1")
    made = [typing.ForwardRef(t) for t in texts]
    _next_run(monkeypatch, cache)
    [typing.ForwardRef(t) for t in texts]  # kept this time
    _next_run(monkeypatch, cache)
    again = [typing.ForwardRef(t) for t in texts]
    for ref, one, two in zip(reference, made, again, strict=True):
        assert one.__forward_code__ == ref.__forward_code__ == two.__forward_code__
        assert two.__forward_code__ is _codecache._codes[("eval", ref.__forward_arg__)]
        assert one == ref and two == ref
    assert typing.ForwardRef("list[int]")._evaluate({}, {}, frozenset()) == list[int]
    with pytest.raises(SyntaxError, match="must be an expression"):
        typing.ForwardRef("x = 1")  # a text that does not compile is not kept
    assert all(key[1] != "x = 1" for key in _codecache._codes)
    # anything but a forward reference's compile is the built-in one's
    assert _codecache._compile("1 + 1", "<string>", "exec") is not None
    assert ("exec", "1 + 1") not in _codecache._codes


PATTERNS: list[tuple[str | bytes, int]] = [
    ("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]", 0),  # PyYAML's reader
    (r"^(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?$", 0),
    (r"(?<=-)[a-z]+(?=\d)|(?P<q>['\"]).*?(?P=q)", 0),
    (r"(?i)straße|ǅ", 0),
    (r"""
        (?P<key>[a-z]+)  # a key
        \s*=\s*
        (?P<value>.*)    # its value
     """, re.VERBOSE | re.MULTILINE),
    (r"^\w+$", re.ASCII | re.IGNORECASE),
    (r"(a)?(?(1)b|c)", re.DOTALL),
    (rb"[\x00-\x7f]+|\xff", 0),
    (rb"(?P<n>\d+)", re.IGNORECASE),
]
SAMPLES = ["1.34", "1.34.5", "x-abc1 'q'", "STRASSE", "key = v\nother=w", "Ab_9", "ab", "c", "\x85\ud800x"]


def test_a_pattern_made_through_the_cache_is_the_one_re_makes(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = [_RE_COMPILE(p, f) for p, f in PATTERNS]
    made = [_codecache._compile_pattern(p, f) for p, f in PATTERNS]
    _next_run(monkeypatch, cache)
    [_codecache._compile_pattern(p, f) for p, f in PATTERNS]  # kept this time
    _next_run(monkeypatch, cache)
    assert {k for k in _codecache._codes if k[0] == "re"} == {("re", p, f) for p, f in PATTERNS}
    emitted: list[Any] = []
    monkeypatch.setattr(_codecache._re_compiler, "_code", lambda *a: emitted.append(a))
    again = [_codecache._compile_pattern(p, f) for p, f in PATTERNS]
    assert emitted == []  # every one from the file
    monkeypatch.undo()
    for ref, one, two in zip(reference, made, again, strict=True):
        for pattern in (one, two):
            assert pattern == ref  # pattern, flags and engine code
            assert (pattern.flags, pattern.groups, pattern.groupindex) == (ref.flags, ref.groups, ref.groupindex)
            for text in SAMPLES:
                subject: str | bytes = text.encode("latin-1", "replace") if isinstance(ref.pattern, bytes) else text
                assert [m.groupdict() | {"": m.span()} for m in pattern.finditer(subject)] == \
                    [m.groupdict() | {"": m.span()} for m in ref.finditer(subject)]


def test_patterns_the_cache_leaves_to_re(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for flags in (re.LOCALE, re.DEBUG):
        subject = rb"\w+" if flags == re.LOCALE else r"\w+"
        with contextlib.redirect_stdout(io.StringIO()):
            assert _codecache._compile_pattern(subject, flags) == _RE_COMPILE(subject, flags)
    parsed = sys.modules["re._parser"].parse("ab", 0)
    assert _codecache._compile_pattern(parsed, 0).match("ab")  # a parsed pattern, as re hands on
    assert not any(k[0] == "re" for k in _codecache._codes) and not cache.exists()
    # engine code _sre refuses (a file damaged in a way marshal did not notice) is emitted afresh
    flags, code, groups, groupindex, indexgroup = _compile_code("a+b")
    _codecache._codes[("re", "a+b", 0)] = (flags, code[: len(code) // 2], groups, groupindex, indexgroup)
    assert _codecache._compile_pattern("a+b", 0) == _RE_COMPILE("a+b", 0)
    assert _codecache._codes[("re", "a+b", 0)][1] == code


def _compile_code(pattern: str) -> Any:
    _codecache._compile_pattern(pattern, 0)
    return _codecache._codes.pop(("re", pattern, 0))


def test_no_future_flag_of_the_cache_module_reaches_the_code(cache: Path) -> None:
    # _codecache.py itself has `from __future__ import annotations`: inherited, the
    # generated __init__ would keep its annotations as strings
    text = "def __create_fn__(_type_a):\n def __init__(self, a: _type_a):\n  self.a = a\n return __init__"
    ns: dict[str, Any] = {}
    _codecache._exec(text, {}, ns)
    init = ns["__create_fn__"](_type_a=int)
    assert init.__annotations__ == {"a": int}


def _record(text: str, code: object, mode: str = "exec") -> bytes:
    return _frame(marshal.dumps(((mode, text), code)))


def test_reading_stops_at_a_record_cut_short_or_foreign(tmp_path: Path) -> None:
    good = [(f"x = {i}", compile(f"x = {i}", "<string>", "exec", dont_inherit=True)) for i in range(3)]
    path = tmp_path / "c"
    whole = b"".join(_record(t, c) for t, c in good)
    path.write_bytes(whole + _record("y = 1", compile("y = 1", "<string>", "exec"))[:-3])
    assert list(_codecache._read(str(path))) == [("exec", "x = 0"), ("exec", "x = 1"), ("exec", "x = 2")]
    for foreign in (_record("z", "not code"), _record("z", ("a", "b")), _record("z", good[0][1], "single"),
                    _frame(marshal.dumps(("exec", "z", good[0][1]))),
                    _frame(marshal.dumps((("re", "z", 0), (0, [1], 0, {})))),
                    b"\x05\x00\x00\x00junk!", marshal.dumps(1)):
        path.write_bytes(whole[: len(_record(*good[0]))] + foreign + whole)
        assert list(_codecache._read(str(path))) == [("exec", "x = 0")]
    path.write_bytes(b"\x01\x02")
    assert _codecache._read(str(path)) == {}
    assert _codecache._read(str(tmp_path / "missing")) == {}


def test_records_are_merged_into_one_dict_by_a_reader_that_finds_many(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c"
    codes = {("exec", f"x = {i}"): compile(f"x = {i}", "<string>", "exec", dont_inherit=True) for i in range(50)}
    first = ("exec", "x = 0")
    records = b"".join(_record(t, c) for (_, t), c in codes.items()) + _record("x = 0", codes[first])
    path.write_bytes(records)
    monkeypatch.setattr(_codecache, "COMPACT_AFTER", 51)
    assert _codecache._read(str(path)) == codes and path.read_bytes() == records  # 51 records: left as they are
    monkeypatch.setattr(_codecache, "COMPACT_AFTER", 2)
    marks = {_codecache._mark(k): None for k in codes}  # marks of kept texts are dropped
    path.write_bytes(records + b"".join(_frame(marshal.dumps(item)) for item in marks.items()))
    assert _codecache._read(str(path)) == {**codes, **marks}
    data = path.read_bytes()
    assert int.from_bytes(data[:4], "little") == len(data) - 4  # one segment now
    assert marshal.loads(data[4:]) == codes
    assert _codecache._read(str(path)) == codes and path.read_bytes() == data  # left as it is
    # records appended after the dict are read with it, and merged in turn
    y, z = (compile(t, "<string>", "eval") for t in "yz")
    other = ("seen", "eval", 1, 1, 0, False)  # a mark of a text not kept
    path.write_bytes(data + _record("y", y, "eval") + _record("z", z, "eval") + _frame(marshal.dumps((other, None))))
    assert set(_codecache._read(str(path))) == {*codes, ("eval", "y"), ("eval", "z"), other}
    assert marshal.loads(path.read_bytes()[4:]).keys() == {*codes, ("eval", "y"), ("eval", "z"), other}
    # a dict holding something else than code, or keyed otherwise, ends the reading there
    for foreign in ({("exec", "z"): "text"}, {"z": codes[first]}, {("seen", "exec", 1, 1, 0, False): codes[first]}):
        path.write_bytes(_record("x = 0", codes[first]) + _frame(marshal.dumps(foreign)))
        assert list(_codecache._read(str(path))) == [first]
    assert list(tmp_path.iterdir()) == [path]  # nothing left aside


def _frame(body: bytes) -> bytes:
    return len(body).to_bytes(4, "little") + body


def test_a_file_grown_too_large_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c"
    path.write_bytes(_record("x = 1", compile("x = 1", "<string>", "exec")) * 10)
    monkeypatch.setattr(_codecache, "MAX_BYTES", 50)
    assert _codecache._read(str(path)) == {} and not path.exists()


def test_nowhere_to_write_leaves_exec_compiling(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.parent.mkdir()
    cache.parent.chmod(0o500)
    if os.access(cache.parent, os.W_OK):  # root writes anyway: a file in place of the directory
        cache.parent.chmod(0o700)
        cache.parent.rmdir()
        cache.parent.write_text("a file")
    reference = _without_cache(monkeypatch)
    made = _classes()
    _same_classes(made, reference)
    assert _codecache._path is None  # given up after the first failed append


@pytest.mark.parametrize("setting", [
    {"EDGEWISE_NO_CODE_CACHE": "1"},
    {"EDGEWISE_CACHE_DIR": "", "XDG_CACHE_HOME": "relative/dir"},
])
def test_turned_off_or_no_directory(setting: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in setting.items():
        monkeypatch.setenv(key, value)
    assert _codecache.cache_path() is None


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                          text=True, check=True)


def test_the_program_reads_what_earlier_runs_wrote(tmp_path: Path) -> None:
    """The edgewise program's imports, run after run: the first two compile every text
    (the first marks them, the second keeps them), the third compiles none and merges
    the file into one dict, which later runs leave as it is."""
    env = {**os.environ, "EDGEWISE_CACHE_DIR": str(tmp_path)}
    env.pop("EDGEWISE_NO_CODE_CACHE", None)
    probe = """
        import builtins, dataclasses
        compiled = []
        real = builtins.compile
        def counting(source, *a, **k):
            if isinstance(source, str) and ("__create_fn__" in source or a[1:2] == ("eval",)):
                compiled.append(source)
            return real(source, *a, **k)
        builtins.compile = counting
        import edgewise.cli, edgewise.spec
        from edgewise import _codecache
        assert _codecache.installed()
        print(len(compiled), sum(k[0] != "seen" for k in _codecache._codes))
    """
    first = _run(probe, env).stdout.split()
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].name.startswith("compiled-code.")
    second = _run(probe, env).stdout.split()
    third = _run(probe, env).stdout.split()
    assert int(first[0]) > 20 and second == first and int(third[0]) == 0, (first, second, third)
    assert third[1] == first[1]
    merged = files[0].read_bytes()
    assert int.from_bytes(merged[:4], "little") == len(merged) - 4  # one dict
    assert _run(probe, env).stdout.split() == third and files[0].read_bytes() == merged
    # turned off: every forward reference compiled again (by typing itself), none kept,
    # nothing written
    elsewhere = tmp_path / "off"
    off = _run(probe.replace("assert _codecache.installed()", "assert not _codecache.installed()"),
               {**env, "EDGEWISE_NO_CODE_CACHE": "1", "EDGEWISE_CACHE_DIR": str(elsewhere)}).stdout.split()
    assert int(off[0]) > 100 and off[1] == "0" and not elsewhere.exists()


def test_install_leaves_an_exec_of_someone_else(monkeypatch: pytest.MonkeyPatch) -> None:
    other: Callable[..., None] = lambda *a: None  # noqa: E731
    monkeypatch.setattr(dataclasses, "exec", other, raising=False)
    _codecache.install()
    assert dataclasses.exec is other  # type: ignore[attr-defined]
    assert not _codecache.installed()
    monkeypatch.delattr(dataclasses, "exec")
    monkeypatch.setattr(typing, "compile", other, raising=False)
    _codecache.install()
    assert not _codecache.installed() and "exec" not in vars(dataclasses)
    monkeypatch.delattr(typing, "compile")
    monkeypatch.setattr(_codecache, "_RE_KNOWN", False)
    _codecache.install()
    assert "exec" not in vars(dataclasses) and "compile" not in vars(typing)
