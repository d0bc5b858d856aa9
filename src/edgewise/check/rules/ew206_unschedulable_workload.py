"""EW206: a workload no node of the topology can run (it stays Pending)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ...k8s.inventory import why_not
from ...plan.labels import K8S_ZONE_LABEL, LEGACY_ZONE_LABEL, ZONE_LABEL
from ..model import CheckContext, Finding, Rule, Severity
from ._common import describe_reasons, m, seq

ZONE_KEYS = frozenset({K8S_ZONE_LABEL, LEGACY_ZONE_LABEL, ZONE_LABEL, "topology.ebs.csi.aws.com/zone"})


class UnschedulableWorkload(Rule):
    id = "EW206"
    name = "unschedulable-workload"
    severity = Severity.ERROR
    summary = "A workload can be scheduled in no zone: a selector no node satisfies or a taint it does not tolerate."
    rationale = (
        "kube-scheduler filters nodes with the NodeAffinity plugin (nodeSelector and required "
        "node affinity against node labels) and the TaintToleration plugin (NoSchedule and "
        "NoExecute taints); a pod no node passes stays Pending "
        "(https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/, "
        "https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/). "
        "A workload that runs nowhere serves no zone, and every routing rule would silently "
        "skip it."
    )
    fix = "tolerate the taint or correct the selector so that the zones meant for it match"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        nodes = ctx.inventory.nodes
        if not nodes:
            return
        for w in ctx.inventory.workloads():
            if w.zones or w.replicas == 0 or w.kind == "DaemonSet" or w.pod_spec.get("nodeName"):
                # a DaemonSet matching no node is a normal arch/OS variant; nodeName skips the scheduler
                continue
            if ctx.topology_inferred and _names_unknown_zone(ctx, w.pod_spec):
                continue  # the inferred topology holds only catalog zones: an Outpost may be missing
            by_zone: dict[str, list[str]] = {}
            for n in nodes:
                reasons = why_not(w.pod_spec, n.labels, n.taints)
                if n.zone not in by_zone or len(reasons) < len(by_zone[n.zone]):
                    by_zone[n.zone] = reasons
            yield ctx.finding(
                self,
                w.obj,
                f"{w.kind} {w.name} can be scheduled in no zone of topology "
                f"{ctx.topology.name if ctx.topology else ''}: {describe_reasons(by_zone)}",
                path=w.pod_path,
            )


def _names_unknown_zone(ctx: CheckContext, pod_spec: Mapping[str, Any]) -> bool:
    """Whether the pod asks for a zone (by a zone label) the topology does not have."""
    known = {n for z in (ctx.topology.zones if ctx.topology else ()) for n in (z.name, z.k8s_zone)}
    wanted = [str(v) for k, v in m(pod_spec.get("nodeSelector")).items() if k in ZONE_KEYS]
    required = m(
        m(m(pod_spec.get("affinity")).get("nodeAffinity")).get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    for term in seq(required.get("nodeSelectorTerms")):
        for e in seq(m(term).get("matchExpressions")):
            if m(e).get("key") in ZONE_KEYS and m(e).get("operator") == "In":
                wanted += [str(v) for v in seq(m(e).get("values"))]
    return any(v not in known for v in wanted)
