"""Outposts with and without outpostIntraVpc on the real data plane
(docs/failover-without-a-mesh.md, "Two Outposts").

Region us-west-2 (two AZs), Local Zone us-west-2-lax-1a, Outposts outpost-1 and
outpost-2; the real controller, kube-proxy per zone, the router dropping what the network
model gives no link and counting what crosses between Outposts. outpost-1's api copy
dies, then the Region's, then both come back (:func:`edgewise.lab.failover.outpost_failover`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from edgewise.lab import Lab
from edgewise.lab.dataplane import missing
from edgewise.spec import ZoneType
from edgewise.topology import Link

#: the data-plane tests run one after another in one worker: each drives kube-proxies and
#: a controller at once, and two side by side starve each other's probers on two cores
pytestmark = pytest.mark.xdist_group("dataplane")

ZONE = "outpost-1"
#: (outpostIntraVpc, measurements by step, simulate's predictions, the topology)
Run = tuple[bool, dict[str, Any], dict[str, float], Any]


@pytest.fixture(scope="module", params=[True, False], ids=["intra-vpc", "isolated"])
def outposts(request: pytest.FixtureRequest, lab: Lab) -> Iterator[Run]:
    why = missing()
    if why:
        pytest.skip(f"data-plane tests need real network namespaces: {why}")
    from edgewise.lab.failover import outpost_failover, outpost_predictions, outposts_spec, remove, setup

    intra: bool = request.param
    try:
        with setup(lab, text=outposts_spec(intra)) as st:
            runs = {m.name: m for m in outpost_failover(st, ZONE, seconds=1.0)}
            yield intra, runs, outpost_predictions(intra, ZONE, requests=500), st.topology
    finally:
        remove(lab)


def test_the_network_model_links_outposts_only_with_intra_vpc(outposts: Run) -> None:
    intra, _, _, topology = outposts
    assert topology.link(ZONE, "outpost-2") == (Link.LOCAL_GATEWAY if intra else Link.NONE)
    assert topology.link(ZONE, "us-west-2-lax-1a") == Link.NONE
    assert topology.zone(ZONE).kind is ZoneType.OUTPOST


def test_outpost_copy_down_goes_to_the_region_first(outposts: Run) -> None:
    _, runs, predicted, _ = outposts
    m = runs["outpost-down"]
    assert m.requests >= 5, m.as_json()
    assert m.success_rate == 1.0 == predicted["outpost-down"], m.as_json()
    assert set(m.served_by) <= {"us-west-2a", "us-west-2b"} and m.served_by, m.as_json()
    # the other Outpost is reachable with intra-VPC, but the Region is the model's first tier
    assert m.outpost_packets == 0 and m.sibling_packets == 0, m.as_json()


def test_outpost_and_region_down(outposts: Run) -> None:
    intra, runs, predicted, _ = outposts
    m = runs["outpost-and-region-down"]
    assert m.requests >= 5, m.as_json()
    assert m.success_rate == predicted["outpost-and-region-down"], (m.as_json(), predicted)
    if intra:  # over the local gateways to the other Outpost, and nowhere else
        assert m.success_rate == 1.0 and set(m.served_by) == {"outpost-2"}, m.as_json()
        assert m.outpost_packets > 0 and m.sibling_packets == 0, m.as_json()
    else:  # isolated: no endpoint at all, and not one packet toward the other Outpost
        assert m.success_rate == 0.0 and not m.served_by, m.as_json()
        assert m.outpost_packets == 0 and m.sibling_packets == 0, m.as_json()


def test_traffic_returns_to_the_region_then_to_the_outpost(outposts: Run) -> None:
    _, runs, _, _ = outposts
    back = runs["region-back"]
    assert back.success_rate == 1.0 and set(back.served_by) <= {"us-west-2a", "us-west-2b"}, back.as_json()
    assert back.outpost_packets == 0, back.as_json()  # tier 1 again: nothing to the other Outpost
    home = runs["outpost-back"]
    assert home.success_rate == 1.0 and set(home.served_by) == {ZONE}, home.as_json()


def test_never_a_packet_toward_the_local_zone(outposts: Run) -> None:
    """Over the whole run, switches included: the Local Zone is never tried."""
    intra, runs, _, _ = outposts
    whole = runs["outpost-whole-run"]
    assert whole.requests >= 20, whole.as_json()
    assert whole.sibling_packets == 0, whole.as_json()  # isolated Outposts: the other Outpost counts here too
    assert "us-west-2-lax-1a" not in whole.served_by
    if not intra:
        assert "outpost-2" not in whole.served_by
