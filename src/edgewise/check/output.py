"""Render a check :class:`Report`: text for people, JSON for scripts, SARIF for code hosts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from .. import __version__
from .engine import Report
from .model import Finding, Rule, Severity

__all__ = ["render", "render_json", "render_sarif", "render_text"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def render_text(report: Report, *, verbose: bool = False) -> str:
    """Findings grouped by object, each with ``file:line``; a summary line last."""
    lines: list[str] = []
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in report.findings:
        groups.setdefault((f.file, f.object), []).append(f)
    for (file, obj), items in sorted(groups.items(), key=lambda kv: (kv[1][0].file, kv[1][0].line)):
        lines.append(f"{obj or '(no object)'}  [{file or '<memory>'}]")
        for f in items:
            loc = f"{f.file}:{f.line}" if f.line else (f.file or "<memory>")
            lines.append(f"  {loc}: {f.severity.value} {f.rule} {f.name}: {f.message}")
            if f.hint:
                lines.append(f"      fix: {f.hint}")
        lines.append("")
    if verbose:
        for note in report.notes:
            lines.append(f"note: {note}")
        for f, reason in report.suppressed:
            lines.append(f"suppressed: {f.file}:{f.line} {f.rule} on {f.object}: {reason}")
    for a in report.assumptions:
        lines.append(f"assumed: {a}")
    counts = ", ".join(f"{report.count(s)} {s.value}{'s' if report.count(s) != 1 else ''}" for s in Severity)
    lines.append(
        f"{len(report.findings)} finding(s): {counts}; {len(report.suppressed)} "
        f"suppressed; {report.objects} object(s) checked with {len(report.rules)} rules; "
        f"{report.routes_verified} route(s) resolved"
    )
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    data = {
        "findings": [f.as_dict() for f in report.findings],
        "suppressed": [{**f.as_dict(), "reason": r} for f, r in report.suppressed],
        "summary": {s.value: report.count(s) for s in Severity},
        "objects": report.objects,
        "routes_verified": report.routes_verified,
        "topology": report.topology.name if report.topology else None,
        "assumptions": report.assumptions,
        "notes": report.notes,
    }
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def _uri(file: str) -> str:
    p = PurePath(file)
    return p.as_uri() if p.is_absolute() else p.as_posix()


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": rule.fix or rule.summary},
        "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
    }


def _sarif_result(f: Finding, index: dict[str, int], reason: str | None) -> dict[str, Any]:
    location: dict[str, Any] = {}
    if f.file:
        physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(f.file)}}
        if f.line > 0:
            physical["region"] = {"startLine": f.line}
        location["physicalLocation"] = physical
    if f.object:
        location["logicalLocations"] = [{"fullyQualifiedName": f.object}]
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": index.get(f.rule, -1),
        "level": _SARIF_LEVEL[f.severity],
        "message": {"text": f.message + (f" Fix: {f.hint}" if f.hint else "")},
    }
    if location:
        result["locations"] = [location]
    if reason is not None:
        result["suppressions"] = [{"kind": "inSource", "justification": reason}]
    return result


def render_sarif(report: Report, rules: Sequence[Rule] | None = None) -> str:
    """A SARIF 2.1.0 log with one run; suppressed findings carry an inSource suppression."""
    table = list(rules if rules is not None else report.rules)
    index = {r.id: i for i, r in enumerate(table)}
    results = [_sarif_result(f, index, None) for f in report.findings]
    results += [_sarif_result(f, index, reason) for f, reason in report.suppressed]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "edgewise",
                        "version": __version__,
                        "rules": [_sarif_rule(r) for r in table],
                    }
                },
                "results": results,
                "properties": {"assumptions": report.assumptions},
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def render(report: Report, fmt: str, *, verbose: bool = False) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "sarif":
        return render_sarif(report)
    return render_text(report, verbose=verbose)
