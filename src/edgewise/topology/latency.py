"""The latency model (DESIGN §3.6).

Modelled round trip between two places::

    rtt = 2 * distance_km * ROUTE_FACTOR / FIBRE_KM_PER_MS + overhead

where ``overhead`` is the per-hop cost of the path (service link, carrier core, ...).
The physical limit is the same with ``ROUTE_FACTOR = 1`` and no overhead. Users sit in
the metro of a zone and reach an entry point through an access network whose latency
depends on the entry zone's type (5G for Wavelength, the internet otherwise).

Every constant is a named, documented field of :class:`LatencyParams`; a topology's
``latencyMs`` overrides the zone-to-Region and users-to-zone figures with measurements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["EARTH_RADIUS_KM", "LatencyParams", "great_circle_km", "path_rtt_ms"]

EARTH_RADIUS_KM = 6371.0088  # IUGG mean Earth radius


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class LatencyParams:
    """Named constants of the latency model, all in milliseconds unless stated."""

    #: speed of light in optical fibre, km per ms (refractive index ~1.5)
    fibre_km_per_ms: float = 200.0
    #: real fibre paths are longer than the great circle; typical terrestrial factor
    route_factor: float = 1.5
    #: round trip between two pods in the same zone (node-to-node, VPC CNI)
    intra_zone_ms: float = 0.3
    #: floor for a round trip between two AZs of one Region (AWS quotes single-digit ms)
    inter_az_ms: float = 1.0
    #: extra cost of crossing a Local Zone/Wavelength service link to the Region
    service_link_ms: float = 2.0
    #: extra cost of an Outpost service link (VPN/Direct Connect to the Region)
    outpost_link_ms: float = 4.0
    #: Outpost to Outpost over the local gateway and the customer network
    outpost_lgw_ms: float = 1.0
    #: users' 5G radio + carrier core to a Wavelength Zone in their metro
    access_5g_ms: float = 8.0
    #: users' last mile over the internet to a Local Zone/Region/Outpost entry point
    access_internet_ms: float = 6.0
    #: extra cost of a 5G user reaching a non-carrier entry point (leaves the carrier core)
    carrier_egress_ms: float = 4.0


def path_rtt_ms(distance_km: float, overhead_ms: float, params: LatencyParams, *, physical: bool) -> float:
    """Modelled (or physical-limit) round-trip time over ``distance_km`` of fibre."""
    if physical:
        return 2.0 * distance_km / params.fibre_km_per_ms
    return 2.0 * distance_km * params.route_factor / params.fibre_km_per_ms + overhead_ms
