"""Edge-failover endpoints: the contract between the plan, the route resolver and the
in-cluster controller (:mod:`edgewise.controller`).

With ``routing: kubernetes`` an edge zone's copy of a service that fails over to the
Region is a Service *without selector*, annotated so the edgewise controller maintains
its EndpointSlice: the zone's own Ready pods; when none is Ready, the Region's Ready
pods; never a pod in a zone the network model says the zone cannot reach. The
annotations name the zone and the pod labels of every copy of the service; the tiers
follow the link between the Service's zone and each pod's zone
(:func:`edgewise.topology.link_between`).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..topology import Link

__all__ = [
    "ENDPOINTS_ANNOTATION",
    "ENDPOINTS_MODE",
    "MANAGED_BY",
    "SELECTOR_ANNOTATION",
    "TIER_SOURCES",
    "ZONE_ANNOTATION",
    "format_selector",
    "parse_selector",
    "tier_of",
]

#: on a Service: "edge-failover" hands its endpoints to the edgewise controller
ENDPOINTS_ANNOTATION = "edgewise.dev/endpoints"
ENDPOINTS_MODE = "edge-failover"
#: on a Service: the pod labels of the service's copies (every zone and the Region)
SELECTOR_ANNOTATION = "edgewise.dev/endpoint-selector"
#: on a Service: the topology zone name (edgewise.dev/zone) whose copy it is
ZONE_ANNOTATION = "edgewise.dev/zone"
#: endpointslice.kubernetes.io/managed-by of the slices the controller writes (a label
#: value: no '/'; Kubernetes' own is endpointslice-controller.k8s.io)
MANAGED_BY = "edgewise-controller.edgewise.dev"

_TIER = {Link.SAME_ZONE: 0, Link.REGION_MESH: 1, Link.SERVICE_LINK: 1, Link.LOCAL_GATEWAY: 2}
#: what each tier is called (EndpointSlice annotation, resolver mechanism)
TIER_SOURCES = ("zone", "region", "outpost")


def tier_of(link: str) -> int | None:
    """Tier of a pod whose zone is ``link`` away from the Service's zone; None: never.

    0 the zone itself; 1 the Region (service link, or the Region mesh for an AZ); 2 a
    sibling Outpost over the local gateways (only with outpostIntraVpc). A sibling Local
    or Wavelength Zone has no link, so no tier.
    """
    return _TIER.get(link)


def parse_selector(text: str) -> tuple[tuple[str, str], ...]:
    """``a=b,c=d`` -> sorted pairs; ValueError on anything else (equality only)."""
    pairs: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or "!" in key or "=" in value:
            raise ValueError(f"{part!r} is not key=value (only equality selectors are supported)")
        pairs[key.strip()] = value.strip()
    if not pairs:
        raise ValueError("empty selector: it would select every pod of the cluster")
    return tuple(sorted(pairs.items()))


def format_selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
