"""simulate on a topology small enough to work out by hand: two Local Zones, two AZs.

Every copy has one replica, so kube-proxy picks each endpoint with the same probability
and the expected fractions are simple: they are derived in each test's docstring,
checked against the exact expectation computed from the resolver's distributions, and
the sampled figures are checked against both within sampling tolerance.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from edgewise.errors import InputError
from edgewise.simulate import simulate
from edgewise.simulate.compile import CompiledStrategy, compile_strategy, route_model
from edgewise.simulate.engine import RouteModel, entry_services, expected, optimum
from edgewise.simulate.scenarios import Scenario, default_scenarios
from edgewise.simulate.strategies import strategy_objects
from edgewise.spec import Application, Spec, load_spec
from edgewise.topology import Topology, build_topology

LAX, LAS, AZ_A, AZ_B = "us-west-2-lax-1a", "us-west-2-las-1a", "us-west-2a", "us-west-2b"

SPEC = f"""\
apiVersion: edgewise.dev/v1alpha1
kind: Topology
metadata: {{name: small}}
spec:
  region: us-west-2
  zones:
    - name: {AZ_A}
      nodeGroup: {{instanceType: m6i.large, desired: 2}}
    - name: {AZ_B}
      nodeGroup: {{instanceType: m6i.large, desired: 2}}
    - name: {LAX}
      nodeGroup: {{instanceType: c5d.2xlarge, desired: 1}}
    - name: {LAS}
      nodeGroup: {{instanceType: c5d.2xlarge, desired: 1}}
---
apiVersion: edgewise.dev/v1alpha1
kind: Application
metadata: {{name: chain}}
spec:
  routing: consul-enterprise
  services:
    - {{name: web, image: web:1, port: 8080, expose: {{path: /}}, calls: [api]}}
    - {{name: api, image: api:1, port: 9090, calls: [db]}}
    - {{name: db, image: db:1, port: 5432, placement: region}}
---
apiVersion: edgewise.dev/v1alpha1
kind: Application
metadata: {{name: pair}}
spec:
  routing: consul-enterprise
  services:
    - {{name: web, image: web:1, port: 8080, expose: {{path: /}}, calls: [api]}}
    - {{name: api, image: api:1, port: 9090}}
"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Spec, Topology]:
    path = tmp_path_factory.mktemp("spec") / "small.yaml"
    path.write_text(SPEC)
    spec = load_spec(path)
    return spec, build_topology(spec)


def _app(spec: Spec, name: str) -> Application:
    return next(a for a, _ in spec.applications if a.metadata.name == name)


def _model(loaded: tuple[Spec, Topology], strategy: str, scenario: str, app: str = "chain") -> RouteModel:
    spec, topo = loaded
    a = _app(spec, app)
    cs: CompiledStrategy = compile_strategy(topo, a, strategy_objects(topo, a, strategy))
    sc = next(s for s in default_scenarios(topo, a) if s.name == scenario)
    return route_model(cs, sc, [z.name for z in topo.zones], entry_services(a))


def _tolerance(p: float, n: int) -> float:
    """Four standard deviations of a sampled fraction, plus rounding slack."""
    return 4.0 * math.sqrt(max(p * (1.0 - p), 1e-4) / n) + 1e-6


def test_flat_exact_fractions_match_hand_derivation(loaded: tuple[Spec, Topology]) -> None:
    """flat: web(lax) -> api picks one of 4 copies uniformly: lax, az-a, az-b reachable,
    las not. So lax users succeed 3/4; calls per request 1 + 3/4 (db is always in the
    Region, reachable from every api copy), unreachable 1/4 -> rate 1/7. AZ users reach
    every copy: success 1, no unreachable call."""
    m = _model(loaded, "flat", "steady")
    edge = expected(m, LAX, ["web"])
    assert edge.success_rate == pytest.approx(3 / 4, abs=1e-12)
    assert edge.unreachable_rate == pytest.approx(1 / 7, abs=1e-12)
    region = expected(m, AZ_A, ["web"])
    assert region.success_rate == pytest.approx(1.0)
    assert region.unreachable_rate == 0.0


