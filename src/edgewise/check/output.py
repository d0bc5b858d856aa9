"""Render a check :class:`Report`: text for people, JSON for scripts, SARIF for code
hosts, GitHub Actions workflow annotations, JUnit XML for CI test reports."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any

from .. import __version__
from .engine import Report
from .finding import FORMATS
from .model import Finding, Rule, Severity

__all__ = ["FORMATS", "render", "render_github", "render_json", "render_junit", "render_sarif", "render_text"]

# GitHub code scanning limits
# (https://docs.github.com/en/code-security/code-scanning/troubleshooting-sarif-uploads/results-exceed-limit):
# at most 25,000 results per run and only the top 5,000 (by severity) are shown, 20 runs
# per file, 1,000 locations per result, 10 MB per file. One run, one location per result,
# and the 5,000 most severe results keep a log within all of them.
SARIF_MAX_RESULTS = 5000
SARIF_MAX_MESSAGE = 2000

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
    """A repository-relative URI when the file is under the working directory (what code
    scanning maps onto the checkout), else an absolute file URI."""
    p = PurePath(file)
    if p.is_absolute():
        try:
            return Path(file).resolve().relative_to(Path.cwd().resolve()).as_posix()
        except ValueError:
            return p.as_uri()
    return p.as_posix()


def _fingerprint(f: Finding) -> str:
    """Stable across runs and line moves: rule, file and object (not the message text)."""
    return hashlib.sha256(f"{f.rule}|{_uri(f.file)}|{f.object}".encode()).hexdigest()[:32]


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
    text = f.message + (f" Fix: {f.hint}" if f.hint else "")
    if len(text) > SARIF_MAX_MESSAGE:
        text = text[: SARIF_MAX_MESSAGE - 3] + "..."
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": index.get(f.rule, -1),
        "level": _SARIF_LEVEL[f.severity],
        "message": {"text": text},
        "partialFingerprints": {"edgewiseFinding/v1": _fingerprint(f)},
    }
    if location:
        result["locations"] = [location]
    if reason is not None:
        result["suppressions"] = [{"kind": "inSource", "justification": reason}]
    return result


def render_sarif(report: Report, rules: Sequence[Rule] | None = None) -> str:
    """A SARIF 2.1.0 log with one run; suppressed findings carry an inSource suppression.

    Within code scanning's limits: at most :data:`SARIF_MAX_RESULTS` results, the most
    severe first (the count left out is in the run's properties), messages cut to
    :data:`SARIF_MAX_MESSAGE` characters, one location each.
    """
    table = list(rules if rules is not None else report.rules)
    index = {r.id: i for i, r in enumerate(table)}
    ranked = sorted(report.findings, key=lambda f: (-f.severity.rank, f))
    kept = ranked[:SARIF_MAX_RESULTS]
    results = [_sarif_result(f, index, None) for f in kept]
    room = SARIF_MAX_RESULTS - len(results)
    results += [_sarif_result(f, index, reason) for f, reason in report.suppressed[:room]]
    left_out = len(report.findings) - len(kept) + max(0, len(report.suppressed) - room)
    properties: dict[str, Any] = {"assumptions": report.assumptions}
    if left_out:
        properties["resultsLeftOut"] = left_out
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
                "properties": properties,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


_GH_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _gh_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(value: str) -> str:
    return _gh_data(value).replace(":", "%3A").replace(",", "%2C")


def render_github(report: Report) -> str:
    """GitHub Actions workflow commands: one annotation per finding, on its file and line
    (https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands),
    most severe first (GitHub shows a limited number per step); a summary line last."""
    lines = []
    for f in sorted(report.findings, key=lambda f: (-f.severity.rank, f)):
        props = []
        if f.file:
            props.append(f"file={_gh_property(_relative(f.file))}")
            if f.line > 0:
                props.append(f"line={f.line}")
        props.append(f"title={_gh_property(f'{f.rule} {f.name}')}")
        text = f"{f.object}: {f.message}" if f.object else f.message
        if f.hint:
            text += f"\nfix: {f.hint}"
        lines.append(f"::{_GH_LEVEL[f.severity]} {','.join(props)}::{_gh_data(text)}")
    counts = ", ".join(f"{report.count(s)} {s.value}" for s in Severity)
    lines.append(f"edgewise check: {len(report.findings)} finding(s) ({counts})")
    for a in report.assumptions:
        lines.append(f"assumed: {a}")
    return "\n".join(lines) + "\n"


def _relative(file: str) -> str:
    p = Path(file)
    if p.is_absolute():
        try:
            return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
        except ValueError:
            return file
    return p.as_posix()


def render_junit(report: Report) -> str:
    """JUnit XML: one test suite per rule that ran, one failing test case per finding (a
    passing one when the rule found nothing), so CI test reports list the rules."""
    by_rule: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_rule.setdefault(f.rule, []).append(f)
    rules = list(report.rules) or []
    ids = [r.id for r in rules] + sorted(set(by_rule) - {r.id for r in rules})
    names = {r.id: r.name for r in rules}
    root = ET.Element(
        "testsuites",
        name="edgewise check",
        tests=str(sum(max(1, len(by_rule.get(i, []))) for i in ids)),
        failures=str(len(report.findings)),
    )
    for rid in ids:
        found = by_rule.get(rid, [])
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{rid} {names.get(rid, found[0].name if found else '')}".strip(),
            tests=str(max(1, len(found))),
            failures=str(len(found)),
            errors="0",
            skipped="0",
        )
        if not found:
            ET.SubElement(suite, "testcase", classname=rid, name="no findings")
            continue
        for f in found:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_relative(f.file) if f.file else rid,
                name=f"{f.object or rid} ({_relative(f.file)}:{f.line})" if f.file else (f.object or rid),
            )
            if f.file:
                case.set("file", _relative(f.file))
                case.set("line", str(f.line))
            failure = ET.SubElement(case, "failure", message=f.message, type=f.severity.value)
            failure.text = f"{f.rule} {f.name}: {f.message}" + (f"\nfix: {f.hint}" if f.hint else "")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render(report: Report, fmt: str, *, verbose: bool = False) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "sarif":
        return render_sarif(report)
    if fmt == "github":
        return render_github(report)
    if fmt == "junit":
        return render_junit(report)
    return render_text(report, verbose=verbose)
