"""simulate on the seed's HashiCups example: the baselines send calls to unreachable zones,
what edgewise plans never does, whichever mesh backend it generates."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from edgewise.simulate import SimulationResult, headline, simulate
from edgewise.spec import Routing, Spec, load_spec
from edgewise.topology import Topology, build_topology


@pytest.fixture(scope="module")
def hashicups(examples_dir: Path) -> tuple[Spec, Topology]:
    spec = load_spec(examples_dir / "local-zones-hashicups")
    return spec, build_topology(spec)


def _with_routing(spec: Spec, routing: Routing) -> Spec:
    app, doc = spec.applications[0]
    changed = app.model_copy(update={"spec": app.spec.model_copy(update={"routing": routing})})
    return dataclasses.replace(spec, applications=((changed, doc),))


@pytest.fixture(scope="module")
def baselines(hashicups: tuple[Spec, Topology]) -> SimulationResult:
    spec, topo = hashicups
    return simulate(spec, topo, requests=200, strategies=["flat", "prefer-close", "namespace-per-zone"])


def test_flat_and_prefer_close_send_calls_to_unreachable_zones(baselines: SimulationResult) -> None:
    flat = baselines.strategy("flat")
    assert flat.scenario("steady").metrics.unreachable_rate > 0.05
    prefer = baselines.strategy("prefer-close")
    assert prefer.scenario("steady").metrics.unreachable_rate == 0.0
    hit = {s.name for s in prefer.scenarios if s.metrics.unreachable_rate > 0}
    # the cluster-wide fallback bites exactly when an edge copy of a called service is down
    edges = ("us-west-2-lax-1a", "us-west-2-las-1a", "us-west-2-phx-2a")
    assert hit == {f"copy-down:{z}/{s}" for z in edges for s in ("public-api", "product-api")}


def test_namespace_per_zone_fails_edge_users_without_unreachable_calls(
    baselines: SimulationResult,
) -> None:
    ns = baselines.strategy("namespace-per-zone").scenario("steady")
    for zone in ("us-west-2-lax-1a", "us-west-2-las-1a", "us-west-2-phx-2a"):
        assert ns.per_zone[zone].success_rate == 0.0  # postgres is not in the zone namespace
    assert ns.per_zone["us-west-2a"].success_rate == 1.0
    assert ns.metrics.unreachable_rate == 0.0


@pytest.mark.parametrize("routing", [Routing.CONSUL_ENTERPRISE, Routing.CONSUL, Routing.ISTIO, Routing.KUBERNETES])
def test_edgewise_never_unreachable_under_any_single_failure(
    hashicups: tuple[Spec, Topology], routing: Routing
) -> None:
    spec, topo = hashicups
    res = simulate(_with_routing(spec, routing), topo, requests=200, strategies=["edgewise"])
    scenarios = res.strategy("edgewise").scenarios
    assert len(scenarios) == 1 + 17 + 3 + 2  # steady, copies, edge zones, AZs
    for s in scenarios:
        assert s.metrics.unreachable_rate == 0.0, (routing, s.name)
        assert s.metrics.success_rate == 1.0, (routing, s.name)
        for zone, m in s.per_zone.items():
            assert m.unreachable_rate == 0.0, (routing, s.name, zone)
    steady = res.strategy("edgewise").scenario("steady").metrics
    assert steady.optimum_ratio is not None and 1.0 <= steady.optimum_ratio < 1.1


def test_edgewise_kubernetes_backend_fails_over_through_the_controller(
    hashicups: tuple[Spec, Topology],
) -> None:
    """The Kubernetes backend (no mesh): per-zone namespaces, ExternalName to the Region
    for shared services, and Services whose endpoints the edgewise controller keeps -- a
    zone whose copy is down is served by the Region, never by a sibling."""
    spec, topo = hashicups
    res = simulate(
        _with_routing(spec, Routing.KUBERNETES),
        topo,
        requests=100,
        strategies=["edgewise"],
        scenarios=["steady", "copy-down:us-west-2-lax-1a/product-api"],
    )
    ew = res.strategy("edgewise")
    assert ew.scenario("steady").metrics.success_rate == 1.0
    down = ew.scenario("copy-down:us-west-2-lax-1a/product-api")
    assert down.per_zone["us-west-2-lax-1a"].success_rate == 1.0
    assert all(s.metrics.unreachable_rate == 0.0 for s in ew.scenarios)
    # failover costs latency: the Region is farther than the zone's own copy
    steady_p50 = ew.scenario("steady").per_zone["us-west-2-lax-1a"].p50
    down_p50 = down.per_zone["us-west-2-lax-1a"].p50
    assert steady_p50 is not None and down_p50 is not None and down_p50 > steady_p50


def test_headline_has_one_line_per_strategy(baselines: SimulationResult) -> None:
    lines = headline(baselines).splitlines()
    assert [ln.split()[0] for ln in lines] == ["flat", "prefer-close", "namespace-per-zone"]
    assert "unreachable" in lines[0]
    assert "steady: 100.0% ok" in lines[1]


def test_wavelength_entry_points_only_for_5g_users(examples_dir: Path) -> None:
    """Users of a lost Wavelength Zone (5G subscribers) move to the nearest healthy
    ingress they can use; internet users of a lost AZ never get a Wavelength entry."""
    from edgewise.simulate.compile import compile_strategy, route_model
    from edgewise.simulate.scenarios import Scenario
    from edgewise.simulate.strategies import strategy_objects

    spec = load_spec(examples_dir / "wavelength")
    topo = build_topology(spec)
    app = spec.applications[0][0]
    cs = compile_strategy(topo, app, strategy_objects(topo, app, "edgewise"))
    zones = [z.name for z in topo.zones]
    bos, nyc = "us-east-1-wl1-bos-wlz-1", "us-east-1-wl1-nyc-wlz-1"
    lost_bos = route_model(cs, Scenario("b", lost_zones=frozenset({bos})), zones, ["frontend"])
    [(copy, rtt, _)] = lost_bos.entries[(bos, "frontend")]
    usable = {z: topo.user_rtt_ms(bos, z) for z in zones if z != bos}
    assert all(v is not None for v in usable.values())  # 5G users may use any ingress
    assert lost_bos.copies[copy].zone == min(usable, key=lambda z: usable[z] or 0.0)
    assert rtt == usable[lost_bos.copies[copy].zone]
    lost_az = route_model(cs, Scenario("a", lost_zones=frozenset({"us-east-1a"})), zones, ["frontend"])
    [(copy, _, _)] = lost_az.entries[("us-east-1a", "frontend")]
    assert lost_az.copies[copy].zone == "us-east-1b"  # Wavelength entries are for 5G users
    # every ingress gone but the two WLZs: internet users have none left
    only_wlz = Scenario("w", lost_zones=frozenset({"us-east-1a", "us-east-1b"}))
    assert route_model(cs, only_wlz, zones, ["frontend"]).entries[("us-east-1a", "frontend")] == ()
    assert topo.user_rtt_ms("us-east-1a", nyc) is None
