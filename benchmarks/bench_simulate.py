"""Benchmark `edgewise simulate`: simulated east-west calls per second.

Runs every strategy under every scenario of a spec (default: the HashiCups Local Zones
example) and prints the calls sampled per second of wall time, end to end (resolving
the strategies once, building per-scenario route tables, sampling, metrics).

    python benchmarks/bench_simulate.py [--spec DIR] [--requests N] [--repeat K]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from edgewise.simulate import simulate
from edgewise.spec import load_spec
from edgewise.topology import build_topology

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spec", type=Path, default=ROOT / "examples" / "local-zones-hashicups")
    parser.add_argument(
        "--requests", type=int, default=20000, help="requests per user zone and scenario"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    args = parser.parse_args()

    spec = load_spec(args.spec)
    topo = build_topology(spec)
    simulate(spec, topo, requests=10)  # warm-up: imports, plan generation code paths
    best = float("inf")
    calls = requests = 0
    scenarios = strategies = 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = simulate(spec, topo, requests=args.requests)
        best = min(best, time.perf_counter() - start)
        calls, requests = result.simulated_calls, result.simulated_requests
        strategies = len(result.strategies)
        scenarios = len(result.strategies[0].scenarios)
    print(
        f"spec: {args.spec.name}: {len(topo.zones)} zones, {strategies} strategies x "
        f"{scenarios} scenarios, {args.requests} requests per user zone"
    )
    print(f"simulated {requests} requests / {calls} calls in {best:.3f} s (best of {args.repeat})")
    print(f"simulated calls per second: {calls / best:,.0f}")
    print(f"simulated requests per second: {requests / best:,.0f}")


if __name__ == "__main__":
    main()
