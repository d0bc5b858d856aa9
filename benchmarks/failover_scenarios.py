"""The figures of docs/failover-without-a-mesh.md: the failover scenarios on real parts,
repeated, with `edgewise simulate`'s predictions.

Starts the lab (real kube-apiserver, scheduler, controller-manager, kwok), the data
plane (a network namespace per zone with the real kube-proxy) and the real
``edgewise controller run``; then steady state, ``--rounds`` zone-down/zone-back cycles
over the three Local Zones in turn, and the PreferClose hazard for ``--hazard-seconds``.
Needs root, ip and nft, and ``make lab``.

    python -m benchmarks.failover_scenarios [--rounds 3] [--seconds 2] [--hazard-seconds 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks import write_json
from edgewise.lab import Lab
from edgewise.lab.dataplane import missing
from edgewise.lab.failover import down_and_back, predictions, prefer_close, setup, steady


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--hazard-seconds", type=float, default=10.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    why = missing()
    if why:
        raise SystemExit(f"cannot run the data plane here: {why}")
    out: dict[str, Any] = {"predicted": predictions(requests=2000)}
    t0 = time.monotonic()
    with Lab() as lab, setup(lab) as st:
        out["setup_s"] = round(time.monotonic() - t0, 1)
        out["steady"] = [m.as_json() for m in steady(st, args.seconds)]
        zones = [z.name for z in st.topology.edge_zones]
        cycles = []
        for r in range(args.rounds):
            for z in zones:
                cycles.append([m.as_json() for m in down_and_back(st, z, args.seconds)])
                print(f"round {r + 1}: {z}: failover {cycles[-1][0]['switch_s']} s, back {cycles[-1][2]['switch_s']} s",
                      flush=True)
        out["cycles"] = cycles
        out["prefer_close"] = prefer_close(st, zones[0], args.hazard_seconds).as_json()
    failover = [c[0]["switch_s"] for c in cycles]
    back = [c[2]["switch_s"] for c in cycles]
    out["summary"] = {
        "cycles": len(cycles),
        "failover_s": {"median": statistics.median(failover), "max": max(failover)},
        "back_s": {"median": statistics.median(back), "max": max(back)},
        "down_success": sum(c[0]["success_rate"] * c[0]["requests"] for c in cycles)
        / sum(c[0]["requests"] for c in cycles),
        "down_requests": sum(c[0]["requests"] for c in cycles),
        "transition_requests": sum(c[1]["requests"] for c in cycles),
        "transition_failed": sum(sum(c[1]["errors"].values()) for c in cycles),
        "sibling_packets_edgewise": sum(c[0]["sibling_packets"] + c[2]["sibling_packets"] for c in cycles)
        + sum(m["sibling_packets"] for m in out["steady"]),
    }
    print(json.dumps(out["summary"], indent=1))
    print(json.dumps({"prefer_close": out["prefer_close"], "predicted": out["predicted"]}, indent=1))
    write_json(out, args.json)


if __name__ == "__main__":
    main()
