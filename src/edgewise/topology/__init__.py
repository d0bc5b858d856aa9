"""The topology layer: the resolved edge network every later layer asks."""

from .latency import LatencyParams, great_circle_km
from .model import Link, Topology, Zone, build_topology, link_between

__all__ = ["LatencyParams", "Link", "Topology", "Zone", "build_topology", "great_circle_km", "link_between"]
