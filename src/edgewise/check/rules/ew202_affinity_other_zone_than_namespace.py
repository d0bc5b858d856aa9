"""EW202: a workload pinned to a zone other than its namespace's (or its pods' label's) zone."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_LZ

ZONE_LABEL = "edgewise.dev/zone"


class AffinityOtherZoneThanNamespace(Rule):
    id = "EW202"
    name = "affinity-other-zone-than-namespace"
    severity = Severity.ERROR
    summary = "A workload of an edge zone (its namespace's or its pods' label's) runs in another edge zone."
    rationale = (
        f"{SEED_LZ}: the namespace per zone pattern relies on short DNS names resolving "
        "'inside the zone'; a pod of the lax namespace running in las answers lax's "
        "callers from a zone they cannot reach. Where every zone's copies share one "
        "namespace (edgewise's istio backend: <service>-<zone> per zone), the pods' "
        "edgewise.dev/zone label says whose copy they are, and Istio's failoverPriority on "
        "that label ranks a pod labelled lax as lax's own even when it runs in las "
        "(https://istio.io/latest/docs/reference/config/networking/destination-rule/"
        "#LocalityLoadBalancerSetting: failoverPriority matches the labels of the client "
        "and the endpoint)."
    )
    fix = (
        "pin the workload to its namespace's zone (or move it to that zone's namespace); "
        "in a shared namespace, pin it to the zone its edgewise.dev/zone label names"
    )

    def _ns_zones(self, ctx: CheckContext) -> dict[str, str]:
        topo = ctx.topology
        assert topo is not None
        out: dict[str, str] = {}
        for o in ctx.of_kind("Namespace"):
            named = o.labels.get(ZONE_LABEL) or o.annotations.get(ZONE_LABEL)
            if named and topo.has_zone(named):
                out[o.name] = named
        for ns in ctx.inventory.namespaces():
            if ns in out:
                continue
            for z in topo.zones:
                if ns in (z.name, z.slug) or ns.endswith("-" + z.slug):
                    out[ns] = z.name
                    break
        return out

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if ctx.topology is None:
            return
        ns_zone = self._ns_zones(ctx)
        for w in ctx.inventory.workloads():
            want = ns_zone.get(w.namespace)
            owner = f"namespace {w.namespace} belongs to zone {want}"
            if want is None:
                labelled = w.pod_labels.get(ZONE_LABEL, "")
                if not ctx.is_edge(labelled):
                    continue
                want, owner = labelled, f"its pods are labelled {ZONE_LABEL}={labelled} (that zone's copy)"
            if not w.pinned or not w.zones:
                continue
            # Region copies in a zone's namespace are fine (a per-zone Service selects the
            # zone's pods plus the Region's); another edge zone never is
            elsewhere = ctx.edge_zones_of(z for z in w.zones if z != want)
            if elsewhere:
                yield ctx.finding(
                    self,
                    w.obj,
                    f"{owner} but {w.kind} {w.name} runs in {', '.join(w.zones)}",
                    path=w.pod_path,
                )
