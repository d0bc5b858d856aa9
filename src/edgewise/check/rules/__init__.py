"""The rule catalog: one module per rule, discovered by module name (``ewNNN_*``).

Every rule class carries its own metadata (id, kebab-case name, default severity,
summary, rationale); :func:`all_rules` returns one instance of each, sorted by id, so the
docs, the SARIF rule table and the CLI's ``--select`` all read the same source.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from ..model import Rule

__all__ = ["all_rules", "rule_by_id"]


@cache
def _load() -> tuple[Rule, ...]:
    found: dict[str, Rule] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("ew"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Rule)
                and value is not Rule
                and value.__module__ == module.__name__
            ):
                if value.id in found:
                    raise RuntimeError(f"two rules claim id {value.id}")
                found[value.id] = value()
    return tuple(found[k] for k in sorted(found))


def all_rules() -> tuple[Rule, ...]:
    """Every rule, sorted by id."""
    return _load()


def rule_by_id(rule_id: str) -> Rule | None:
    return next((r for r in _load() if r.id == rule_id), None)
