"""``edgewise check``: verify manifests and cluster configs against the edge rules.

The names below are imported on first use (PEP 562): a process that only reads findings
(``plan``, whose check runs in a forked child) imports :mod:`.finding` alone, not the
rules, the inventory and the route resolver.
"""

from typing import TYPE_CHECKING

from .. import _lazy

if TYPE_CHECKING:
    from .docs import render_rules_doc
    from .engine import IGNORE_ANNOTATION, Report, check_objects, check_paths, select_rules
    from .finding import Finding, Severity
    from .model import CfnTemplate, CheckContext, Rule
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

__getattr__, __dir__ = _lazy.attach(__name__, {
    "render_rules_doc": ".docs",
    "IGNORE_ANNOTATION": ".engine",
    "Report": ".engine",
    "check_objects": ".engine",
    "check_paths": ".engine",
    "select_rules": ".engine",
    "Finding": ".finding",
    "Severity": ".finding",
    "CfnTemplate": ".model",
    "CheckContext": ".model",
    "Rule": ".model",
    "all_rules": ".rules",
})
