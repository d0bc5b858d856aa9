"""EW109: CoreDNS replicas may share a node."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_WLZ, m


class CoreDnsNoAntiAffinity(Rule):
    id = "EW109"
    name = "coredns-no-anti-affinity"
    severity = Severity.WARNING
    summary = "CoreDNS needs pod anti-affinity so its Region replicas land on different nodes."
    rationale = (
        f"{SEED_WLZ}: pinning CoreDNS to the Parent Region concentrates it on few nodes; "
        "'highly available workloads should be architected with at least two nodes' "
        "(DESIGN §1: anti-affinity so replicas land on different nodes)."
    )
    fix = "add podAntiAffinity on kubernetes.io/hostname for k8s-app: kube-dns"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if not ctx.has_edge:
            return
        for w in ctx.inventory.workloads_in("kube-system"):
            if w.name != "coredns" or w.kind == "DaemonSet":
                continue
            anti = m(m(w.pod_spec.get("affinity")).get("podAntiAffinity"))
            if not anti.get("requiredDuringSchedulingIgnoredDuringExecution") and not anti.get(
                "preferredDuringSchedulingIgnoredDuringExecution"
            ):
                yield ctx.finding(
                    self,
                    w.obj,
                    "CoreDNS has no pod anti-affinity: both replicas may run on one Region node",
                    path=w.pod_path,
                )
