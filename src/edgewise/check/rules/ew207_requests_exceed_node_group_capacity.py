"""EW207: pods that can run only in some zones request more CPU than those zones' node groups have."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from ...catalog.instances import instance_vcpus
from ...k8s.resources import pod_request
from ..model import CheckContext, Finding, Rule, Severity
from ._capacity import shortfalls


class RequestsExceedNodeGroupCapacity(Rule):
    id = "EW207"
    name = "requests-exceed-node-group-capacity"
    severity = Severity.ERROR
    summary = "Pods that can run only in some zones request more CPU than those zones' node groups can ever have."
    rationale = (
        "kube-scheduler's NodeResourcesFit filter places a pod only on a node whose "
        "allocatable CPU, less the requests of the pods already bound there, covers the "
        "pod's request; a pod no node fits stays Pending with 'Insufficient cpu' "
        "(https://kubernetes.io/docs/concepts/scheduling-eviction/kube-scheduler/#kube-scheduler-implementation, "
        "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"
        "#how-pods-with-resource-requests-are-scheduled). "
        "The rule adds up, for every set of zones some workload is confined to, the CPU "
        "requests of every pod that can run nowhere else (replicas x the pod's effective "
        "request; DaemonSets once per node), and compares them with the vCPUs of those zones' "
        "node groups at their maximum size (the most a cluster autoscaler can add). It "
        "counts vCPUs, not allocatable CPU (the kubelet's reservation makes allocatable "
        "smaller), and ignores packing: a finding means pods will stay Pending whatever "
        "the scheduler does, and no finding does not mean everything fits. Memory is not "
        "compared: an instance type's name does not give it exactly (c5.large 4 GiB, "
        "c5n.large 5.25 GiB). Edge zones are small and the Region's node groups carry what "
        "every edge zone fails over to, so a plan that puts Region copies of many zones' "
        "services there can ask the Region for several times its nodes."
    )
    fix = (
        "raise the node groups' max (or instance type) in the topology, lower the replicas "
        "or CPU requests, or let the workloads run in more zones"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        topo = ctx.topology
        if topo is None or ctx.topology_inferred or not ctx.inventory.nodes:
            return
        # vCPUs of each zone's node group at its maximum size (None: unknown)
        have: dict[str, Fraction | None] = {}
        for z in topo.zones:
            ng = z.node_group
            vcpus = instance_vcpus(ng.instance_type) if ng is not None else None
            have[z.name] = None if ng is None or vcpus is None else Fraction(vcpus * ng.max_size)

        for short in shortfalls(ctx, have, lambda w: pod_request(w.pod_spec, "cpu")):
            share, w = short.members[0]
            groups = ", ".join(
                f"{z} {ng.max_size} x {ng.instance_type}"
                for z in sorted(short.zones)
                if (ng := topo.zone(z).node_group) is not None
            )
            yield ctx.finding(
                self,
                w.obj,
                f"pods that can run only in {', '.join(sorted(short.zones))} request {_cpu(short.need)} CPU, "
                f"but those zones' node groups have at most {_cpu(short.have)} vCPUs ({groups} at max size): "
                f"at least {_cpu(short.need - short.have)} CPU of pods stay Pending (largest: {w.kind} "
                f"{w.namespace}/{w.name}, {_cpu(share)} CPU{short.others})",
                path=w.pod_path,
            )


def _cpu(v: Fraction) -> str:
    """CPU in cores, to the millicore (rounded up): ``103.6``, ``0.25``, ``24``."""
    milli = -(-v * 1000 // 1)
    whole, frac = divmod(milli, 1000)
    return f"{whole}.{frac:03d}".rstrip("0") if frac else str(whole)
