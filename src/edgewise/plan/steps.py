"""A RUNBOOK step contributed by the application plan (mesh install, Secrets).

The cluster plan writes RUNBOOK.md; the application plan knows what the apps need before
``kubectl apply -k`` can succeed. It hands those steps over in this form.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RunbookStep"]


@dataclass(frozen=True)
class RunbookStep:
    key: str
    title: str
    text: tuple[str, ...]
    commands: tuple[str, ...]
