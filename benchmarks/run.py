"""Time `edgewise plan`, `edgewise check` and `kubectl kustomize` on the same work.

For each size Z x S the runner writes a synthetic spec and the equivalent kustomize tree
(:mod:`benchmarks.generate`), then alternates, round after round, `edgewise plan` into
an empty directory, `edgewise plan` again over that output (the regeneration CI does),
`edgewise check` on it and one `kubectl kustomize` run (so all see the same machine
state). Each command runs as its own process; wall time is measured around it and peak
RSS is read from the kernel's rusage for that process.
It prints medians, the ratio edgewise/kustomize, and how cost grows with object count.

    python -m benchmarks.run                 # 10x10, 50x20, 200x40
    python -m benchmarks.run --sizes 10x10 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.generate import write_kustomize, write_spec

DEFAULT_SIZES = ["10x10", "50x20", "200x40"]


@dataclass
class Sample:
    wall: float
    rss_mib: float
    rc: int


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)
    skipped: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples) if self.samples else float("nan")

    @property
    def rss(self) -> float:
        return max(s.rss_mib for s in self.samples) if self.samples else float("nan")


def timed(cmd: list[str], timeout: float, stdout: int | None = subprocess.DEVNULL) -> Sample | None:
    """Run ``cmd``; wall time and peak RSS of that one process (None on timeout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            return None
        time.sleep(0.005)
    wall = time.perf_counter() - start
    rc = os.waitstatus_to_exitcode(status)
    if rc not in (0, 1):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {rc}:\n{err[-2000:]}")
    return Sample(wall=wall, rss_mib=usage.ru_maxrss / 1024.0, rc=rc)


def count_objects(out_dir: Path) -> int:
    n = 0
    for p in out_dir.rglob("*.yaml"):
        if "cfn" in p.name or p.name == "kustomization.yaml" or p.name.endswith(".values.yaml"):
            continue
        n += sum(1 for line in p.read_text().splitlines() if line.startswith("kind:"))
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="*", default=DEFAULT_SIZES)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kustomize-timeout", type=float, default=120.0,
                    help="stop kubectl kustomize after this many seconds (reported as stopped)")
    ap.add_argument("--work", type=Path, default=Path("bench-out"))
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = ap.parse_args()

    edgewise = [sys.executable, "-m", "edgewise"]
    kubectl = shutil.which("kubectl")
    startup = Series()
    for _ in range(max(3, args.rounds)):
        s = timed([*edgewise, "--version"], 60)
        assert s is not None
        startup.samples.append(s)
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}; "
          f"edgewise startup (--version): {startup.wall * 1000:.0f} ms")

    rows = []
    for size in args.sizes:
        z, s = (int(x) for x in size.split("x"))
        base = args.work / size
        spec = write_spec(base / "spec.yaml", z, s)
        ktree = write_kustomize(base / "kustomize", z, s)
        out = base / "plan"
        plan, fresh, check, kust = Series(), Series(), Series(), Series()
        for r in range(args.rounds):
            # like for like with kustomize: everything plan writes (check included), but not
            # the routing simulation, which kustomize has no counterpart for. Timed twice:
            # into an empty directory (first plan), then again over that output (how CI
            # regenerates a plan kept in git: unchanged files are reused, not rewritten)
            cmd = [*edgewise, "plan", str(spec), "-o", str(out), "--quiet", "--simulate", "never"]
            shutil.rmtree(out, ignore_errors=True)
            first = timed(cmd, 600)
            again = timed(cmd, 600)
            assert first is not None and again is not None
            fresh.samples.append(first)
            plan.samples.append(again)
            if r == 0 or not check.skipped:
                c = timed([*edgewise, "check", str(out), "--topology", str(spec),
                           "--format", "json", "--fail-on", "error"], 600)
                assert c is not None
                check.samples.append(c)
            if kubectl and not kust.skipped:
                k = timed([kubectl, "kustomize", str(ktree)], args.kustomize_timeout)
                if k is None:
                    kust.skipped = f"stopped after {args.kustomize_timeout:.0f} s"
                else:
                    kust.samples.append(k)
            elif not kubectl:
                kust.skipped = "kubectl not installed"
        objects = count_objects(out)
        ratio = plan.wall / kust.wall if kust.samples else float("nan")
        rows.append({
            "size": size, "objects": objects,
            "plan_s": plan.wall, "plan_rss_mib": plan.rss,
            "plan_first_s": fresh.wall, "plan_first_rss_mib": fresh.rss,
            "speedup_first_vs_kustomize": (kust.wall / fresh.wall) if kust.samples else None,
            "check_s": check.wall, "check_rss_mib": check.rss,
            "kustomize_s": kust.wall if kust.samples else None,
            "kustomize_note": kust.skipped,
            "speedup_vs_kustomize": (1 / ratio) if kust.samples else None,
        })
        k_txt = f"{kust.wall:7.2f} s" if kust.samples else f"({kust.skipped})"
        sp = f"{1 / ratio:6.1f}x" if kust.samples else "   n/a"
        sp_first = f"{kust.wall / fresh.wall:.1f}x" if kust.samples else "n/a"
        print(f"{size:>7}  objects {objects:6d}  first plan {fresh.wall:6.2f} s ({fresh.rss:5.0f} MiB, "
              f"vs kustomize {sp_first})  "
              f"plan {plan.wall:6.2f} s ({plan.rss:5.0f} MiB)  "
              f"check {check.wall:6.2f} s ({check.rss:5.0f} MiB)  kustomize {k_txt}  "
              f"edgewise faster by {sp}", flush=True)

    if len(rows) >= 2:
        small, big = rows[0], rows[-1]
        st = startup.wall
        per_obj = max(small["plan_s"] - st, 1e-9) / small["objects"]
        predicted = st + per_obj * big["objects"]
        print(f"linearity: {big['size']} plan {big['plan_s']:.2f} s vs {predicted:.2f} s predicted from "
              f"{small['size']} scaled by objects (startup {st:.2f} s apart): "
              f"ratio {big['plan_s'] / predicted:.2f} (target <= 1.5)")
    if args.json:
        args.json.write_text(json.dumps({"startup_s": startup.wall, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
