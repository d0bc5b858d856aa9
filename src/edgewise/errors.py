"""Problems found in user input, and the exception that carries them.

Every layer reports bad input the same way: a :class:`Problem` names the file, the
line and column, the field path, what is wrong and how to fix it. A :class:`InputError`
carries one or more problems; the CLI prints them all and exits with code 2.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: problems printed by :meth:`InputError.report`; the rest are counted
MAX_REPORTED = 100


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters for a message (hostile input can be huge)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def suggest(word: str, choices: Iterable[str], n: int = 1, cutoff: float = 0.6) -> list[str]:
    """Close matches of ``word`` for a "did you mean", bounded: words longer than 64
    characters (no real name is) get none, so one suggestion stays cheap."""
    if len(word) > 64:
        return []
    import difflib  # only for a problem: not on every command's start-up

    return difflib.get_close_matches(word, list(choices), n=n, cutoff=cutoff)

__all__ = ["MAX_REPORTED", "InputError", "Problem", "format_path", "shorten", "suggest"]


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

    def __reduce__(self) -> tuple[type[InputError], tuple[list[Problem]]]:
        # pickled by its problems (its args are their text): plan's forked check sends it back whole
        return (type(self), (self.problems,))

    @classmethod
    def single(
        cls, file: str, message: str, *, hint: str = "", line: int = 0, field: str = ""
    ) -> InputError:
        return cls([Problem(file, line, 0, field, message, hint)])

    def report(self) -> str:
        """Every problem, then a count: what each command prints to stderr before exit 2."""
        n = len(self.problems)
        shown = [p.render() for p in self.problems[:MAX_REPORTED]]
        if n > MAX_REPORTED:
            shown.append(f"... and {n - MAX_REPORTED} more (fix these first)")
        return "\n".join([*shown, f"error: {n} problem{'s' if n != 1 else ''} found"])
