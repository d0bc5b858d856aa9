"""Deterministic subnet allocation inside the VPC CIDR.

Zones without an explicit ``subnet.cidr`` get the lowest free block of
``vpc.subnetPrefixLength`` bits, in spec order, skipping blocks used by explicit subnets.
Region AZs also get a public subnet (NAT gateway, internet-facing Region ALB); those are
allocated from the top of the VPC downwards so that adding an edge zone never moves an
existing subnet. Local Zones get one public subnet each too (their internet-facing ALB:
the zone subnet itself routes via a Region NAT gateway), taken from the top right below
the Region ones, in spec order. Append new zones at the end of spec.zones, or pin
``subnet.cidr``, to keep every existing CIDR stable; the one exception is a new Region
AZ, whose public subnet takes the block below the existing Region ones and so moves the
Local Zone public subnets down by one block.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence

__all__ = ["SubnetAllocationError", "allocate"]


class SubnetAllocationError(ValueError):
    pass


def _blocks(vpc: ipaddress.IPv4Network, prefix: int, *, reverse: bool) -> Iterator[ipaddress.IPv4Network]:
    count = 1 << (prefix - vpc.prefixlen)
    size = 1 << (32 - prefix)
    base = int(vpc.network_address)
    order = range(count - 1, -1, -1) if reverse else range(count)
    for i in order:
        yield ipaddress.IPv4Network((base + i * size, prefix))


def allocate(
    vpc_cidr: str,
    prefix: int,
    explicit: Sequence[str | None],
    public_count: int,
    edge_public_count: int = 0,
) -> tuple[list[str], list[str]]:
    """Return (one CIDR per zone in order, ``public_count + edge_public_count`` public CIDRs).

    ``explicit[i]`` is the zone's own CIDR or None to allocate one. The public CIDRs are
    the Region ones first, then ``edge_public_count`` more (one per Local Zone) below
    them, so the Region public subnets are the same whether or not there are edge ones.
    """
    vpc = ipaddress.IPv4Network(vpc_cidr)
    if prefix < vpc.prefixlen:
        prefix = vpc.prefixlen
    used = [ipaddress.IPv4Network(c) for c in explicit if c is not None]
    need = sum(1 for c in explicit if c is None)
    free_low = (b for b in _blocks(vpc, prefix, reverse=False) if not any(b.overlaps(u) for u in used))
    primary: list[str] = []
    taken: list[ipaddress.IPv4Network] = []
    for cidr in explicit:
        if cidr is not None:
            primary.append(cidr)
            continue
        block = next(free_low, None)
        if block is None:
            raise SubnetAllocationError(
                f"VPC {vpc} has no room for {need} subnets of /{prefix} "
                f"beside {len(used)} explicit subnet(s)"
            )
        taken.append(block)
        primary.append(str(block))
    public: list[str] = []
    # the zone subnets allocated above are blocks of this very size and alignment: one
    # overlaps a candidate only by starting where it starts (a set look-up, so the public
    # subnets cost linear, not zones x public subnets, time); explicit ones may be any size
    taken_starts = {int(b.network_address) for b in taken}
    used_spans = [(int(u.network_address), int(u.broadcast_address)) for u in used]
    for block in _blocks(vpc, prefix, reverse=True):
        if len(public) == public_count + edge_public_count:
            break
        start, end = int(block.network_address), int(block.broadcast_address)
        if start in taken_starts or any(s <= end and start <= e for s, e in used_spans):
            continue
        public.append(str(block))
    if len(public) < public_count:
        raise SubnetAllocationError(
            f"VPC {vpc} has no room for {public_count} public Region subnet(s) of /{prefix} "
            f"beside {len(primary)} zone subnets"
        )
    if len(public) < public_count + edge_public_count:
        raise SubnetAllocationError(
            f"VPC {vpc} has no room for {edge_public_count} public Local Zone subnet(s) of /{prefix} "
            f"(one per Local Zone, for its internet-facing ALB) beside {len(primary)} zone subnets "
            f"and {public_count} public Region subnet(s)"
        )
    return primary, public
