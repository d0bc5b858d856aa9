"""Names edgewise gives what it writes, so that every layer can recognise them.

A plan directory holds :data:`PLAN_MARKER` (a JSON list of the plan's files); the
spec loader skips such directories, and plan replaces only those. Plan builds its output
in temporary siblings named :data:`TEMP_PREFIX` + 8 hex digits.
"""

from __future__ import annotations

__all__ = ["PLAN_MARKER", "TEMP_PREFIX", "is_edgewise_output"]

PLAN_MARKER = ".edgewise-plan"
TEMP_PREFIX = ".edgewise.out."


def is_edgewise_output(name: str, entries: list[str]) -> bool:
    """Whether the directory called ``name``, holding ``entries``, is something plan wrote."""
    return name.startswith(TEMP_PREFIX) or PLAN_MARKER in entries