def test_flat_sampled_within_tolerance(loaded: tuple[Spec, Topology]) -> None:
    """Pooled over the 4 user zones: success (3/4 + 3/4 + 1 + 1) / 4 = 7/8; unreachable
    calls 2 * 1/4 out of 2 * 7/4 + 2 * 2 calls = 1/15."""
    spec, topo = loaded
    n = 4000
    res = simulate(spec, topo, requests=n, strategies=["flat"], scenarios=["steady"])
    sc = res.strategy("flat").scenario("steady")
    assert sc.metrics.success_rate == pytest.approx(7 / 8, abs=_tolerance(7 / 8, 4 * n))
    assert sc.metrics.unreachable_rate == pytest.approx(1 / 15, abs=_tolerance(1 / 15, 7 * n))
    lax = sc.per_zone[LAX]
    assert lax.success_rate == pytest.approx(3 / 4, abs=_tolerance(3 / 4, n))
    assert sc.per_zone[AZ_B].success_rate == 1.0
    assert sc.per_zone[AZ_B].unreachable_rate == 0.0


def test_prefer_close_falls_back_to_sibling_edge_when_local_copy_is_down(
    loaded: tuple[Spec, Topology],
) -> None:
    """PreferClose, api down in lax: no Ready local endpoint, so the fallback spreads over
    every remaining endpoint cluster-wide: las (unreachable), az-a, az-b. Success 2/3;
    calls 1 + 2/3; unreachable 1/3 -> rate 1/5. Steady: every call stays local or goes to
    the Region: success 1."""
    steady = _model(loaded, "prefer-close", "steady")
    assert expected(steady, LAX, ["web"]).success_rate == pytest.approx(1.0)
    m = _model(loaded, "prefer-close", f"copy-down:{LAX}/api")
    e = expected(m, LAX, ["web"])
    assert e.success_rate == pytest.approx(2 / 3, abs=1e-12)
    assert e.unreachable_rate == pytest.approx(1 / 5, abs=1e-12)
    spec, topo = loaded
    n = 3000
    res = simulate(spec, topo, requests=n, strategies=["prefer-close"], scenarios=[f"copy-down:{LAX}/api"])
    got = res.strategies[0].scenarios[0].per_zone[LAX]
    assert got.success_rate == pytest.approx(2 / 3, abs=_tolerance(2 / 3, n))
    assert got.unreachable_rate == pytest.approx(1 / 5, abs=_tolerance(1 / 5, int(n * 5 / 3)))


def test_namespace_per_zone_cannot_find_the_shared_region_service(
    loaded: tuple[Spec, Topology],
) -> None:
    """The edge namespace has no db Service: api(lax) -> db is NXDOMAIN, every edge request
    fails, but no call is *sent* anywhere unreachable. Region users find db in their AZ."""
    m = _model(loaded, "namespace-per-zone", "steady")
    edge = expected(m, LAX, ["web"])
    assert edge.success_rate == 0.0
    assert edge.unreachable_rate == 0.0
    assert expected(m, AZ_A, ["web"]).success_rate == pytest.approx(1.0)


def test_edgewise_copy_down_fails_over_to_region_at_service_link_rtt(
    loaded: tuple[Spec, Topology],
) -> None:
    """edgewise (Consul failover to the Region namespace), api down in lax: every request of
    lax users succeeds through a Region api, and costs exactly the users' RTT to their
    zone plus the modelled service-link RTT lax <-> Region (both AZs share a metro)."""
    spec, topo = loaded
    scenario = f"copy-down:{LAX}/api"
    res = simulate(spec, topo, requests=500, strategies=["edgewise"], scenarios=[scenario], application="pair")
    lax = res.strategies[0].scenarios[0].per_zone[LAX]
    link = topo.rtt_ms(LAX, AZ_A)
    users = topo.user_rtt_ms(LAX, LAX)
    assert link is not None and users is not None and link == topo.rtt_ms(LAX, AZ_B)
    assert lax.success_rate == 1.0
    assert lax.unreachable_rate == 0.0
    for p in (lax.p50, lax.p95, lax.p99):
        assert p == pytest.approx(users + link)
    # the optimum under the same failure is the same Region copy: routing is perfect
    assert lax.optimum_ratio == pytest.approx(1.0)
    assert lax.physical_ratio is not None and lax.physical_ratio > 1.0


