"""Problems found in user input, and the exception that carries them.

Every layer reports bad input the same way: a :class:`Problem` names the file, the
line and column, the field path, what is wrong and how to fix it. A :class:`InputError`
carries one or more problems; the CLI prints them all and exits with code 2.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["InputError", "Problem", "format_path"]


def format_path(path: Sequence[str | int]) -> str:
    """``('spec', 'zones', 2, 'name')`` -> ``spec.zones[2].name``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, located as precisely as we can."""

    file: str
    line: int  # 1-based; 0 when unknown
    column: int  # 1-based; 0 when unknown
    field: str  # dotted path, "" when the problem concerns the whole document/file
    message: str
    hint: str = ""

    def render(self) -> str:
        loc = self.file
        if self.line:
            loc += f":{self.line}"
            if self.column:
                loc += f":{self.column}"
        text = f"{loc}: "
        if self.field:
            text += f"{self.field}: "
        text += self.message
        if self.hint:
            text += f"\n    fix: {self.hint}"
        return text


class InputError(Exception):
    """Bad user input: one or more :class:`Problem` s. Maps to exit code 2."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = sorted(set(problems))
        super().__init__("\n".join(p.render() for p in self.problems))

    @classmethod
    def single(
        cls, file: str, message: str, *, hint: str = "", line: int = 0, field: str = ""
    ) -> InputError:
        return cls([Problem(file, line, 0, field, message, hint)])

    def report(self) -> str:
        """Every problem, then a count: what each command prints to stderr before exit 2."""
        n = len(self.problems)
        return "\n".join([*(p.render() for p in self.problems), f"error: {n} problem{'s' if n != 1 else ''} found"])
