"""What pods confined to some zones ask of those zones, against what the zones have.

Shared by EW207 (CPU against node groups' vCPUs) and EW208 (pod IP addresses against the
zones' subnets). A workload runs only in ``Workload.zones`` (the inventory's placement
model, held to kube-scheduler by the placement differential test); if the pods that can
run nowhere but in a set of zones need more than those zones have, some stay Pending
whatever the scheduler does. Checking each set of zones a workload is confined to, with
every workload confined to a subset of it, is Hall's condition on those sets: necessary,
not sufficient (packing is ignored), so a finding is certain and no finding proves nothing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction

from ...k8s.inventory import Workload
from ..model import CheckContext


@dataclass(frozen=True)
class Shortfall:
    zones: frozenset[str]
    need: Fraction  # what the pods confined to ``zones`` (or a subset) ask for
    have: Fraction  # what the zones have
    members: tuple[tuple[Fraction, Workload], ...]  # workloads confined to exactly ``zones``, largest first

    @property
    def others(self) -> str:
        """", and N other workload(s) confined there" for a finding's message ("" if none)."""
        more = len(self.members) - 1
        return f" and {more} other workload(s) confined there" if more else ""


def shortfalls(
    ctx: CheckContext,
    have: Mapping[str, Fraction | None],
    per_pod: Callable[[Workload], Fraction],
) -> Iterator[Shortfall]:
    """Every set of zones some workload is confined to whose pods need more than ``have``
    gives (None: unknown, the set is not judged). ``per_pod`` is what one pod of a
    workload needs; a DaemonSet runs one on each node of a zone's node group at max size."""
    topo = ctx.topology
    # each workload's need is kept as (numerator, denominator) and a set's needs are added
    # in integers at the end (_exact_sum): adding and multiplying Fractions workload by
    # workload was ~40% of EW207 and EW208 at 200 x 40 (14,000 objects)
    parts: dict[frozenset[str], list[tuple[int, int]]] = defaultdict(list)
    confined: dict[frozenset[str], list[tuple[Fraction, int, Workload]]] = defaultdict(list)
    for w in ctx.inventory.workloads():
        if not w.zones or w.replicas <= 0 or w.pod_spec.get("nodeName"):
            continue
        if w.kind == "DaemonSet":
            for zone in w.zones:
                ng = topo.zone(zone).node_group if topo is not None else None
                each = per_pod(w)
                parts[frozenset((zone,))].append(
                    (each.numerator * (ng.max_size if ng is not None else 0), each.denominator))
            continue
        pod = per_pod(w)
        if pod.numerator <= 0:  # what a pod needs is never negative: none of it needs nothing
            continue
        key = frozenset(w.zones)
        parts[key].append((pod.numerator * w.replicas, pod.denominator))
        confined[key].append((pod, w.replicas, w))
    demand = {k: _exact_sum(v) for k, v in parts.items()}
    known = {k: v for k, v in demand.items() if all(have.get(z) is not None for z in k)}
    singles = {next(iter(k)): v for k, v in known.items() if len(k) == 1}
    for zones, own in sorted(known.items(), key=lambda kv: sorted(kv[0])):
        if not confined.get(zones):
            continue  # DaemonSets alone: no workload to point at
        if len(zones) == 1:
            need = own
        else:  # every pod confined to a subset of these zones competes for them too
            need = sum((v for k, v in known.items() if len(k) > 1 and k <= zones), Fraction(0))
            need += sum((singles.get(z, Fraction(0)) for z in zones), Fraction(0))
        total = sum((have[z] or Fraction(0) for z in zones), Fraction(0))
        if need > total:
            members = [(pod * replicas, w) for pod, replicas, w in confined[zones]]
            ranked = sorted(members, key=lambda m: (-m[0], m[1].namespace, m[1].name))
            yield Shortfall(zones, need, total, tuple(ranked))


def _exact_sum(parts: list[tuple[int, int]]) -> Fraction:
    """The sum of the fractions ``numerator / denominator``, exactly, in integers over
    their least common denominator."""
    den = math.lcm(*{d for _, d in parts}) if parts else 1
    return Fraction(sum(n * (den // d) for n, d in parts), den)
