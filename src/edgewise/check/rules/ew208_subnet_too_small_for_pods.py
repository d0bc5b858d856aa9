"""EW208: pods confined to some zones need more IP addresses than those zones' subnets hold."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from fractions import Fraction

from ...k8s.inventory import Workload
from ..model import CheckContext, Finding, Rule, Severity
from ._capacity import shortfalls

#: addresses AWS keeps in every subnet: network, VPC router, DNS, future use, broadcast
AWS_RESERVED = 5


class SubnetTooSmallForPods(Rule):
    id = "EW208"
    name = "subnet-too-small-for-pods"
    severity = Severity.ERROR
    summary = "Pods confined to some zones need more IP addresses than those zones' node subnets hold."
    rationale = (
        "With the Amazon VPC CNI plugin (EKS's default) every pod that does not use the "
        "host network gets a secondary IP address of its node's subnet "
        "(https://docs.aws.amazon.com/eks/latest/best-practices/vpc-cni.html), and a node "
        "takes one more for its primary interface; AWS keeps 5 addresses of every subnet "
        "(https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html). A pod that "
        "gets no address stays in ContainerCreating ('failed to assign an IP address to "
        "container'). Each edge zone has one node subnet, and with many zones the VPC's "
        "/16 leaves small ones (at 1,000 edge zones only /27: 27 addresses). The rule adds "
        "up, for every set of zones some workload is confined to, the pods that can run "
        "nowhere else (replicas; DaemonSets once per node) and the nodes at their maximum "
        "size, against the usable addresses of those zones' subnets. The CNI's warm pool "
        "(by default a spare ENI's addresses per node) takes more, so this is a lower "
        "bound: a finding is certain, no finding does not prove the subnet suffices."
    )
    fix = (
        "give the zones larger subnets (a smaller vpc.subnetPrefixLength, or fewer zones per VPC), "
        "lower the replicas, or let the workloads run in more zones"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        topo = ctx.topology
        if topo is None or ctx.topology_inferred or not ctx.inventory.nodes:
            return
        have: dict[str, Fraction | None] = {}
        for z in topo.zones:
            ng = z.node_group
            if z.subnet_cidr is None or ng is None:
                have[z.name] = None  # an imported subnet: its size is not known here
                continue
            usable = ipaddress.ip_network(z.subnet_cidr, strict=False).num_addresses - AWS_RESERVED
            have[z.name] = Fraction(usable - ng.max_size)

        def per_pod(w: Workload) -> Fraction:
            return Fraction(0) if w.pod_spec.get("hostNetwork") is True else Fraction(1)

        for short in shortfalls(ctx, have, per_pod):
            pods, w = short.members[0]
            subnets = ", ".join(
                f"{z} {zone.subnet_cidr} ({zone.node_group.max_size} node(s) at max size)"
                for z in sorted(short.zones)
                if (zone := topo.zone(z)).node_group is not None
            )
            yield ctx.finding(
                self,
                w.obj,
                f"pods that can run only in {', '.join(sorted(short.zones))} need {short.need} IP addresses, "
                f"but those zones' subnets have {short.have} left for pods ({subnets}; AWS keeps "
                f"{AWS_RESERVED} per subnet): at least {short.need - short.have} pod(s) get no address "
                f"(largest: {w.kind} {w.namespace}/{w.name}, {pods} pod(s){short.others})",
                path=w.pod_path,
            )
