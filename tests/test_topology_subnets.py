"""Subnet allocation: properties (hypothesis) and the examples' allocations.

Properties: no overlap, everything inside the VPC, explicit subnets kept, deterministic,
appending a zone never moves an existing subnet, and "VPC too small" only when the VPC
really has no room.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from edgewise.catalog import load_catalog
from edgewise.errors import InputError
from edgewise.spec import ZoneType, load_spec
from edgewise.topology import build_topology
from edgewise.topology.subnets import SubnetAllocationError, allocate

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

Net = ipaddress.IPv4Network


@st.composite
def layouts(draw: st.DrawFn) -> tuple[str, int, list[str | None], int]:
    """(vpc cidr, subnet prefix, explicit-or-None per zone, public subnet count)."""
    vpc_prefix = draw(st.integers(16, 24))
    base = draw(st.integers(0, (1 << (vpc_prefix - 8)) - 1)) << (32 - vpc_prefix)
    vpc = Net((int(Net("10.0.0.0/8").network_address) + base, vpc_prefix))
    prefix = draw(st.integers(vpc_prefix, min(vpc_prefix + 6, 28)))
    zones = draw(st.integers(1, 10))
    explicit: list[str | None] = []
    chosen: list[Net] = []
    for _ in range(zones):
        if draw(st.booleans()) and draw(st.booleans()):  # about one zone in four pinned
            plen = draw(st.integers(vpc_prefix, 28))
            idx = draw(st.integers(0, (1 << (plen - vpc_prefix)) - 1))
            net = Net((int(vpc.network_address) + (idx << (32 - plen)), plen))
            if not any(net.overlaps(c) for c in chosen):  # semantic checks forbid overlaps
                chosen.append(net)
                explicit.append(str(net))
                continue
        explicit.append(None)
    public = draw(st.integers(0, 3))
    return str(vpc), prefix, explicit, public


def free_blocks(vpc: str, prefix: int, explicit: list[str | None]) -> int:
    """Blocks of /prefix in the VPC that overlap no explicit subnet (an independent count)."""
    v = Net(vpc)
    used = [Net(c) for c in explicit if c is not None]
    return sum(1 for b in v.subnets(new_prefix=prefix) if not any(b.overlaps(u) for u in used))


@settings(max_examples=150, deadline=None)
@given(layouts())
def test_allocation_properties(layout: tuple[str, int, list[str | None], int]) -> None:
    vpc, prefix, explicit, public_count = layout
    need = sum(c is None for c in explicit) + public_count
    try:
        primary, public = allocate(vpc, prefix, explicit, public_count)
    except SubnetAllocationError:
        assert free_blocks(vpc, prefix, explicit) < need, "VPC too small, but it had room"
        return
    assert free_blocks(vpc, prefix, explicit) >= need
    assert len(primary) == len(explicit) and len(public) == public_count
    nets = [Net(c) for c in (*primary, *public)]
    v = Net(vpc)
    assert all(n.subnet_of(v) for n in nets)
    for i, a in enumerate(nets):
        for b in nets[i + 1:]:
            assert not a.overlaps(b), (a, b)
    for given_cidr, got in zip(explicit, primary, strict=True):
        if given_cidr is not None:
            assert got == given_cidr
        else:
            assert Net(got).prefixlen == prefix
    # the public subnets are the highest blocks that overlap no zone subnet, top down
    # (an independent reading, block against subnet, of what allocate finds by set look-up)
    zone_nets = [Net(c) for c in primary]
    free_top = [str(b) for b in reversed(list(v.subnets(new_prefix=prefix)))
                if not any(b.overlaps(z) for z in zone_nets)]
    assert public == free_top[:public_count]
    # deterministic
    assert allocate(vpc, prefix, explicit, public_count) == (primary, public)


@settings(max_examples=150, deadline=None)
@given(layouts(), st.booleans())
def test_appending_a_zone_never_moves_existing_subnets(
        layout: tuple[str, int, list[str | None], int], new_az: bool) -> None:
    vpc, prefix, explicit, public_count = layout
    try:
        before = allocate(vpc, prefix, explicit, public_count)
    except SubnetAllocationError:
        return
    try:
        primary, public = allocate(vpc, prefix, [*explicit, None], public_count + int(new_az))
    except SubnetAllocationError:
        return  # no room is reported, never solved by moving existing subnets
    assert primary[:-1] == before[0]
    assert public[:public_count] == before[1]


@settings(max_examples=150, deadline=None)
@given(layouts(), st.integers(0, 4))
def test_local_zone_public_subnets_come_after_the_region_ones(
        layout: tuple[str, int, list[str | None], int], edge_count: int) -> None:
    vpc, prefix, explicit, public_count = layout
    need = sum(c is None for c in explicit) + public_count + edge_count
    try:
        primary, public = allocate(vpc, prefix, explicit, public_count, edge_count)
    except SubnetAllocationError:
        assert free_blocks(vpc, prefix, explicit) < need, "VPC too small, but it had room"
        return
    assert len(public) == public_count + edge_count
    # the Region public subnets (and the zone subnets) are the same with or without them
    assert allocate(vpc, prefix, explicit, public_count) == (primary, public[:public_count])
    nets = [Net(c) for c in (*primary, *public)]
    assert all(n.subnet_of(Net(vpc)) for n in nets)
    assert all(Net(c).prefixlen == prefix for c in public)
    for i, a in enumerate(nets):
        for b in nets[i + 1:]:
            assert not a.overlaps(b), (a, b)
    # a Local Zone added at the end appends a public subnet and moves none
    try:
        more = allocate(vpc, prefix, [*explicit, None], public_count, edge_count + 1)
    except SubnetAllocationError:
        return
    assert more[0][:-1] == primary and more[1][:-1] == public


def test_allocation_starts_low_and_public_subnets_come_from_the_top() -> None:
    primary, public = allocate("10.0.0.0/16", 20, [None, "10.0.16.0/24", None], 2)
    assert primary == ["10.0.0.0/20", "10.0.16.0/24", "10.0.32.0/20"]
    assert public == ["10.0.240.0/20", "10.0.224.0/20"]


def test_prefix_wider_than_vpc_is_clamped() -> None:
    assert allocate("10.0.0.0/24", 20, [None], 0) == (["10.0.0.0/24"], [])
    with pytest.raises(SubnetAllocationError, match="no room"):
        allocate("10.0.0.0/24", 20, [None, None], 0)


# -- through the spec ------------------------------------------------------------------

def test_wavelength_example_allocation() -> None:
    """Golden snippet (reviewed): zone subnets from the bottom, public ones from the top."""
    t = build_topology(load_spec(EXAMPLES / "wavelength"))
    assert [z.subnet_cidr for z in t.zones] == [
        "10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20", "10.0.48.0/20"]
    assert t.public_subnets == (("us-east-1a", "10.0.240.0/20"), ("us-east-1b", "10.0.224.0/20"))


def test_local_zone_public_subnets_in_the_local_zones_example() -> None:
    """Golden snippet (reviewed): Region public subnets unchanged, one public subnet per
    Local Zone below them, disjoint from every other subnet and inside the VPC."""
    t = build_topology(load_spec(EXAMPLES / "local-zones-hashicups"))
    assert [z.subnet_cidr for z in t.zones] == [
        "10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20", "10.0.48.0/20", "10.0.64.0/20"]
    assert t.public_subnets == (("us-west-2a", "10.0.240.0/20"), ("us-west-2b", "10.0.224.0/20"))
    assert [(z.name, z.public_cidr) for z in t.zones] == [
        ("us-west-2a", None), ("us-west-2b", None),
        ("us-west-2-lax-1a", "10.0.208.0/20"), ("us-west-2-las-1a", "10.0.192.0/20"),
        ("us-west-2-phx-2a", "10.0.176.0/20")]
    nets = [Net(c) for c in (*(z.subnet_cidr for z in t.zones), *(c for _, c in t.public_subnets),
                             *(z.public_cidr for z in t.zones if z.public_cidr))]
    assert len(nets) == 5 + 2 + 3
    assert all(n.subnet_of(Net(t.vpc_cidr or "")) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])


def test_only_local_zones_of_a_new_vpc_get_a_public_subnet() -> None:
    for example in ("wavelength", "outposts"):
        assert all(z.public_cidr is None for z in build_topology(load_spec(EXAMPLES / example)).zones)
    mixed = build_topology(load_spec(EXAMPLES.parent / "tests" / "data" / "cluster" / "mixed-public.yaml"))
    assert {z.name for z in mixed.zones if z.public_cidr} == {z.name for z in mixed.of_kind(ZoneType.LOCAL)}
    # a pinned zone subnet inside a top block is skipped, never overlapped
    pinned = [Net(z.subnet_cidr or "") for z in mixed.zones]
    assert all(not Net(z.public_cidr).overlaps(p) for z in mixed.zones if z.public_cidr for p in pinned)
    existing = build_topology(load_spec(EXAMPLES.parent / "tests" / "data" / "cluster" / "existing-vpc.yaml"))
    assert existing.of_kind(ZoneType.LOCAL) and all(z.public_cidr is None for z in existing.zones)


def test_outposts_example_keeps_explicit_subnets() -> None:
    spec = load_spec(EXAMPLES / "outposts")
    t = build_topology(spec)
    for zs, zone in zip(spec.topology.spec.zones, t.zones, strict=True):
        assert zs.subnet is not None and zone.subnet_cidr == zs.subnet.cidr
    assert all(not Net(c).overlaps(Net(z.subnet_cidr or "0.0.0.0/32"))
               for _, c in t.public_subnets for z in t.zones)


def _new_zone(region: str, kind: str, taken: set[str]) -> dict[str, str]:
    if kind == "outpost":
        return {"name": "rack-9", "type": "outpost", "parentZone": f"{region}a",
                "outpostArn": f"arn:aws:outposts:{region}:111122223333:outpost/op-0a1b2c3d4e5f609",
                "localGatewayId": "lgw-0a1b2c3d4e5f60009", "localGatewayRouteTableId": "lgw-rtb-0a1b2c3d4e5f60009"}
    name = next(z.name for z in load_catalog().select(region, kind) if z.name not in taken)
    return {"name": name}


@pytest.mark.parametrize("example", ["wavelength", "local-zones-hashicups", "outposts"])
@pytest.mark.parametrize("kind", ["local", "wavelength", "outpost", "availability-zone"])
def test_adding_a_zone_at_the_end_keeps_every_subnet(example: str, kind: str,
                                                     tmp_path: Path) -> None:
    src = EXAMPLES / example
    before = build_topology(load_spec(src))
    new_zone = _new_zone(before.region, kind, {z.name for z in before.zones})
    for f in sorted(src.glob("*.yaml")):
        docs = list(yaml.safe_load_all(f.read_text()))
        for d in docs:
            if d["kind"] == "Topology":
                d["spec"]["zones"].append(new_zone)
        (tmp_path / f.name).write_text(yaml.safe_dump_all(docs, sort_keys=False))
    after = build_topology(load_spec(tmp_path))
    assert [z.name for z in after.zones] == [*(z.name for z in before.zones), new_zone["name"]]
    assert [z.subnet_cidr for z in after.zones[:-1]] == [z.subnet_cidr for z in before.zones]
    # a new AZ adds a public subnet; the existing ones stay put
    assert after.public_subnets[:len(before.public_subnets)] == before.public_subnets
    assert len(after.public_subnets) == len(before.public_subnets) + (kind == "availability-zone")
    new = Net(after.zones[-1].subnet_cidr or "")
    assert all(not new.overlaps(Net(z.subnet_cidr or "")) for z in before.zones)
    assert all(not new.overlaps(Net(c)) for _, c in after.public_subnets)
    # Local Zone public subnets stay put too, except below a new Region AZ's public subnet
    if kind != "availability-zone":
        assert [z.public_cidr for z in after.zones[:-1]] == [z.public_cidr for z in before.zones]
    assert (after.zones[-1].public_cidr is not None) is (kind == "local" and after.vpc_cidr is not None)
    lz_public = [Net(z.public_cidr) for z in after.zones if z.public_cidr]
    assert all(not new.overlaps(p) for p in lz_public if p != new)


def test_vpc_too_small_is_an_input_error_at_the_vpc_cidr(tmp_path: Path) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text(
        "apiVersion: edgewise.dev/v1alpha1\nkind: Topology\nmetadata: {name: t}\nspec:\n"
        "  region: us-east-1\n  vpc: {cidr: 10.0.0.0/28}\n"
        "  zones: [{name: us-east-1a}, {name: us-east-1b}]\n")
    with pytest.raises(InputError) as info:
        build_topology(load_spec(spec))
    (problem,) = info.value.problems
    assert (problem.line, problem.field) == (6, "spec.vpc.cidr")
    assert "VPC too small" in problem.message


def test_no_room_for_local_zone_public_subnets_is_an_input_error(tmp_path: Path) -> None:
    spec = tmp_path / "t.yaml"
    # /21 in /24 blocks: 8 blocks for 5 zone subnets, 2 Region and 3 Local Zone public subnets
    spec.write_text(
        "apiVersion: edgewise.dev/v1alpha1\nkind: Topology\nmetadata: {name: t}\nspec:\n"
        "  region: us-west-2\n  vpc: {cidr: 10.0.0.0/21, subnetPrefixLength: 24}\n"
        "  zones: [{name: us-west-2a}, {name: us-west-2b}, {name: us-west-2-lax-1a},\n"
        "          {name: us-west-2-las-1a}, {name: us-west-2-phx-2a}]\n")
    with pytest.raises(InputError) as info:
        build_topology(load_spec(spec))
    (problem,) = info.value.problems
    assert (problem.line, problem.field) == (6, "spec.vpc.cidr")
    assert "VPC too small" in problem.message
    assert "no room for 3 public Local Zone subnet(s) of /24" in problem.message
    assert "larger vpc.cidr" in problem.hint


ALLOC_SCRIPT = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from edgewise.spec import load_spec\n"
    "from edgewise.topology import build_topology\n"
    "t = build_topology(load_spec(Path(sys.argv[1])))\n"
    "rows = [[z.name, z.subnet_cidr] for z in t.zones] + [list(p) for p in t.public_subnets]\n"
    "rows += [[z.name, z.public_cidr] for z in t.zones if z.public_cidr]\n"
    "print(json.dumps(rows))\n"
)


def test_allocation_is_stable_across_runs() -> None:
    """Two fresh interpreters with different hash seeds allocate identically."""
    outs = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.run(
            [sys.executable, "-c", ALLOC_SCRIPT, str(EXAMPLES / "local-zones-hashicups")],
            capture_output=True, text=True, env=env, timeout=60, check=True)
        outs.append(json.loads(proc.stdout))
    assert outs[0] == outs[1]
    assert len(outs[0]) == 5 + 2 + 3
