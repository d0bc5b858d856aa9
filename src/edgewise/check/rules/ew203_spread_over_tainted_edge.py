"""EW203: a zone topology spread whose domains include tainted edge zones."""

from __future__ import annotations

from collections.abc import Iterator

from ...plan.labels import K8S_ZONE_LABEL, LEGACY_ZONE_LABEL, ZONE_LABEL
from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_OP, m, seq

ZONE_KEYS = {K8S_ZONE_LABEL, LEGACY_ZONE_LABEL, ZONE_LABEL}


class SpreadOverTaintedEdge(Rule):
    id = "EW203"
    name = "spread-over-tainted-edge"
    severity = Severity.WARNING
    summary = (
        "A zone topologySpreadConstraint with the default nodeTaintsPolicy counts tainted "
        "edge zones the pod can never use."
    )
    rationale = (
        f"{SEED_OP} recommends Pod Topology Spread Constraints across fault domains; "
        "Kubernetes docs: nodeTaintsPolicy defaults to Ignore, so untolerated tainted "
        "nodes still form domains and DoNotSchedule leaves replicas Pending."
    )
    fix = "set nodeTaintsPolicy: Honor on the constraint (or tolerate/pin explicitly)"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if not ctx.has_edge or not ctx.edge_taints:
            return
        for w in ctx.inventory.workloads():
            for i, c in enumerate(seq(w.pod_spec.get("topologySpreadConstraints"))):
                c = m(c)
                if str(c.get("topologyKey")) not in ZONE_KEYS:
                    continue
                if (
                    c.get("whenUnsatisfiable", "DoNotSchedule") != "DoNotSchedule"
                    or c.get("nodeTaintsPolicy") == "Honor"
                ):
                    continue
                blocked = [z for z in ctx.zones_ignoring_taints(w) if z not in w.zones and ctx.is_edge(z)]
                if blocked:
                    yield ctx.finding(
                        self,
                        w.obj,
                        f"spread over {c.get('topologyKey')} counts tainted edge zones {', '.join(blocked)} as domains",
                        path=(*w.pod_path, "topologySpreadConstraints", i),
                    )
