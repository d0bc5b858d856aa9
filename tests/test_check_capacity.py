"""The capacity rules' sums (EW207 CPU, EW208 pod IPs, check/rules/_capacity.py) are
exact: each set's needs are added in integers over their least common denominator. Held
here to the straightforward reading, Fraction by Fraction, on random needs and on the
rules' own fixtures and a benchmark plan with zones made too small."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from edgewise.check import engine
from edgewise.check.model import CheckContext
from edgewise.check.rules import _capacity
from edgewise.k8s.inventory import Workload
from edgewise.k8s.resources import pod_request
from edgewise.spec import load_spec
from edgewise.topology import build_topology

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the benchmark's spec generator
from benchmarks.generate import spec_documents  # noqa: E402


@given(st.lists(st.fractions(min_value=0, max_value=10_000, max_denominator=10_000), max_size=60))
def test_exact_sum_is_the_sum_of_the_fractions(values: list[Fraction]) -> None:
    assert _capacity._exact_sum([(v.numerator, v.denominator) for v in values]) == sum(values, Fraction(0))


def reference(ctx: CheckContext, have: dict[str, Fraction | None],
              per_pod: Callable[[Workload], Fraction]) -> Iterator[_capacity.Shortfall]:
    """shortfalls() as first written: Fraction arithmetic workload by workload."""
    topo = ctx.topology
    demand: dict[frozenset[str], Fraction] = defaultdict(Fraction)
    members: dict[frozenset[str], list[tuple[Fraction, Workload]]] = defaultdict(list)
    for w in ctx.inventory.workloads():
        if not w.zones or w.replicas <= 0 or w.pod_spec.get("nodeName"):
            continue
        if w.kind == "DaemonSet":
            for zone in w.zones:
                ng = topo.zone(zone).node_group if topo is not None else None
                demand[frozenset((zone,))] += per_pod(w) * (ng.max_size if ng is not None else 0)
            continue
        need = per_pod(w) * w.replicas
        if need <= 0:
            continue
        key = frozenset(w.zones)
        demand[key] += need
        members[key].append((need, w))
    known = {k: v for k, v in demand.items() if all(have.get(z) is not None for z in k)}
    singles = {next(iter(k)): v for k, v in known.items() if len(k) == 1}
    for zones, own in sorted(known.items(), key=lambda kv: sorted(kv[0])):
        if not members.get(zones):
            continue
        if len(zones) == 1:
            need = own
        else:
            need = sum((v for k, v in known.items() if len(k) > 1 and k <= zones), Fraction(0))
            need += sum((singles.get(z, Fraction(0)) for z in zones), Fraction(0))
        total = sum((have[z] or Fraction(0) for z in zones), Fraction(0))
        if need > total:
            ranked = sorted(members[zones], key=lambda m: (-m[0], m[1].namespace, m[1].name))
            yield _capacity.Shortfall(zones, need, total, tuple(ranked))


def contexts(tmp_path: Path) -> Iterator[CheckContext]:
    """Check contexts of the capacity rules' fixtures and of a small benchmark plan."""
    captured: list[CheckContext] = []
    real = engine.run_rules

    def capture(ctx: CheckContext, rules: object) -> tuple[list[object], list[object]]:
        captured.append(ctx)
        return [], []

    docs = spec_documents(6, 5)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    topo = build_topology(load_spec([spec_file]))
    from click.testing import CliRunner

    from edgewise.cli import cli

    out = tmp_path / "plan"
    assert CliRunner().invoke(cli, ["plan", str(spec_file), "-o", str(out), "--simulate", "never",
                                    "--quiet"]).exit_code in (0, 1)
    engine.run_rules = capture  # type: ignore[assignment]
    try:
        for rule in ("EW207", "EW208"):
            for case in ("pass", "fail"):
                engine.check_paths([ROOT / "tests" / "data" / "rules" / rule / f"{case}.yaml"], None, fork=False)
        engine.check_paths([out], topo, fork=False)
    finally:
        engine.run_rules = real  # type: ignore[assignment]
    yield from captured


def test_shortfalls_are_the_fraction_by_fraction_reading(tmp_path: Path) -> None:
    judged = 0
    for ctx in contexts(tmp_path):
        if ctx.topology is None:
            continue
        for scale in (Fraction(1), Fraction(1, 40), Fraction(1, 400)):  # zones ever smaller: shortfalls
            have: dict[str, Fraction | None] = {
                z.name: None if z.node_group is None else Fraction(z.node_group.max_size * 4) * scale
                for z in ctx.topology.zones}

            def cpu(w: Workload) -> Fraction:
                return pod_request(w.pod_spec, "cpu")

            got = list(_capacity.shortfalls(ctx, have, cpu))
            assert got == list(reference(ctx, have, cpu))
            judged += len(got)
    assert judged, "the comparison must cover some shortfalls"