def test_edgewise_lost_zone_users_move_to_next_best_ingress(loaded: tuple[Spec, Topology]) -> None:
    """Route 53 evaluates ALB health under edgewise: users of a lost Local Zone enter
    through the healthy ingress with the lowest user RTT (here the other Local Zone);
    with the other strategies they fail."""
    spec, topo = loaded
    scenario = f"zone-lost:{LAX}"
    m = _model(loaded, "edgewise", scenario)
    [(copy, rtt, _)] = m.entries[(LAX, "web")]
    best = min(
        (z.name for z in topo.zones if z.name != LAX),
        key=lambda z: topo.user_rtt_ms(LAX, z) or math.inf,
    )
    assert m.copies[copy].zone == best
    assert rtt == topo.user_rtt_ms(LAX, best)
    res = simulate(spec, topo, requests=300, scenarios=[scenario])
    for s in res.strategies:
        got = s.scenarios[0].per_zone[LAX].success_rate
        assert got == (1.0 if s.name == "edgewise" else 0.0), s.name


def test_weighted_dns_spreads_users_over_every_healthy_ingress(
    loaded: tuple[Spec, Topology],
) -> None:
    """`dns: weighted`: plan's Route 53 weighted records send users evenly to every healthy
    ALB, so lax users' mean latency averages their RTT to all four ingresses; a lost zone
    drops out of the answer."""
    spec, topo = loaded
    app, doc = next((a, d) for a, d in spec.applications if a.metadata.name == "pair")
    weighted = app.model_copy(update={"spec": app.spec.model_copy(update={"dns": "weighted"})})
    changed = dataclasses.replace(spec, applications=((weighted, doc),))
    cs = compile_strategy(topo, weighted, strategy_objects(topo, weighted, "edgewise"))
    zones = [z.name for z in topo.zones]
    steady = route_model(cs, Scenario("steady"), zones, ["web"])
    assert sorted(steady.copies[c].zone for c, _, _ in steady.entries[(LAX, "web")]) == sorted(zones)
    lost = route_model(cs, Scenario("lost", lost_zones=frozenset({LAS})), zones, ["web"])
    assert LAS not in {lost.copies[c].zone for c, _, _ in lost.entries[(LAX, "web")]}
    users = [topo.user_rtt_ms(LAX, z) or 0.0 for z in zones]
    # web -> api stays in an edge zone; the Region copy is one Deployment over both AZs
    region = [z.name for z in topo.region_zones]
    hops = [
        sum(topo.rtt_ms(z, r) or 0.0 for r in region) / len(region) if z in region else topo.rtt_ms(z, z) or 0.0
        for z in zones
    ]
    want = sum(u + h for u, h in zip(users, hops, strict=True)) / len(zones)
    assert expected(steady, LAX, ["web"]).mean_latency_ms == pytest.approx(want)
    res = simulate(changed, topo, requests=4000, strategies=["edgewise"], scenarios=["steady"])
    got = res.strategies[0].scenarios[0].per_zone[LAX]
    assert got.success_rate == 1.0
    assert got.mean_latency_ms == pytest.approx(want, rel=0.03)


