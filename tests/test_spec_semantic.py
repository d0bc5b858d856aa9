"""Semantic checks must not reject legitimate specs (the bad corpus covers the rejections)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgewise.errors import InputError
from edgewise.spec import Failover, Placement, ZoneType, load_spec
from edgewise.spec.semantic import resolve_zone_type
from edgewise.topology import Topology as Net
from edgewise.topology import build_topology

HEAD = """apiVersion: edgewise.dev/v1alpha1
kind: Topology
metadata: {name: t}
spec:
  region: us-east-1
"""

THREE_ZONES = "  zones: [{name: us-east-1a}, {name: us-east-1b}, {name: us-east-1-wl1-bos-wlz-1}]\n"


def load(tmp_path: Path, text: str) -> Net:
    f = tmp_path / "spec.yaml"
    f.write_text(text)
    return build_topology(load_spec(f))


def test_zones_outside_the_catalog_with_a_type(tmp_path: Path) -> None:
    t = load(tmp_path, HEAD + """  zones:
    - {name: us-east-1a}
    - {name: us-east-1g, type: availability-zone}
    - {name: us-east-1-xyz-1a, type: local, location: {lat: 40.0, lon: -75.0}, metro: Xyz}
    - {name: us-east-1-wl1-xyz-wlz-1, type: wavelength}
""")
    assert [z.kind for z in t.zones] == [ZoneType.AVAILABILITY_ZONE, ZoneType.AVAILABILITY_ZONE,
                                         ZoneType.LOCAL, ZoneType.WAVELENGTH]
    lz, wlz = t.zone("us-east-1-xyz-1a"), t.zone("us-east-1-wl1-xyz-wlz-1")
    assert (lz.group, lz.metro, lz.lat, lz.location_known) == ("us-east-1-xyz-1", "Xyz", 40.0, True)
    assert wlz.group == "us-east-1-wl1" and wlz.network_border_group == wlz.name
    assert not wlz.location_known  # placed at the Region until told otherwise


def test_existing_vpc_with_subnet_ids(tmp_path: Path) -> None:
    t = load(tmp_path, HEAD + """  vpc: {id: vpc-0123456789abcdef0}
  zones:
    - {name: us-east-1a, subnet: {id: subnet-0123456789abcdef0}}
    - {name: us-east-1b, subnet: {id: subnet-0123456789abcdef1}}
""")
    assert (t.vpc_id, t.vpc_cidr, t.public_subnets) == ("vpc-0123456789abcdef0", None, ())
    assert [z.subnet_id for z in t.zones] == [
        "subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    assert all(z.subnet_cidr is None for z in t.zones)


def test_outpost_anchored_to_an_az_given_with_a_type(tmp_path: Path) -> None:
    t = load(tmp_path, HEAD + """  zones:
    - {name: us-east-1a}
    - {name: us-east-1g, type: availability-zone}
    - name: rack-1
      type: outpost
      outpostArn: arn:aws-us-gov:outposts:us-east-1:111122223333:outpost/op-0123456789abcdef0
      parentZone: us-east-1g
      nodeGroup: {instanceType: m5.xlarge, desired: 1, volumeType: gp2}
""")
    rack = t.zone("rack-1")
    assert (rack.kind, rack.k8s_zone, rack.volume_type) == (ZoneType.OUTPOST, "us-east-1g", "gp2")


def test_region_only_application_on_a_region_only_topology(tmp_path: Path) -> None:
    f = tmp_path / "spec.yaml"
    f.write_text(HEAD + """  zones: [{name: us-east-1a}, {name: us-east-1b}]
---
apiVersion: edgewise.dev/v1alpha1
kind: Application
metadata: {name: app}
spec:
  ingress: none
  services:
    - {name: api, image: nginx, port: 80, placement: region}
""")
    spec = load_spec(f)
    ((app, _),) = spec.applications
    svc = app.spec.services[0]
    assert (svc.placement, svc.effective_failover, svc.has_edge_copies) == (
        Placement.REGION, Failover.NONE, False)


def test_defaults(tmp_path: Path) -> None:
    t = load(tmp_path, HEAD + THREE_ZONES)
    assert t.kubernetes_version == "1.31" and t.vpc_cidr == "10.0.0.0/16"
    assert not t.public_endpoint and t.private_endpoint
    wlz = t.zone("us-east-1-wl1-bos-wlz-1")
    assert wlz.volume_type == "gp2" and t.zone("us-east-1a").volume_type == "gp3"
    assert wlz.carrier_ip is True  # Carrier IPs unless told otherwise: the only way to the internet
    assert wlz.carrier == "Verizon"


def test_carrier_ip_on_with_either_endpoint(tmp_path: Path) -> None:
    t = load(tmp_path, HEAD.replace("spec:\n", "spec:\n  endpointAccess: public-and-private\n")
             + THREE_ZONES)
    assert t.zone("us-east-1-wl1-bos-wlz-1").carrier_ip is True
    assert t.public_endpoint and t.private_endpoint
    off = load(tmp_path, HEAD + THREE_ZONES.replace("wlz-1}", "wlz-1, carrierIp: false}"))
    assert off.zone("us-east-1-wl1-bos-wlz-1").carrier_ip is False
    assert off.needs_endpoints and off.private_wavelength


def test_unknown_zone_is_reported_once_without_a_cascade(tmp_path: Path) -> None:
    """An unknown zone must not also trigger 'fewer than two AZs' (its type is unknown)."""
    f = tmp_path / "spec.yaml"
    f.write_text(HEAD + "  zones: [{name: us-east-1a}, {name: us-east-1zz}]\n")
    with pytest.raises(InputError) as info:
        load_spec(f)
    assert [p.field for p in info.value.problems] == ["spec.zones[1].name"]


def test_resolve_zone_type() -> None:
    assert resolve_zone_type("us-east-1-nyc-1a", None) is ZoneType.LOCAL
    assert resolve_zone_type("anything", ZoneType.OUTPOST) is ZoneType.OUTPOST
    assert resolve_zone_type("rack-1", None) is None


def test_zone_slugs_are_short_and_unique(tmp_path: Path) -> None:
    t = load(tmp_path, HEAD + """  zones:
    - {name: us-east-1a}
    - {name: us-east-1b}
    - {name: us-east-1-nyc-1a}
    - {name: us-east-1-wl1-nyc-wlz-1}
""")
    assert [z.slug for z in t.zones] == ["az-a", "az-b", "nyc-1a", "wl1-nyc-wlz-1"]
