"""edgewise._frozen.record: the value classes check makes by the tens of thousands are
frozen dataclasses to mypy and plain dataclasses at run time. Held here to what
``@dataclass(frozen=True)`` gives (signature, equality, hash, repr), and to mypy refusing
an assignment to a field."""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy_api

from edgewise._frozen import record
from edgewise.check.model import RoutedCall
from edgewise.k8s.inventory import KObject, Service, Source, Workload
from edgewise.routing.calls import Call
from edgewise.routing.resolver import Caller, Endpoint, Resolution, Tier

RECORDS = [Source, KObject, Workload, Service, Call, Caller, Endpoint, Tier, Resolution, RoutedCall]
ROOT = Path(__file__).resolve().parents[1]


def _frozen_twin(cls: type) -> Any:
    """The same fields (types, defaults, compare/hash/repr flags) as a frozen dataclass."""
    specs = []
    for f in dataclasses.fields(cls):
        kwargs: dict[str, Any] = {"compare": f.compare, "repr": f.repr, "hash": f.hash, "kw_only": f.kw_only}
        if f.default is not dataclasses.MISSING:
            kwargs["default"] = f.default
        specs.append((f.name, f.type, dataclasses.field(**kwargs)))
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True)


def _sample(cls: type, salt: str) -> dict[str, Any]:
    """Hashable values for every field (a field's value only has to be hashable and
    comparable for these tests, whatever its declared type)."""
    return {f.name: (f"{salt}-{i}", i) for i, f in enumerate(dataclasses.fields(cls))}


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_a_record_behaves_as_the_frozen_dataclass(cls: type) -> None:
    twin = _frozen_twin(cls)
    assert str(inspect.signature(cls)) == str(inspect.signature(twin))
    a, a2, b = _sample(cls, "a"), _sample(cls, "a"), _sample(cls, "b")
    mine, theirs = cls(**a), twin(**a)
    assert repr(mine).split("(", 1)[1] == repr(theirs).split("(", 1)[1]
    assert hash(mine) == hash(theirs)  # both hash the same tuple of compared fields
    assert mine == cls(**a2) and hash(mine) == hash(cls(**a2))
    assert (mine == cls(**b)) == (theirs == twin(**b)) is False
    # a field left out of the comparison is left out of both (Resolution.service)
    for f in dataclasses.fields(cls):
        if not f.compare:
            other = cls(**{**a, f.name: ("something", "else")})
            assert other == mine and hash(other) == hash(mine)
    assert mine != theirs  # another class, as two dataclasses are
    assert dataclasses.replace(mine, **{dataclasses.fields(cls)[0].name: "x"}) != mine


def test_record_keeps_positional_defaults_and_keyword_only_fields() -> None:
    @record
    class Point:
        x: int
        y: int = 2
        tags: tuple[str, ...] = dataclasses.field(default=(), compare=False)
        label: str = dataclasses.field(default="", kw_only=True)

    assert Point(1) == Point(1, 2) and Point(1) != Point(1, 3)
    assert Point(1, tags=("a",)) == Point(1)
    assert Point(1, label="p").label == "p"
    with pytest.raises(TypeError):
        Point(1, 2, (), "p")  # type: ignore[misc]  # label is keyword-only
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]


def test_mypy_refuses_an_assignment_to_a_record_field(tmp_path: Path) -> None:
    """What keeps a record immutable is the type check (``make test`` runs mypy --strict
    on the package): an assignment to any field of any record is an error there."""
    snippet = tmp_path / "assign.py"
    snippet.write_text(textwrap.dedent("""\
        from edgewise.k8s.inventory import Source
        from edgewise.routing.resolver import Endpoint


        def f(e: Endpoint, s: Source) -> None:
            e.zone = "x"
            s.line = 3
            print(e.zone, s.line)
        """))
    out, err, status = mypy_api.run([
        "--strict", "--no-error-summary", "--cache-dir", str(tmp_path / "cache"),
        "--follow-imports", "silent", str(snippet)])
    assert status == 1, out + err
    assert 'Property "zone" defined in "Endpoint" is read-only' in out
    assert 'Property "line" defined in "Source" is read-only' in out
    assert out.count("error:") == 2, out


def test_a_record_stores_its_fields_without_object_setattr() -> None:
    """Not a timing: a frozen dataclass's ``__init__`` stores every field through
    ``object.__setattr__`` (what costs ~7,000 instructions a five-field object); a
    record's is dataclasses' plain one."""
    assert "__setattr__" in _frozen_twin(Endpoint).__init__.__code__.co_names
    for cls in RECORDS:
        assert "__setattr__" not in cls.__init__.__code__.co_names, cls
