"""``edgewise check``: verify manifests and cluster configs against the edge rules."""

from .docs import render_rules_doc
from .engine import (
    IGNORE_ANNOTATION,
    Report,
    check_objects,
    check_paths,
    select_rules,
)
from .model import CfnTemplate, CheckContext, Finding, Rule, Severity
from .rules import all_rules

__all__ = [
    "IGNORE_ANNOTATION",
    "CfnTemplate",
    "CheckContext",
    "Finding",
    "Report",
    "Rule",
    "Severity",
    "all_rules",
    "check_objects",
    "check_paths",
    "render_rules_doc",
    "select_rules",
]
