"""``.edgewise.yaml``: a repository's check settings, found the way linters find theirs.

``edgewise check`` looks for ``.edgewise.yaml`` (or ``.edgewise.yml``) in the current
directory and its parents, stopping at the repository root (the directory holding
``.git``); ``--config FILE`` names one, ``--no-config`` ignores any. Command-line options
win over the file. Example::

    select: [EW2, EW3, EW4]          # rule ids or prefixes (default: all)
    ignore: [EW204]                  # rule ids or prefixes
    severity:                        # per-rule overrides: error | warning | info
      EW205: error
      EW503: info
    exclude:                         # findings in these files are not reported; globs
      - charts/legacy/**             #   relative to the directory of this file
    fail-on: warning                 # error (default) | warning | info
    untainted-edge: false
    consul-edition: enterprise       # ce | enterprise
    helm-values: [deploy/values-edge.yaml]   # for the Helm charts checked; relative to this file
    helm-set: [clusterName=edge]     # KEY=VALUE, as helm --set

Helm values given on the command line (``--helm-values``, ``--helm-set``) come after the
file's, so they win where both set a key.

Objects in excluded files still take part in placement and routing (a Service in an
excluded file still routes calls from included ones); only their findings are dropped.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import InputError, Problem, suggest
from ..spec.yamlsource import Document, read_documents
from .model import Finding, Severity

__all__ = ["CONFIG_NAMES", "CheckConfig", "discover_config", "load_config"]

CONFIG_NAMES = (".edgewise.yaml", ".edgewise.yml")
_KEYS = ("select", "ignore", "severity", "exclude", "fail-on", "untainted-edge", "consul-edition", "helm-values",
         "helm-set")
_SEVERITIES = tuple(s.value for s in Severity)


@dataclass(frozen=True)
class CheckConfig:
    file: str = ""
    base: Path = field(default_factory=Path)  # directory the exclude globs are relative to
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    fail_on: Severity | None = None
    untainted_edge: bool | None = None
    consul_edition: str | None = None
    helm_values: tuple[Path, ...] = ()  # resolved against ``base``
    helm_set: tuple[str, ...] = ()

    def excluded(self, file: str) -> bool:
        """Whether findings in ``file`` are dropped (``exclude`` globs, relative to ``base``)."""
        if not self.exclude or not file:
            return False
        try:
            rel = Path(file).resolve().relative_to(self.base.resolve())
        except ValueError:
            return False  # outside the configured tree
        text = PurePosixPath(rel).as_posix()
        return any(_glob(text, pattern) for pattern in self.exclude)

    def apply(self, findings: Sequence[Finding]) -> list[Finding]:
        """Findings with severity overrides applied and excluded files dropped."""
        out = []
        for f in findings:
            if self.excluded(f.file):
                continue
            sev = _override(self.severity, f.rule)
            if sev is not None and sev is not f.severity:
                f = Finding(f.file, f.line, f.rule, f.name, sev, f.object, f.message, f.hint)
            out.append(f)
        return sorted(out)


def _override(table: Mapping[str, Severity], rule: str) -> Severity | None:
    """The override for ``rule``: an exact id, else the longest matching prefix."""
    best = max((k for k in table if rule.startswith(k)), key=len, default=None)
    return table[best] if best is not None else None


def _glob(path: str, pattern: str) -> bool:
    pattern = pattern.strip()
    if pattern.startswith("./"):
        pattern = pattern[2:]
    if pattern.endswith("/"):
        pattern += "**"
    if fnmatch.fnmatchcase(path, pattern):
        return True
    if pattern.endswith("/**"):  # a directory and everything under it
        return path == pattern[:-3] or path.startswith(pattern[:-2])
    return False


def discover_config(start: Path) -> Path | None:
    """The nearest ``.edgewise.yaml`` from ``start`` up to the repository root."""
    here = start.resolve()
    for d in (here, *here.parents):
        for name in CONFIG_NAMES:
            if (d / name).is_file():
                return d / name
        if (d / ".git").exists():
            return None
    return None


def load_config(path: Path) -> CheckConfig:
    """Read and validate a config file; every problem is reported with file:line (exit 2)."""
    docs = read_documents(path)
    if not docs:
        return CheckConfig(file=str(path), base=path.parent)
    if len(docs) > 1:
        raise InputError.single(str(path), "more than one YAML document", hint="keep one mapping of settings")
    doc = docs[0]
    data = doc.data
    if not isinstance(data, Mapping):
        raise InputError([doc.problem((), "the config must be a mapping of settings", "e.g. ignore: [EW204]")])
    problems: list[Problem] = []
    for key in data:
        if key not in _KEYS:
            near = suggest(str(key), _KEYS)
            hint = f"did you mean {near[0]!r}?" if near else "known settings: " + ", ".join(_KEYS)
            problems.append(doc.problem((key,), f"unknown setting {str(key)!r}", hint))
    select = _ids(doc, data, "select", problems)
    ignore = _ids(doc, data, "ignore", problems)
    exclude = _strings(doc, data, "exclude", problems)
    severity: dict[str, Severity] = {}
    table = data.get("severity", {})
    if not isinstance(table, Mapping):
        problems.append(doc.problem(("severity",), "must be a mapping of rule id to severity", "e.g. EW205: error"))
        table = {}
    for rule, sev in table.items():
        if not _valid_id(str(rule)):
            problems.append(doc.problem(("severity", rule), f"{rule!r} is not a rule id or prefix", "e.g. EW205"))
        elif str(sev) not in _SEVERITIES:
            problems.append(
                doc.problem(("severity", rule), f"unknown severity {sev!r}", "one of: " + ", ".join(_SEVERITIES))
            )
        else:
            severity[str(rule).upper()] = Severity(str(sev))
    fail_on = data.get("fail-on")
    if fail_on is not None and str(fail_on) not in _SEVERITIES:
        problems.append(doc.problem(("fail-on",), f"unknown severity {fail_on!r}", "one of: " + ", ".join(_SEVERITIES)))
        fail_on = None
    untainted = data.get("untainted-edge")
    if untainted is not None and not isinstance(untainted, bool):
        problems.append(doc.problem(("untainted-edge",), "must be true or false", "untainted-edge: true"))
        untainted = None
    edition = data.get("consul-edition")
    if edition is not None and edition not in ("ce", "enterprise"):
        problems.append(doc.problem(("consul-edition",), f"unknown edition {edition!r}", "ce or enterprise"))
        edition = None
    helm_values = []
    for i, v in enumerate(_strings(doc, data, "helm-values", problems)):
        f = path.parent / v
        if f.is_file():
            helm_values.append(f)
        else:
            problems.append(doc.problem(("helm-values", i), f"no such values file: {f}",
                                        "paths are relative to the directory of this file"))
    helm_set = _strings(doc, data, "helm-set", problems)
    for i, kv in enumerate(helm_set):
        if "=" not in kv or kv.startswith("="):
            problems.append(doc.problem(("helm-set", i), f"{kv!r} is not KEY=VALUE", "e.g. clusterName=edge"))
    if problems:
        raise InputError(problems)
    return CheckConfig(
        file=str(path),
        base=path.parent,
        select=tuple(select),
        ignore=tuple(ignore),
        severity=severity,
        exclude=tuple(exclude),
        fail_on=Severity(str(fail_on)) if fail_on is not None else None,
        untainted_edge=untainted,
        consul_edition=edition,
        helm_values=tuple(helm_values),
        helm_set=tuple(helm_set),
    )


def _valid_id(value: str) -> bool:
    v = value.upper()
    return v.startswith("EW") and v[2:].isdigit() and 0 < len(v) <= 5


def _strings(doc: Document, data: Mapping[str, Any], key: str, problems: list[Problem]) -> list[str]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(doc.problem((key,), "must be a list of strings", f"{key}: [...]"))
        return []
    return [v.strip() for v in value]


def _ids(doc: Document, data: Mapping[str, Any], key: str, problems: list[Problem]) -> list[str]:
    out = []
    for i, v in enumerate(_strings(doc, data, key, problems)):
        if _valid_id(v):
            out.append(v.upper())
        else:
            problems.append(doc.problem((key, i), f"{v!r} is not a rule id or prefix", "e.g. EW3 or EW301"))
    return out
