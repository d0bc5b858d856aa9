"""What a check reports: a :class:`Finding`, its :class:`Severity`, and the formats a
report is written in (:data:`FORMATS`, :mod:`edgewise.check.output`).

A module of its own, importing nothing of check's machinery: ``plan`` gets its check's
findings back from a forked child (pickled), and reading them must not import the
rules, the inventory and the route resolver into the process that only reports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["FORMATS", "Finding", "Severity"]

#: the formats :func:`edgewise.check.output.render` writes a report in
FORMATS = ("text", "json", "sarif", "github", "junit")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]


@dataclass(frozen=True, order=True)
class Finding:
    """One problem, located. Sorted by file, line, rule."""

    file: str
    line: int
    rule: str
    name: str
    severity: Severity
    object: str  # "Deployment lax/product-api", "CloudFormation network.cfn.yaml NodeSg", ...
    message: str
    hint: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "object": self.object,
            "hint": self.hint,
        }
