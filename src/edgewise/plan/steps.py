"""A RUNBOOK step contributed by the application plan (mesh install, Secrets, DNS).

The cluster plan writes RUNBOOK.md; the application plan knows what the apps need before
``kubectl apply -k`` can succeed, and what follows it (the Route 53 records over the ALBs
the load balancer controller made). It hands those steps over in this form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # plan.cluster imports this module
    from .cluster.steps import Action

__all__ = ["RunbookStep"]


@dataclass(frozen=True)
class RunbookStep:
    """``commands``: shell lines or structured actions; ``after_apps``: the step comes
    after the applications are applied (and before the verification)."""

    key: str
    title: str
    text: tuple[str, ...]
    commands: tuple[str | Action, ...]
    after_apps: bool = False
