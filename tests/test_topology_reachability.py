"""Reachability truth table: who can talk to whom in the hub-and-spoke edge network.

The expected table below is written by hand from the product rules, not derived from the
code: Region AZs form a full mesh; an edge zone (Local, Wavelength, Outpost) reaches itself
and the parent Region only; Outposts reach each other only with ``outpostIntraVpc``, over
their local gateways.
"""

from __future__ import annotations

import itertools
from functools import cache
from typing import Any

import pytest

from edgewise.errors import InputError
from edgewise.spec import Document, Spec, Topology, ZoneType
from edgewise.spec.semantic import validate_semantics
from edgewise.topology import Link, build_topology
from edgewise.topology import Topology as Net

AZ, LZ, WL, OP = (ZoneType.AVAILABILITY_ZONE, ZoneType.LOCAL, ZoneType.WAVELENGTH,
                  ZoneType.OUTPOST)
KINDS = (AZ, LZ, WL, OP)

#: two zones of every kind, so that "two different zones of one kind" is testable
ZONES: list[dict[str, Any]] = [
    {"name": "us-east-1a"},
    {"name": "us-east-1b"},
    {"name": "us-east-1-nyc-1a"},
    {"name": "us-east-1-bos-1a"},
    {"name": "us-east-1-wl1-bos-wlz-1"},
    {"name": "us-east-1-wl1-nyc-wlz-1"},
    {"name": "rack-1", "type": "outpost", "parentZone": "us-east-1a",
     "outpostArn": "arn:aws:outposts:us-east-1:111122223333:outpost/op-0a1b2c3d4e5f60001",
     "localGatewayId": "lgw-0a1b2c3d4e5f60001", "localGatewayRouteTableId": "lgw-rtb-0a1b2c3d4e5f60001"},
    {"name": "rack-2", "type": "outpost", "parentZone": "us-east-1b",
     "outpostArn": "arn:aws:outposts:us-east-1:111122223333:outpost/op-0a1b2c3d4e5f60002",
     "localGatewayId": "lgw-0a1b2c3d4e5f60002", "localGatewayRouteTableId": "lgw-rtb-0a1b2c3d4e5f60002"},
]


def expected_link(a: ZoneType, b: ZoneType, *, intra_vpc: bool) -> str:
    """The truth table, for two *different* zones of kinds ``a`` and ``b``."""
    pair = {a, b}
    if pair == {AZ}:
        return Link.REGION_MESH
    if AZ in pair:
        return Link.SERVICE_LINK
    if pair == {OP}:
        return Link.LOCAL_GATEWAY if intra_vpc else Link.NONE
    return Link.NONE  # Local/Wavelength/Outpost to another edge zone: never


def make_spec(zones: list[dict[str, Any]], **extra: Any) -> Spec:
    """A validated Spec from plain data, without a file (the document is synthetic)."""
    data = {"apiVersion": "edgewise.dev/v1alpha1", "kind": "Topology",
            "metadata": {"name": "t"},
            "spec": {"region": "us-east-1", "vpc": {"cidr": "10.0.0.0/16"}, "zones": zones,
                     **extra}}
    spec = Spec(topology=Topology.model_validate(data),
                topology_doc=Document("<test>", 0, 1, data), applications=())
    validate_semantics(spec)
    return spec


@cache
def network(intra_vpc: bool) -> Net:
    return build_topology(make_spec(ZONES, outpostIntraVpc=intra_vpc))


def two_of(net: Net, a: ZoneType, b: ZoneType) -> tuple[str, str]:
    """Two different zones of kinds ``a`` and ``b``."""
    za = net.of_kind(a)[0]
    zb = next(z for z in net.of_kind(b) if z.name != za.name)
    return za.name, zb.name


def test_fixture_has_two_zones_of_every_kind() -> None:
    net = network(False)
    assert {k: len(net.of_kind(k)) for k in KINDS} == {k: 2 for k in KINDS}


@pytest.mark.parametrize("intra_vpc", [False, True], ids=["no-intra-vpc", "intra-vpc"])
@pytest.mark.parametrize(("a", "b"), list(itertools.product(KINDS, KINDS)),
                         ids=lambda k: str(k.value))
def test_truth_table(a: ZoneType, b: ZoneType, intra_vpc: bool) -> None:
    net = network(intra_vpc)
    za, zb = two_of(net, a, b)
    want = expected_link(a, b, intra_vpc=intra_vpc)
    assert net.link(za, zb) == want
    assert net.link(zb, za) == want  # symmetric
    assert net.reachable(za, zb) is (want != Link.NONE)
    assert (net.rtt_ms(za, zb) is None) is (want == Link.NONE)


@pytest.mark.parametrize("intra_vpc", [False, True])
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: str(k.value))
def test_same_zone_is_always_reachable(kind: ZoneType, intra_vpc: bool) -> None:
    net = network(intra_vpc)
    for zone in net.of_kind(kind):
        assert net.link(zone.name, zone.name) == Link.SAME_ZONE
        assert net.link(zone, zone.name) == Link.SAME_ZONE  # Zone objects and names mix
        assert net.rtt_ms(zone, zone) == net.params.intra_zone_ms


def test_two_subnets_of_one_zone_are_the_same_zone() -> None:
    """Each Region AZ has a private (zone) subnet and a public subnet: one zone, not two."""
    net = network(False)
    assert len(net.public_subnets) == len(net.region_zones) == 2
    for az_name, public_cidr in net.public_subnets:
        az = net.zone(az_name)
        assert az.subnet_cidr is not None and public_cidr != az.subnet_cidr
        assert net.link(az_name, az.name) == Link.SAME_ZONE
        assert net.rtt_ms(az_name, az.name) == net.params.intra_zone_ms


def test_outpost_is_not_the_same_zone_as_its_parent_az() -> None:
    """An Outpost's subnet lives in its parent AZ (same k8s zone label) but it is a spoke."""
    net = network(True)
    rack = net.zone("rack-1")
    assert rack.k8s_zone == "us-east-1a"
    assert net.link("rack-1", "us-east-1a") == Link.SERVICE_LINK
    assert net.link("rack-1", "us-east-1b") == Link.SERVICE_LINK


def test_every_pair_matches_the_table() -> None:
    for intra in (False, True):
        net = network(intra)
        for za, zb in itertools.product(net.zones, net.zones):
            want = Link.SAME_ZONE if za.name == zb.name else expected_link(
                za.kind, zb.kind, intra_vpc=intra)
            assert net.link(za, zb) == want, (za.name, zb.name, intra)


@pytest.mark.parametrize(("a", "b", "words"), [
    ("us-east-1a", "us-east-1b", "full mesh"),
    ("us-east-1-wl1-bos-wlz-1", "us-east-1a", "service link"),
    ("us-east-1-wl1-bos-wlz-1", "us-east-1-nyc-1a", "only themselves and the parent Region"),
    ("rack-1", "rack-2", "only with outpostIntraVpc"),
    ("us-east-1-nyc-1a", "us-east-1-nyc-1a", "same zone"),
])
def test_explain_gives_the_reason(a: str, b: str, words: str) -> None:
    text = network(False).explain(a, b)
    assert words in text and a in text


def test_explain_local_gateway() -> None:
    assert "local gateways" in network(True).explain("rack-1", "rack-2")


def test_unknown_zone_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="not in topology"):
        network(False).link("us-east-1a", "us-east-1c")


def test_make_spec_runs_semantic_checks() -> None:
    with pytest.raises(InputError, match="at least two Availability Zones"):
        make_spec([{"name": "us-east-1a"}, {"name": "us-east-1-nyc-1a"}])
