"""EW207: pods that can run only in some zones request more CPU than those zones' node groups have."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from fractions import Fraction

from ...catalog.instances import instance_vcpus
from ...k8s.inventory import Workload
from ...k8s.resources import pod_request
from ..model import CheckContext, Finding, Rule, Severity


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
        capacity: dict[str, Fraction | None] = {}
        for z in topo.zones:
            ng = z.node_group
            vcpus = instance_vcpus(ng.instance_type) if ng is not None else None
            capacity[z.name] = None if ng is None or vcpus is None else Fraction(vcpus * ng.max_size)
        demand: dict[frozenset[str], Fraction] = defaultdict(Fraction)
        members: dict[frozenset[str], list[tuple[Fraction, Workload]]] = defaultdict(list)
        for w in ctx.inventory.workloads():
            if not w.zones or w.replicas <= 0 or w.pod_spec.get("nodeName"):
                continue
            cpu = pod_request(w.pod_spec, "cpu")
            if cpu <= 0:
                continue
            if w.kind == "DaemonSet":  # one pod on every node of every zone it runs in
                for zone in w.zones:
                    z = topo.zone(zone)
                    if z.node_group is not None:
                        key = frozenset((zone,))
                        demand[key] += cpu * z.node_group.max_size
                continue
            key = frozenset(w.zones)
            demand[key] += cpu * w.replicas
            members[key].append((cpu * w.replicas, w))
        known = {k: v for k, v in demand.items() if all(capacity.get(z) is not None for z in k)}
        singles = {next(iter(k)): v for k, v in known.items() if len(k) == 1}
        for zones, own in sorted(known.items(), key=lambda kv: sorted(kv[0])):
            if not members.get(zones):
                continue  # DaemonSets alone: no workload to point at
            if len(zones) == 1:
                total = own
            else:  # every pod confined to a subset of these zones competes for them too
                total = sum((v for k, v in known.items() if k <= zones and len(k) > 1), Fraction(0))
                total += sum((singles.get(z, Fraction(0)) for z in zones), Fraction(0))
            have = sum((capacity[z] or Fraction(0) for z in zones), Fraction(0))
            if total <= have:
                continue
            biggest = sorted(members[zones], key=lambda m: (-m[0], m[1].namespace, m[1].name))
            share, w = biggest[0]
            groups = ", ".join(
                f"{z} {topo.zone(z).node_group.max_size} x {topo.zone(z).node_group.instance_type}"  # type: ignore[union-attr]
                for z in sorted(zones)
            )
            others = f" and {len(biggest) - 1} other workload(s) confined there" if len(biggest) > 1 else ""
            yield ctx.finding(
                self,
                w.obj,
                f"pods that can run only in {', '.join(sorted(zones))} request {_cpu(total)} CPU, "
                f"but those zones' node groups have at most {_cpu(have)} vCPUs ({groups} at max size): "
                f"at least {_cpu(total - have)} CPU of pods stay Pending (largest: {w.kind} "
                f"{w.namespace}/{w.name}, {_cpu(share)} CPU{others})",
                path=w.pod_path,
            )


def _cpu(v: Fraction) -> str:
    """CPU in cores, to the millicore (rounded up): ``103.6``, ``0.25``, ``24``."""
    milli = -(-v * 1000 // 1)
    whole, frac = divmod(milli, 1000)
    return f"{whole}.{frac:03d}".rstrip("0") if frac else str(whole)
