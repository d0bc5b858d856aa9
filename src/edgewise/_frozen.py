"""Value classes made by the tens of thousands: frozen to the type checker, plain dataclasses
at run time.

``@dataclass(frozen=True)`` makes an ``__init__`` that stores each field through
``object.__setattr__`` (its own ``__setattr__`` refuses every assignment): on CPython 3.11
~7,000 instructions for a five-field object, against ~2,000 for a plain dataclass's
``self.zone = zone``. Writing into the instance's ``__dict__`` instead is no way out: it
turns the object's inline attribute values into a dictionary, and every later read of a
field then costs ~6x (PEP 412 key-sharing, CPython 3.11's specialised ``LOAD_ATTR``).
A check of a 200 x 40 plan makes ~115,000 such objects in its main process (each file's
objects and their sources, the Services and workloads, every call's callers,
resolutions, tiers and endpoints).

:func:`record` is ``@dataclass`` with ``eq`` and a field hash, as a frozen dataclass has,
marked with :func:`typing.dataclass_transform` (PEP 681) as frozen by default, so mypy
refuses any assignment to a field (``make test`` type-checks the package strictly);
at run time nothing checks that again. ``tests/test_frozen.py`` holds both: the
methods equal to a frozen dataclass's, mypy's refusal of an assignment.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar, dataclass_transform

__all__ = ["record"]

_C = TypeVar("_C")


@dataclass_transform(frozen_default=True, eq_default=True, field_specifiers=(dataclasses.field,))
def record(cls: type[_C]) -> type[_C]:
    """``cls`` as a dataclass whose instances are immutable by contract (mypy holds every
    use to it): the same ``__init__`` signature, ``__eq__``, ``__hash__`` and ``__repr__``
    as ``@dataclass(frozen=True)`` gives, at a third of the construction cost."""
    return dataclasses.dataclass(eq=True, unsafe_hash=True)(cls)
