"""Names edgewise gives what it writes, so that every layer can recognise them.

A plan directory holds :data:`PLAN_MARKER` (a JSON list of the plan's files); the
spec loader skips such directories, and plan replaces only those. Plan builds its output
in temporary siblings named :data:`TEMP_PREFIX` + 8 hex digits.
"""

from __future__ import annotations

__all__ = ["CARRIED_FILES", "KNOWN_EXTRA_FILES", "PLAN_MARKER", "TEMP_PREFIX", "is_edgewise_output"]

PLAN_MARKER = ".edgewise-plan"
TEMP_PREFIX = ".edgewise.out."
#: files other edgewise commands keep inside a plan directory: ``apply``'s record of the
#: steps it finished. A new plan carries them over (replacing the plan must not forget
#: what was applied) and does not count them as files a user added.
CARRIED_FILES = (".edgewise-apply.json",)
#: edgewise's own leftovers a plan directory may hold (apply's temporary state file)
KNOWN_EXTRA_FILES = (*CARRIED_FILES, ".edgewise-apply.tmp")


def is_edgewise_output(name: str, entries: list[str]) -> bool:
    """Whether the directory called ``name``, holding ``entries``, is something plan wrote."""
    return name.startswith(TEMP_PREFIX) or PLAN_MARKER in entries