def test_sampling_agrees_with_exact_expectation_for_every_strategy(
    loaded: tuple[Spec, Topology],
) -> None:
    spec, topo = loaded
    n = 3000
    scenario = f"copy-down:{AZ_A}/api"
    res = simulate(spec, topo, requests=n, scenarios=[scenario])
    for s in res.strategies:
        m = _model(loaded, s.name, scenario)
        for zone, got in s.scenarios[0].per_zone.items():
            want = expected(m, zone, ["web"])
            assert got.success_rate == pytest.approx(want.success_rate, abs=_tolerance(want.success_rate, n)), (
                s.name,
                zone,
            )
            if want.mean_latency_ms is not None and got.mean_latency_ms is not None:
                assert got.mean_latency_ms == pytest.approx(want.mean_latency_ms, rel=0.05)


def test_optimum_uses_best_reachable_healthy_copy(loaded: tuple[Spec, Topology]) -> None:
    spec, topo = loaded
    app = _app(spec, "chain")
    steady = Scenario("steady")
    got = optimum(topo, app, steady, LAX, "web")
    assert got is not None
    link = topo.rtt_ms(LAX, AZ_A)
    users = topo.user_rtt_ms(LAX, LAX)
    intra = topo.rtt_ms(LAX, LAX)
    assert link is not None and users is not None and intra is not None
    assert got[0] == pytest.approx(users + intra + link)
    # fibre speed, no overhead: the same placement, distance only (users are in the zone's metro)
    assert got[1] == pytest.approx(topo.rtt_ms(LAX, AZ_A, physical=True))
    # every db copy down: nothing can serve the request
    assert optimum(topo, app, Scenario("x", down=frozenset({(AZ_A, "db"), (AZ_B, "db")})), LAX, "web") is None


def test_scenarios_are_named_and_complete(loaded: tuple[Spec, Topology]) -> None:
    spec, topo = loaded
    names = [s.name for s in default_scenarios(topo, _app(spec, "chain"))]
    assert names[0] == "steady"
    assert f"copy-down:{LAX}/api" in names and f"copy-down:{AZ_B}/db" in names
    assert f"copy-down:{LAX}/db" not in names  # db runs only in the Region
    assert [n for n in names if n.startswith("zone-lost:")] == [
        f"zone-lost:{LAX}",
        f"zone-lost:{LAS}",
    ]
    assert [n for n in names if n.startswith("az-lost:")] == [f"az-lost:{AZ_A}", f"az-lost:{AZ_B}"]
    # web, api in 4 zones + db in 2 AZs
    assert len([n for n in names if n.startswith("copy-down:")]) == 10


def test_fail_values_make_one_combined_scenario(loaded: tuple[Spec, Topology]) -> None:
    spec, topo = loaded
    res = simulate(
        spec,
        topo,
        requests=100,
        strategies=["edgewise"],
        fail=[LAS, f"{LAX}/api"],
        scenarios=["steady"],
    )
    names = [s.name for s in res.strategies[0].scenarios]
    assert names == ["steady", f"fail:{LAS}+{LAX}/api"]
    both = res.strategies[0].scenarios[1]
    assert both.per_zone[LAS].success_rate == 1.0  # moved to another ingress
    assert both.per_zone[LAX].success_rate == 1.0  # failed over to the Region


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ([f"{LAX[:-1]}b"], f"did you mean '{LAX}'"),
        ([f"{LAX}/apj"], "did you mean 'api'"),
        ([f"{LAX}/db"], f"use one of: {AZ_A}/db, {AZ_B}/db"),
    ],
)
def test_bad_fail_values_are_input_errors(loaded: tuple[Spec, Topology], values: list[str], fragment: str) -> None:
    spec, topo = loaded
    with pytest.raises(InputError) as exc:
        simulate(spec, topo, requests=10, fail=values)
    assert fragment in str(exc.value)


def test_bad_strategy_and_scenario_names_are_input_errors(loaded: tuple[Spec, Topology]) -> None:
    spec, topo = loaded
    with pytest.raises(InputError, match="did you mean 'prefer-close'"):
        simulate(spec, topo, requests=10, strategies=["prefer_close"])
    with pytest.raises(InputError, match="unknown scenario"):
        simulate(spec, topo, requests=10, scenarios=["zone-lost:us-west-2a"])


