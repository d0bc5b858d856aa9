"""The Outposts figures of docs/failover-without-a-mesh.md ("Two Outposts"), with and
without outpostIntraVpc, and `edgewise simulate`'s predictions.

For each setting: the lab, the data plane (a network namespace per zone with the real
kube-proxy; the router drops what the network model gives no link and counts what
crosses between Outposts) and the real ``edgewise controller run``; then ``--rounds``
runs of :func:`edgewise.lab.failover.outpost_failover` (outpost-1's copy dies, then the
Region's; the Region's comes back, then outpost-1's). Needs root, ip and nft, and
``make lab``.

    python -m benchmarks.outpost_scenarios [--rounds 3] [--seconds 2] [--json FILE]
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
from edgewise.lab.failover import outpost_failover, outpost_predictions, outposts_spec, setup

STEPS = ("outpost-down", "outpost-and-region-down", "region-back", "outpost-back")


def _merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    served: dict[str, int] = {}
    errors: dict[str, int] = {}
    for r in runs:
        for k, v in r["served_by"].items():
            served[k] = served.get(k, 0) + v
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    requests = sum(r["requests"] for r in runs)
    switches = [r["switch_s"] for r in runs if r["switch_s"] is not None]
    return {
        "requests": requests,
        "success_rate": round(sum(r["success_rate"] * r["requests"] for r in runs) / requests, 4) if requests else None,
        "served_by": dict(sorted(served.items())), "errors": dict(sorted(errors.items())),
        "sibling_packets": sum(r["sibling_packets"] for r in runs),
        "outpost_packets": sum(r["outpost_packets"] for r in runs),
        "switch_s": {"median": round(statistics.median(switches), 3), "max": round(max(switches), 3)} if switches
        else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    why = missing()
    if why:
        raise SystemExit(f"cannot run the data plane here: {why}")
    out: dict[str, Any] = {}
    for intra in (True, False):
        key = "intra-vpc" if intra else "isolated"
        runs: list[dict[str, Any]] = []
        t0 = time.monotonic()
        with Lab() as lab, setup(lab, text=outposts_spec(intra)) as st:
            setup_s = round(time.monotonic() - t0, 1)
            for r in range(args.rounds):
                runs.append({m.name: m.as_json() for m in outpost_failover(st, "outpost-1", args.seconds)})
                print(f"{key} round {r + 1}: " + ", ".join(
                    f"{s} {runs[-1][s]['success_rate']} via {sorted(runs[-1][s]['served_by'])}" for s in STEPS),
                    flush=True)
        out[key] = {
            "setup_s": setup_s, "rounds": args.rounds, "seconds_per_step": args.seconds,
            "predicted": outpost_predictions(intra, requests=2000),
            "steps": {s: _merge([r[s] for r in runs]) for s in STEPS},
            "whole_runs": _merge([r["outpost-whole-run"] for r in runs]),
        }
    print(json.dumps(out, indent=1))
    write_json(out, args.json)


if __name__ == "__main__":
    main()
