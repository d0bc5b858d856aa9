"""Stable names for everything the application plan creates.

Names are derived only from the spec (application, service and zone names), never from
ordering or time, so a zone added to the topology leaves every other name unchanged and
two runs give the same bytes. The names the spec itself must keep apart (DNS labels, a
zone's copy ``<svc>-<zone slug>``) are defined in :mod:`edgewise.spec.names`, which spec
validation shares.
"""

from __future__ import annotations

from ...spec.names import dns_label, trim, zone_copy_name
from ...topology import Topology, Zone

__all__ = [
    "REGION_SITE",
    "alb_name",
    "app_namespace",
    "consul_name",
    "dns_label",
    "label_value",
    "namespace",
    "public_subnet_name",
    "region_namespace",
    "serves_label",
    "subnet_name",
    "zone_namespace",
    "zone_service_name",
]

#: the key of the Region "site" in summaries (edge sites are keyed by zone name)
REGION_SITE = "region"


def label_value(value: str) -> str:
    """A Kubernetes label value (at most 63 characters)."""
    return trim(value, 63)


def namespace(app: str, part: str) -> str:
    return dns_label(f"{app}-{part}")


def zone_namespace(app: str, zone: Zone) -> str:
    """``<app>-<zone.slug>``: the namespace of the app's copy in an edge zone."""
    return namespace(app, zone.slug)


def region_namespace(app: str) -> str:
    """``<app>-region``: the one namespace of the app's Region copies (all Region AZs)."""
    return namespace(app, REGION_SITE)


def app_namespace(app: str) -> str:
    """``<app>``: the one namespace of every copy of an application (routing ``istio``)."""
    return dns_label(app)


def zone_service_name(service: str, zone: Zone | None) -> str:
    """``<svc>-<zone.slug>`` for an edge copy, ``<svc>`` in the Region.

    Where every copy shares one namespace (Consul CE's one Consul namespace, the ``istio``
    backend's one Kubernetes namespace), per-zone copies need their own names; the Region
    copy keeps the plain name.
    """
    return zone_copy_name(service, zone.slug if zone is not None else None)


def consul_name(service: str, zone: Zone | None) -> str:
    """Consul CE service name: every zone's resolver fails over to the plain Region name."""
    return zone_service_name(service, zone)


def serves_label(zone: Zone) -> str:
    """``edgewise.dev/serves-<zone.slug>``: on the zone's own pods and on the Region pods
    that back the zone's host (routing ``istio``); the zone's Service selects it."""
    return "edgewise.dev/" + dns_label(f"serves-{zone.slug}")


def subnet_name(topology: Topology, zone: Zone) -> str:
    """How an ALB names an edge zone's subnet: its ID if the spec gives one, else its Name tag.

    The subnet ID is unknown at plan time when edgewise creates the VPC, and the AWS Load
    Balancer Controller accepts a subnet's ``Name`` tag in ``alb.ingress.kubernetes.io/subnets``;
    the cluster plan tags each zone subnet ``<topology>-<zone.slug>``.
    """
    return zone.subnet_id or f"{topology.name}-{zone.slug}"


def public_subnet_name(topology: Topology, zone: str) -> str:
    """Name tag of the public subnet of Region AZ or Local Zone ``zone`` (``<topology>-public-<zone>``)."""
    return f"{topology.name}-public-{zone}"


def alb_name(app: str, site: str) -> str:
    """ALB name (``load-balancer-name`` annotation): at most 32 characters, stable per site."""
    return dns_label(f"{app}-{site}", 32)