def test_call_cycle_is_an_input_error(loaded: tuple[Spec, Topology]) -> None:
    spec, topo = loaded
    app, doc = spec.applications[0]
    services = [s.model_copy(update={"calls": ["web"]}) if s.name == "db" else s for s in app.spec.services]
    looped = app.model_copy(update={"spec": app.spec.model_copy(update={"services": services})})
    with pytest.raises(InputError, match="cycle: web -> api -> db -> web"):
        simulate(dataclasses.replace(spec, applications=((looped, doc),)), topo, requests=10)


def test_deterministic_for_a_seed_and_json_layout(loaded: tuple[Spec, Topology]) -> None:
    spec, topo = loaded
    kw = {"requests": 300, "scenarios": ["steady", f"copy-down:{LAX}/api"]}
    a = simulate(spec, topo, seed=7, **kw).to_json()  # type: ignore[arg-type]
    b = simulate(spec, topo, seed=7, **kw).to_json()  # type: ignore[arg-type]
    c = simulate(spec, topo, seed=8, **kw).to_json()  # type: ignore[arg-type]
    assert json.dumps(a) == json.dumps(b)
    assert json.dumps(a) != json.dumps(c)
    assert list(a) == ["strategies"]
    assert [s["name"] for s in a["strategies"]] == [
        "flat",
        "prefer-close",
        "namespace-per-zone",
        "edgewise",
    ]
    metric_keys = [
        "success_rate",
        "unreachable_rate",
        "latency_ms",
        "optimum_ratio",
        "physical_ratio",
    ]
    for s in a["strategies"]:
        assert list(s) == ["name", "scenarios"]
        for sc in s["scenarios"]:
            assert list(sc) == ["name", *metric_keys, "per_zone"]
            assert list(sc["latency_ms"]) == ["p50", "p95", "p99"]
            assert list(sc["per_zone"]) == [AZ_A, AZ_B, LAX, LAS]
            for z in sc["per_zone"].values():
                assert list(z) == metric_keys
                assert 0.0 <= z["success_rate"] <= 1.0 and 0.0 <= z["unreachable_rate"] <= 1.0


def test_failed_requests_have_no_latency(loaded: tuple[Spec, Topology]) -> None:
    """namespace-per-zone: lax users never succeed, so their latency is null, not 0."""
    spec, topo = loaded
    res = simulate(spec, topo, requests=50, strategies=["namespace-per-zone"], scenarios=["steady"])
    lax = res.strategies[0].scenarios[0].to_json()["per_zone"][LAX]
    assert lax["success_rate"] == 0.0
    assert lax["latency_ms"] == {"p50": None, "p95": None, "p99": None}
    assert lax["optimum_ratio"] is None


def test_result_does_not_depend_on_which_other_strategies_run(
    loaded: tuple[Spec, Topology],
) -> None:
    spec, topo = loaded
    alone = simulate(spec, topo, requests=200, strategies=["prefer-close"], scenarios=["steady"])
    together = simulate(spec, topo, requests=200, strategies=["flat", "prefer-close"], scenarios=["steady"])
    assert alone.strategies[0].to_json() == together.strategy("prefer-close").to_json()


def test_region_only_entry_needs_no_edge_copy(tmp_path: Path) -> None:
    """A Region-only exposed service: edge users enter the Region ingress (lowest user RTT)."""
    text = (
        SPEC.split("---")[0]
        + """---
apiVersion: edgewise.dev/v1alpha1
kind: Application
metadata: {name: central}
spec:
  services:
    - {name: api, image: api:1, port: 9090, placement: region, expose: {path: /}}
"""
    )
    (tmp_path / "s.yaml").write_text(text)
    spec = load_spec(tmp_path / "s.yaml")
    topo = build_topology(spec)
    res = simulate(spec, topo, requests=50, scenarios=["steady"])
    for s in res.strategies:
        lax = s.scenarios[0].per_zone[LAX]
        assert lax.success_rate == 1.0
        assert lax.p50 == pytest.approx(topo.user_rtt_ms(LAX, AZ_A))
