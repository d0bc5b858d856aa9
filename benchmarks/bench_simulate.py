"""Benchmark `edgewise simulate`: simulated east-west calls per second.

Runs every strategy under every scenario of a spec and prints the calls sampled per
second of wall time, end to end (resolving each strategy once, per-scenario route
tables and optimum, sampling, metrics). Default spec: the HashiCups Local Zones example;
``--catalog-region us-east-1`` instead puts HashiCups on every catalog zone of a Region
(37 zones in us-east-1: 6 AZs, 18 Local Zones, 13 Wavelength Zones).

    python benchmarks/bench_simulate.py [--spec DIR | --catalog-region R] [--requests N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from edgewise.catalog import load_catalog
from edgewise.simulate import simulate
from edgewise.spec import load_spec
from edgewise.topology import build_topology

ROOT = Path(__file__).resolve().parents[1]
HASHICUPS = ROOT / "examples" / "local-zones-hashicups"


def catalog_spec(region: str, target: Path) -> Path:
    """A spec with every catalog zone of ``region`` and the HashiCups application."""
    lines = [
        "apiVersion: edgewise.dev/v1alpha1",
        "kind: Topology",
        "metadata: {name: bench}",
        "spec:",
        f"  region: {region}",
        "  vpc: {cidr: 10.0.0.0/16, subnetPrefixLength: 24}",
        "  zones:",
    ]
    for z in sorted(load_catalog().zones.values(), key=lambda z: z.name):
        if z.region != region:
            continue
        kind = {"availability-zone": "m6i.large", "wavelength": "t3.xlarge"}.get(z.type, "c5d.2xlarge")
        lines.append(f"    - {{name: {z.name}, nodeGroup: {{instanceType: {kind}, desired: 2}}}}")
    path = target / "spec.yaml"
    path.write_text("\n".join(lines) + "\n---\n" + (HASHICUPS / "hashicups.yaml").read_text())
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, default=HASHICUPS)
    parser.add_argument("--catalog-region", help="benchmark on every catalog zone of this Region")
    parser.add_argument("--requests", type=int, default=20000, help="requests per user zone")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = catalog_spec(args.catalog_region, Path(tmp)) if args.catalog_region else args.spec
        spec = load_spec(path)
    topo = build_topology(spec)
    simulate(spec, topo, requests=10, scenarios=["steady"])  # warm-up: imports, code paths
    best = float("inf")
    calls = requests = scenarios = strategies = 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = simulate(spec, topo, requests=args.requests)
        best = min(best, time.perf_counter() - start)
        calls, requests = result.simulated_calls, result.simulated_requests
        strategies = len(result.strategies)
        scenarios = len(result.strategies[0].scenarios)
    print(
        f"{topo.name}: {len(topo.zones)} zones, {strategies} strategies x {scenarios} scenarios, "
        f"{args.requests} requests per user zone"
    )
    print(f"simulated {requests} requests / {calls} calls in {best:.3f} s (best of {args.repeat})")
    print(f"simulated calls per second: {calls / best:,.0f}")
    print(f"simulated requests per second: {requests / best:,.0f}")


if __name__ == "__main__":
    main()
