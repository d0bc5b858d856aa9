"""The plan report: ``report.json`` (machine-readable) and ``report.md`` (for reviewers),
plus the simulation plot. Pure rendering: it gets everything already computed.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..plan.apps import AppPlan
from ..plan.artifacts import Artifact
from ..topology import Topology

__all__ = ["PLOT_PATH", "render_report", "routes_of", "zone_rows"]

PLOT_PATH = "report-latency.svg"


def records_json(data: Any, depth: int = 3) -> str:
    """JSON indented like ``json.dumps(indent=2)`` down to ``depth``; below it each value
    is one line (a finding, a zone, a route per line).

    Diffs of regenerated reports stay one line per changed record, and the records are
    encoded by the C encoder (``indent`` makes :mod:`json` fall back to pure Python,
    which was a tenth of plan's time at 10,000 findings).
    """
    out: list[str] = []
    _records_emit(data, 0, depth, out)
    return "".join(out) + "\n"


def _records_member(key: Any, value: Any, depth: int) -> str:
    """One member of a top-level object, as :func:`records_json` writes it (no comma)."""
    out = ["\n  " + json.dumps(str(key)) + ": "]
    _records_emit(value, 1, depth, out)
    return "".join(out)


def _records_object(members: Sequence[str]) -> str:
    return "{" + ",".join(members) + "\n}\n"


def _records_emit(value: Any, level: int, depth: int, out: list[str]) -> None:
    if level >= depth or not isinstance(value, (dict, list)) or not value:
        out.append(json.dumps(value))
        return
    pad, inner = "\n" + "  " * level, "\n" + "  " * (level + 1)
    if isinstance(value, dict):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            out.append(("," if i else "") + inner + json.dumps(str(k)) + ": ")
            _records_emit(v, level + 1, depth, out)
        out.append(pad + "}")
    else:
        out.append("[")
        for i, v in enumerate(value):
            out.append(("," if i else "") + inner)
            _records_emit(v, level + 1, depth, out)
        out.append(pad + "]")


def zone_rows(topology: Topology) -> list[dict[str, Any]]:
    rows = []
    for z in topology.zones:
        ng = z.node_group
        rows.append({
            "zone": z.name,
            "type": z.kind.value,
            "subnet": z.subnet_id or z.subnet_cidr,
            "nodeGroup": None if ng is None else {
                "instanceType": ng.instance_type, "desired": ng.desired,
                "min": ng.min_size, "max": ng.max_size, "volumeType": z.volume_type},
            "optInGroup": z.group,
            "carrierIp": z.carrier_ip if z.kind.value == "wavelength" else None,
        })
    return rows


def routes_of(plan: AppPlan) -> list[dict[str, Any]]:
    out = []
    for site in plan.sites:
        for c in site.calls:
            out.append({
                "site": site.site, "namespace": site.namespace, "caller": c.caller, "callee": c.callee,
                "target": c.target, "targetNamespace": c.target_namespace,
                "failover": c.failover, "failoverNamespace": c.failover_namespace, "mechanism": c.mechanism,
            })
    return out


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(v: object) -> str:
        return "" if v is None else str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _nodes(ng: dict[str, Any] | None) -> str:
    return "" if ng is None else f'{ng["instanceType"]} {ng["min"]}/{ng["desired"]}/{ng["max"]}'


def _plot_svg(simulation: Any) -> str | None:
    try:
        from ..simulate.plot import plot
    except ImportError:  # matplotlib is optional
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / PLOT_PATH
        try:
            plot(simulation, path)
        except ImportError:
            return None
        return path.read_text(encoding="utf-8")


def render_report(
    topology: Topology,
    app_plans: Sequence[AppPlan],
    findings: Sequence[Any],
    simulation: Any | None,
    *,
    plot: bool = True,
    simulation_note: str | None = None,
) -> list[Artifact]:
    """``report.json``, ``report.md`` and (when a simulation ran and matplotlib is
    installed) the latency plot."""
    return ReportDraft(topology, app_plans, simulation, plot=plot, simulation_note=simulation_note).finish(findings)


class ReportDraft:
    """The report but for check's findings: ``plan`` writes it while check runs, and
    finishes it with the findings (:meth:`finish`) once they come. Everything else in
    it (the zones, every site and call route, the simulation and its plot) is rendered
    here."""

    def __init__(self, topology: Topology, app_plans: Sequence[AppPlan], simulation: Any | None, *,
                 plot: bool = True, simulation_note: str | None = None) -> None:
        zones = zone_rows(topology)
        plans = [(p, routes_of(p)) for p in app_plans]
        self._json_before = [
            _records_member("topology", {
                "name": topology.name, "region": topology.region,
                "kubernetesVersion": topology.kubernetes_version,
                "endpointAccess": topology.endpoint_access.value, "zones": zones}, _DEPTH),
            _records_member("applications", [
                {"name": p.app, "routing": p.routing, "notes": list(p.notes), "routes": routes,
                 "sites": [{"site": s.site, "kind": s.kind, "namespace": s.namespace,
                            "services": [{"service": c.service, "workload": c.workload, "replicas": c.replicas}
                                         for c in s.services]} for s in p.sites]}
                for p, routes in plans], _DEPTH),
        ]
        self._json_after = [
            _records_member("simulation", simulation.to_json() if simulation is not None else None, _DEPTH),
            _records_member("simulationNote", simulation_note, _DEPTH),
        ]

        md: list[str] = [f"# edgewise plan: {topology.name}", ""]
        md += [f"Region **{topology.region}**, Kubernetes {topology.kubernetes_version}, "
               f"API endpoint {topology.endpoint_access.value}.", "", "## Zones", ""]
        md.append(_md_table(
            ["zone", "type", "subnet", "nodes (min/desired/max)", "volume", "opt-in group"],
            [[r["zone"], r["type"], r["subnet"],
              _nodes(r["nodeGroup"]),
              "" if r["nodeGroup"] is None else r["nodeGroup"]["volumeType"], r["optInGroup"] or ""]
             for r in zones]))
        for p, routes in plans:
            md += ["", f"## Application {p.app} (routing: {p.routing})", ""]
            md.append(_md_table(
                ["site", "namespace", "services"],
                [[s.site, s.namespace, ", ".join(f"{c.service}x{c.replicas}" for c in s.services)] for s in p.sites]))
            if routes:
                md += ["", "Where each call goes:", ""]
                md.append(_md_table(
                    ["site", "call", "primary", "failover", "mechanism"],
                    [[r["site"], f'{r["caller"]} → {r["callee"]}',
                      f'{r["target"]} ({r["targetNamespace"]})' if r["target"] else "unresolved",
                      f'{r["failover"]} ({r["failoverNamespace"]})' if r["failover"] else "none",
                      r["mechanism"]] for r in routes]))
            if p.notes:
                md += ["", "Notes:", ""] + [f"- {n}" for n in p.notes]
        self._md_before = md

        after: list[str] = []
        self._plot: Artifact | None = None
        if simulation is None and simulation_note:
            after += ["", "## Simulation", "", simulation_note + "."]
        if simulation is not None:
            from ..simulate.render import headline

            after += ["", "## Simulation", "",
                      f"{simulation.requests} requests per user zone and scenario, seed {simulation.seed}. "
                      "`optimum` = mean latency ÷ best reachable healthy copy; "
                      "`physical` = mean latency ÷ the same at fibre speed with no overhead.", "",
                      "```", headline(simulation), "```"]
            if simulation_note:
                after += ["", simulation_note + "."]
            svg = _plot_svg(simulation) if plot else None
            if svg is not None:
                self._plot = Artifact(PLOT_PATH, text=svg)
                after += ["", f"![latency per user zone and strategy]({PLOT_PATH})"]
        self._md_after = after

    def finish(self, findings: Sequence[Any]) -> list[Artifact]:
        """``report.json``, ``report.md`` and the plot (when made), with ``findings``."""
        findings_json = [f.as_dict() for f in findings]
        counts = {s: sum(1 for f in findings_json if f["severity"] == s) for s in ("error", "warning", "info")}
        check = _records_member("check", {"counts": counts, "findings": findings_json}, _DEPTH)
        out = [Artifact("report.json", text=_records_object([*self._json_before, check, *self._json_after]))]
        md = [*self._md_before, "", "## Check", "",
              f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notices.", ""]
        if findings_json:
            md.append(_md_table(["severity", "rule", "where", "object", "message"],
                                [[f["severity"], f'{f["rule"]} {f["name"]}', f'{f["file"]}:{f["line"]}',
                                  f["object"], f["message"]] for f in findings_json]))
        if self._plot is not None:
            out.append(self._plot)
        out.append(Artifact("report.md", text="\n".join([*md, *self._md_after])))
        return out


#: report.json is indented down to its records (a zone, a route, a finding: one line each)
_DEPTH = 3
