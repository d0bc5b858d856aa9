"""Which taints the nodes carry: decided from the evidence in the inputs, never assumed.

``check`` mostly reads manifests edgewise did not write, for clusters edgewise did not
build. Assuming edgewise's edge taint there makes every untolerating workload "unable to
run" at the edge, so its hazards vanish. The taints are decided, in this order:

1. an eksctl ClusterConfig among the inputs: its node groups' taints, zone by zone
   (the nodes are what it says they are);
2. otherwise the manifests themselves: a toleration of edgewise's edge taint means they
   were written for an edgewise cluster, whose edge nodes carry it;
3. otherwise no edge taint.

The taints a topology's node groups declare (``nodeGroup.taints``) always apply, and
``--untainted-edge`` only removes edgewise's own edge taint. The decision is stated in
the report's notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..plan.labels import EDGE_TAINT_KEY, ZONE_LABEL
from ..topology import Topology

__all__ = ["TaintAssumption", "decide_taints", "eksctl_group_zones", "eksctl_subnet_zones", "eksctl_taints"]


def _m(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _l(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


@dataclass(frozen=True)
class TaintAssumption:
    edge_taint: bool  # edgewise's edge taint on every edge zone's nodes
    zone_taints: Mapping[str, tuple[Mapping[str, str], ...]] = field(default_factory=dict)  # from eksctl
    reason: str = ""

    @property
    def note(self) -> str:
        if self.zone_taints:
            tainted = sorted(z for z, ts in self.zone_taints.items() if ts)
            head = "node taints as in the eksctl config: " + (
                ", ".join(f"{z}: {'/'.join(sorted({t.get('key', '') for t in self.zone_taints[z]}))}" for z in tainted)
                or "no node group tainted"
            )
        elif self.edge_taint:
            head = f"edge nodes assumed tainted {EDGE_TAINT_KEY}"
        else:
            head = "edge nodes assumed untainted"
        return f"{head} ({self.reason})"


def eksctl_subnet_zones(config: Mapping[str, Any]) -> dict[str, str]:
    """The zone of each subnet an eksctl config names (``vpc.subnets``), by its name."""
    subnets = _m(_m(config.get("vpc")).get("subnets"))
    by_name: dict[str, str] = {}
    for kind in ("private", "public"):
        for key, sub in _m(subnets.get(kind)).items():
            by_name[str(key)] = str(_m(sub).get("az") or key)
    return by_name


def eksctl_group_zones(config: Mapping[str, Any], group: Mapping[str, Any], topology: Topology | None, *,
                       subnet_zones: Mapping[str, str] | None = None) -> list[str]:
    """Zones an eksctl node group places nodes in (AZs, Local Zones, subnets, Outpost ARN).
    ``subnet_zones``: :func:`eksctl_subnet_zones` of ``config``, when the caller has it
    (a config of 200 zones names ~400 subnets; read once, not once per node group)."""
    by_name = subnet_zones if subnet_zones is not None else eksctl_subnet_zones(config)
    zones = [str(z) for z in _l(group.get("availabilityZones"))]
    zones += [str(z) for z in _l(group.get("localZones"))]
    zones += [by_name.get(str(s), str(s)) for s in _l(group.get("subnets"))]
    arn = group.get("outpostARN")
    if arn and topology is not None:
        zones += [z.name for z in topology.zones if z.outpost_arn == arn]
    labelled = _m(group.get("labels")).get(ZONE_LABEL)
    if labelled:
        zones.append(str(labelled))
    return list(dict.fromkeys(zones))


def eksctl_taints(group: Mapping[str, Any]) -> list[dict[str, str]]:
    """A node group's taints: the list form ``[{key, value, effect}]`` or the older map
    form ``{key: "value:effect"}`` (https://eksctl.io/usage/nodegroup-taints/)."""
    raw = group.get("taints")
    out: list[dict[str, str]] = []
    if isinstance(raw, Mapping):
        for k, v in raw.items():
            value, sep, effect = str(v or "").partition(":")
            out.append({"key": str(k), "value": value, "effect": effect if sep else "NoSchedule"})
    for t in _l(raw):
        t = _m(t)
        if t.get("key"):
            out.append({"key": str(t["key"]), "value": str(t.get("value") or ""), "effect": str(t.get("effect") or "")})
    return out


def _tolerates_edge_taint(pod_spec: Mapping[str, Any]) -> bool:
    return any(str(_m(t).get("key") or "") == EDGE_TAINT_KEY for t in _l(pod_spec.get("tolerations")))


def _pod_specs(body: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    if body.get("kind") == "List":
        for item in _l(body.get("items")):
            yield from _pod_specs(_m(item))
        return
    spec = _m(body.get("spec"))
    if body.get("kind") == "Pod":
        yield spec
        return
    tmpl = _m(spec.get("template")) or _m(_m(_m(spec.get("jobTemplate")).get("spec")).get("template"))
    yield _m(tmpl.get("spec"))


def decide_taints(
    objects: Iterable[Mapping[str, Any]], topology: Topology | None, *, untainted_edge: bool = False
) -> TaintAssumption:
    """The taint assumption the evidence in ``objects`` supports (see the module doc)."""
    objs = list(objects)
    configs = [
        o for o in objs if o.get("kind") == "ClusterConfig" and str(o.get("apiVersion", "")).startswith("eksctl.io/")
    ]
    if configs:
        zone_taints: dict[str, list[Mapping[str, str]]] = {}
        for cfg in configs:
            subnet_zones = eksctl_subnet_zones(cfg)
            for key in ("nodeGroups", "managedNodeGroups"):
                for g in _l(cfg.get(key)):
                    for z in eksctl_group_zones(cfg, _m(g), topology, subnet_zones=subnet_zones):
                        zone_taints.setdefault(z, []).extend(eksctl_taints(_m(g)))
        if untainted_edge:
            zone_taints = {z: [t for t in ts if t.get("key") != EDGE_TAINT_KEY] for z, ts in zone_taints.items()}
        return TaintAssumption(
            False,
            {z: tuple(ts) for z, ts in zone_taints.items()},
            "read from the eksctl ClusterConfig node groups among the inputs",
        )
    if untainted_edge:
        return TaintAssumption(False, {}, "--untainted-edge; taints a topology node group declares still apply")
    if any(_tolerates_edge_taint(ps) for o in objs for ps in _pod_specs(o)):
        return TaintAssumption(True, {}, f"the manifests tolerate {EDGE_TAINT_KEY}: written for an edgewise cluster")
    return TaintAssumption(
        False,
        {},
        f"no eksctl ClusterConfig among the inputs and no manifest tolerates {EDGE_TAINT_KEY}; "
        "taints a topology node group declares still apply",
    )
