"""The node labels and taints edgewise puts on every node group: the contract between
the cluster plan (which sets them), the application plan (which selects/tolerates them)
and check (which reads them to infer where a workload can run).
"""

from __future__ import annotations

from ..spec import ZoneType
from ..topology import Zone

__all__ = [
    "EDGE_TAINT_EFFECT",
    "EDGE_TAINT_KEY",
    "EDGE_TAINT_VALUE",
    "K8S_ZONE_LABEL",
    "LEGACY_ZONE_LABEL",
    "REGION_NODE_LABEL",
    "ROLE_LABEL",
    "ZONE_LABEL",
    "ZONE_TYPE_LABEL",
    "node_labels",
    "node_taints",
]

#: set by AWS on every node (for Outposts: the parent AZ)
K8S_ZONE_LABEL = "topology.kubernetes.io/zone"
LEGACY_ZONE_LABEL = "failure-domain.beta.kubernetes.io/zone"
#: edgewise's own zone label: the spec's zone name (tells Outposts apart)
ZONE_LABEL = "edgewise.dev/zone"
#: availability-zone | local | wavelength | outpost
ZONE_TYPE_LABEL = "edgewise.dev/zone-type"
#: region | edge
ROLE_LABEL = "edgewise.dev/role"
#: "true" on Region nodes only; CoreDNS is pinned to it (seed 001: parentregion.resources)
REGION_NODE_LABEL = "edgewise.dev/parent-region"
#: taint on every edge node so only edge-aware workloads land there
EDGE_TAINT_KEY = "edgewise.dev/edge"
EDGE_TAINT_VALUE = "true"
EDGE_TAINT_EFFECT = "NoSchedule"


def node_labels(zone: Zone) -> dict[str, str]:
    """Labels the cluster plan puts on ``zone``'s nodes (besides the AWS ones)."""
    labels = {
        ROLE_LABEL: "edge" if zone.is_edge else "region",
        ZONE_LABEL: zone.name,
        ZONE_TYPE_LABEL: zone.kind.value,
    }
    if not zone.is_edge:
        labels[REGION_NODE_LABEL] = "true"
    if zone.node_group is not None:
        labels.update(zone.node_group.labels)
    return dict(sorted(labels.items()))


def node_taints(zone: Zone) -> list[dict[str, str]]:
    """Taints on ``zone``'s nodes, as Kubernetes taint dicts (key, value, effect)."""
    taints: list[dict[str, str]] = []
    if zone.is_edge:
        taints.append({"key": EDGE_TAINT_KEY, "value": EDGE_TAINT_VALUE, "effect": EDGE_TAINT_EFFECT})
    if zone.node_group is not None:
        taints.extend({"key": t.key, "value": t.value, "effect": t.effect} for t in zone.node_group.taints)
    return taints


def is_outpost(zone: Zone) -> bool:
    return zone.kind is ZoneType.OUTPOST
