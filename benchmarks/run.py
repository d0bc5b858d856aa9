"""Time `edgewise plan`, `edgewise check`, `helm template` and `kubectl kustomize` on the same work.

For each size Z x S the runner writes a synthetic spec, the equivalent kustomize tree and
the equivalent Helm chart (:mod:`benchmarks.generate`), then alternates, round after
round, `edgewise plan --simulate never` into an empty directory (first plan), the same
plan again over that output (the regeneration CI does), `edgewise check` of the written
directory, `helm template` of the chart and `kubectl kustomize` of the tree (so all see
the same machine state). Each command runs as its own process; wall time is measured
around it and peak RSS is read from the kernel's rusage for that process.
It prints medians, the ratios the targets are stated in, and how cost grows.

    python -m benchmarks.run                 # 10x10, 50x20, 200x40
    python -m benchmarks.run --sizes 1000x40 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.generate import write_chart, write_kustomize, write_spec

DEFAULT_SIZES = ["10x10", "50x20", "200x40"]
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Sample:
    wall: float
    rss_mib: float
    rc: int
    cpu: float = 0.0  # user + system time of the process (all its threads)


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)
    skipped: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples) if self.samples else float("nan")

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples) if self.samples else float("nan")

    @property
    def rss(self) -> float:
        return max(s.rss_mib for s in self.samples) if self.samples else float("nan")


def timed(cmd: list[str], timeout: float, stdout: int | None = subprocess.DEVNULL) -> Sample | None:
    """Run ``cmd``; wall time and peak RSS of that one process (None on timeout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
    # a blocking wait, killed by a timer at the deadline: the end is seen as it happens
    # (polling every 5 ms added 0-5 ms to every sample, of every tool alike)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        proc.kill()

    timer = threading.Timer(timeout, expire)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - start
    if expired.is_set():
        return None
    rc = os.waitstatus_to_exitcode(status)
    if rc not in (0, 1):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {rc}:\n{err[-2000:]}")
    return Sample(wall=wall, rss_mib=usage.ru_maxrss / 1024.0, rc=rc, cpu=usage.ru_utime + usage.ru_stime)


def count_objects(out_dir: Path) -> int:
    n = 0
    for p in out_dir.rglob("*.yaml"):
        if "cfn" in p.name or p.name == "kustomization.yaml" or p.name.endswith(".values.yaml"):
            continue
        n += sum(1 for line in p.read_text().splitlines() if line.startswith("kind:"))
    return n


#: what the timed commands write, per round; removed only once everything is timed
SCRATCH_PREFIXES = ("plan-", "file-creation-probe-")


def clear_scratch(work: Path, *, settle: bool = True) -> None:
    """Remove what earlier runs wrote; with ``settle``, when anything was removed, flush
    it and wait out the kernel's window before timing anything.

    Timed plans write into directories of their own, removed at the end of the run, never
    just before a timed command: on ext4 without a journal (this machine's disk) the
    kernel does not reuse an inode deleted less than 60 seconds ago, or 300 while its
    inode table block is dirty, and looks each such inode up whenever it creates a file
    (``recently_deleted()`` in ``fs/ext4/ialloc.c``; 60 s since the commit "ext4:
    increase wait time needed before reuse of deleted inode numbers",
    https://lore.kernel.org/r/20200414023925.273867-1-tytso@mit.edu). Right after
    ``rm -rf`` of the previous round's plan, creating the 168 files of a 50 x 20 plan took
    0.2 s instead of 0.005 s (``perf``: the time is in ``recently_deleted``), the
    harness's cost rather than plan's."""
    removed = False
    for size_dir in (work.iterdir() if work.is_dir() else ()):
        for d in (size_dir.iterdir() if size_dir.is_dir() else ()):
            if d.name.startswith(SCRATCH_PREFIXES) or d.name in ("plan", "file-creation-probe"):
                shutil.rmtree(d, ignore_errors=True)
                removed = True
    if settle and removed:
        print("removed the previous run's plans; waiting 65 s for the file system (see clear_scratch)", flush=True)
        os.sync()  # the inode table blocks clean: the 60-second window, not the 300-second one
        time.sleep(65)


def time_file_creation(plan_dir: Path, scratch: Path) -> float:
    """Seconds to create ``plan_dir``'s files (same names, sizes and directories) afresh
    under ``scratch`` (a new directory, left for :func:`clear_scratch`), in this process,
    with nothing else to do: how much of a first plan is the file system's. Creating a
    file costs from ~20 us to over half a millisecond on the same disk from one hour to
    the next (a first plan of 1,135 files at 50 x 20 took 0.44 s one morning and
    0.72-0.97 s another), so the runner reports it beside the plan."""
    files = [(p.relative_to(plan_dir), p.stat().st_size) for p in sorted(plan_dir.rglob("*")) if p.is_file()]
    start = time.perf_counter()
    made: set[Path] = set()
    for rel, size in files:
        parent = (scratch / rel).parent
        if parent not in made:
            parent.mkdir(parents=True, exist_ok=True)
            made.add(parent)
        with open(scratch / rel, "wb") as fh:
            fh.write(b"x" * size)
    return time.perf_counter() - start


def compile_bytecode() -> None:
    """Compile edgewise's modules to bytecode before timing, as installing a package does
    (pip compiles every module it installs). An editable checkout run with
    PYTHONDONTWRITEBYTECODE set (containers often set it) never writes the bytecode, so
    every timed process would compile every module it imports: ~0.1 s of start-up that
    no installed edgewise pays."""
    import compileall

    import edgewise

    compileall.compile_dir(str(Path(edgewise.__file__).parent), quiet=1)


def warm_code_cache(edgewise: list[str], work: Path) -> None:
    """Run plan and check, untimed, on a small spec, so the timed runs find the code
    cache a user's third run and every later one finds (edgewise/_codecache.py: the code
    dataclasses, typing and re compile as edgewise starts, kept between runs as bytecode
    is). Like :func:`compile_bytecode`, this takes out a cost paid once per install (or
    once per Python version)."""
    spec = write_spec(work / "warm-up" / "spec.yaml", 2, 2)
    out = work / "warm-up" / "plan"
    # three times each: a text is kept the second time it is compiled, and the third run
    # merges the file (_codecache.py)
    for cmd in ([*edgewise, "plan", str(spec), "-o", str(out), "--quiet", "--simulate", "never"],
                [*edgewise, "check", str(out), "--topology", str(spec), "--format", "json"]):
        for _ in range(3):
            subprocess.run(cmd, capture_output=True, check=False, timeout=300)
    # left in place: deleted now, its inodes would slow the timed plans' file creation
    # (clear_scratch removes it at the start of the next run)


def find_helm() -> str | None:
    """helm built by `make bench` / `make lab` (tools/helm-build.sh), else PATH."""
    built = REPO / ".tools" / "bin" / "helm"
    if built.is_file() and os.access(built, os.X_OK):
        return str(built)
    return shutil.which("helm")


def version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.system()} {platform.release()}, "
            f"python {sys.version.split()[0]}; load average at start {load}")


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return None
    return a / b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="*", default=DEFAULT_SIZES)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kustomize-timeout", type=float, default=120.0,
                    help="stop kubectl kustomize after this many seconds (reported as stopped)")
    ap.add_argument("--timeout", type=float, default=900.0, help="stop any other command after this many seconds")
    ap.add_argument("--work", type=Path, default=Path("bench-out"))
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = ap.parse_args()

    compile_bytecode()
    clear_scratch(args.work)
    # the code cache of a user who runs plan and check (warm_code_cache), in the work
    # directory: the user's own may hold what other commands (or a test run given no
    # directory of its own) compiled, and a larger file costs more to read at every start
    os.environ.setdefault("EDGEWISE_CACHE_DIR", str((args.work / "code-cache").resolve()))
    edgewise = [sys.executable, "-m", "edgewise"]
    warm_code_cache(edgewise, args.work)
    kubectl = shutil.which("kubectl")
    helm = find_helm()
    startup = Series()
    for _ in range(max(3, args.rounds)):
        s = timed([*edgewise, "--version"], 60)
        assert s is not None
        startup.samples.append(s)
    tools = {
        "helm": version([helm, "version", "--short"]) if helm else "not installed (make bench builds it)",
        "kubectl": version([kubectl, "version", "--client"]) if kubectl else "not installed",
    }
    print(f"machine: {machine()}")
    print(f"helm {tools['helm']}; kubectl {tools['kubectl']}")
    print(f"edgewise startup (--version): {startup.wall * 1000:.0f} ms", flush=True)

    rows = []
    for size in args.sizes:
        z, s = (int(x) for x in size.split("x"))
        base = args.work / size
        spec = write_spec(base / "spec.yaml", z, s)
        ktree = write_kustomize(base / "kustomize", z, s)
        chart = write_chart(base / "chart", z, s)
        plan, fresh, check, hel, kust = Series(), Series(), Series(), Series(), Series()
        creation: list[float] = []
        for r in range(args.rounds):
            # like for like with helm and kustomize: everything plan writes (check included),
            # but not the routing simulation, which neither has a counterpart for. Timed
            # twice: into an empty directory (first plan), then again over that output (how
            # CI regenerates a plan kept in git: unchanged files are reused, not rewritten)
            # a directory of its own each round (see clear_scratch)
            out = base / f"plan-{r}"
            cmd = [*edgewise, "plan", str(spec), "-o", str(out), "--quiet", "--simulate", "never"]
            first = timed(cmd, args.timeout)
            again = timed(cmd, args.timeout)
            assert first is not None and again is not None, f"{' '.join(cmd)}: stopped after {args.timeout:.0f} s"
            fresh.samples.append(first)
            plan.samples.append(again)
            creation.append(time_file_creation(out, base / f"file-creation-probe-{r}"))
            c = timed([*edgewise, "check", str(out), "--topology", str(spec),
                       "--format", "json", "--fail-on", "error"], args.timeout)
            assert c is not None, f"edgewise check: stopped after {args.timeout:.0f} s"
            check.samples.append(c)
            if helm:
                h = timed([helm, "template", "bench", str(chart)], args.timeout)
                assert h is not None, f"helm template: stopped after {args.timeout:.0f} s"
                hel.samples.append(h)
            else:
                hel.skipped = "helm not installed"
            if kubectl and not kust.skipped:
                k = timed([kubectl, "kustomize", str(ktree)], args.kustomize_timeout)
                if k is None:
                    kust.skipped = f"stopped after {args.kustomize_timeout:.0f} s"
                else:
                    kust.samples.append(k)
            elif not kubectl:
                kust.skipped = "kubectl not installed"
        objects = count_objects(out)
        helm_s = hel.wall if hel.samples else None
        kust_s = kust.wall if kust.samples else None
        row = {
            "size": size, "objects": objects, "rounds": args.rounds,
            "plan_first_s": fresh.wall, "plan_first_rss_mib": fresh.rss, "plan_first_cpu_s": fresh.cpu,
            "plan_s": plan.wall, "plan_rss_mib": plan.rss, "plan_cpu_s": plan.cpu,
            "check_s": check.wall, "check_rss_mib": check.rss, "check_cpu_s": check.cpu,
            "file_creation_s": statistics.median(creation),
            "helm_cpu_s": hel.cpu if hel.samples else None,
            "kustomize_cpu_s": kust.cpu if kust.samples else None,
            "helm_s": helm_s, "helm_rss_mib": hel.rss if hel.samples else None, "helm_note": hel.skipped,
            "kustomize_s": kust_s, "kustomize_rss_mib": kust.rss if kust.samples else None,
            "kustomize_note": kust.skipped,
            "plan_first_vs_helm": ratio(fresh.wall, helm_s), "plan_vs_helm": ratio(plan.wall, helm_s),
            "check_vs_plan_first": ratio(check.wall, fresh.wall), "check_vs_plan": ratio(check.wall, plan.wall),
            "plan_first_vs_kustomize": ratio(fresh.wall, kust_s), "plan_vs_kustomize": ratio(plan.wall, kust_s),
            "samples": {name: [[round(x.wall, 4), round(x.cpu, 4), round(x.rss_mib, 1)] for x in series.samples]
                        for name, series in (("plan_first", fresh), ("plan", plan), ("check", check),
                                             ("helm", hel), ("kustomize", kust))},
        }
        rows.append(row)

        def fmt(v: float | None, unit: str = " s") -> str:
            return f"{v:.2f}{unit}" if v is not None else "n/a"

        print(f"{size:>8}  objects {objects:6d}  first plan {fresh.wall:6.2f} s ({fresh.rss:5.0f} MiB)  "
              f"plan {plan.wall:6.2f} s ({plan.rss:5.0f} MiB)  check {check.wall:6.2f} s ({check.rss:5.0f} MiB)  "
              f"helm template {fmt(helm_s) if hel.samples else '(' + hel.skipped + ')'}  "
              f"kubectl kustomize {fmt(kust_s) if kust.samples else '(' + kust.skipped + ')'}", flush=True)
        print(f"{'':>8}  first plan / helm {fmt(row['plan_first_vs_helm'], 'x')}  plan / helm "
              f"{fmt(row['plan_vs_helm'], 'x')}  check / first plan {fmt(row['check_vs_plan_first'], 'x')}  "
              f"check / plan {fmt(row['check_vs_plan'], 'x')}  first plan / kustomize "
              f"{fmt(row['plan_first_vs_kustomize'], 'x')}  plan / kustomize {fmt(row['plan_vs_kustomize'], 'x')}",
              flush=True)
        print(f"{'':>8}  creating the first plan's files alone (same names and sizes, afresh, same file "
              f"system): {row['file_creation_s']:.2f} s", flush=True)
        print(f"{'':>8}  CPU (user+sys): first plan {fresh.cpu:.2f} s  plan {plan.cpu:.2f} s  check {check.cpu:.2f} s  "
              f"helm template {fmt(row['helm_cpu_s'])}  kubectl kustomize {fmt(row['kustomize_cpu_s'])}", flush=True)

    by_size = {r["size"]: r for r in rows}
    targets = []
    if "200x40" in by_size:
        r = by_size["200x40"]
        targets += [
            ("200x40 first plan / helm template <= 1.0", r["plan_first_vs_helm"], 1.0),
            ("200x40 plan (regenerate) / helm template <= 1.0", r["plan_vs_helm"], 1.0),
            ("200x40 check / first plan <= 1.0", r["check_vs_plan_first"], 1.0),
            ("200x40 check / plan (regenerate) <= 1.0", r["check_vs_plan"], 1.0),
            ("200x40 peak RSS of plan and check < 1024 MiB",
             max(r["plan_first_rss_mib"], r["plan_rss_mib"], r["check_rss_mib"]), 1024.0),
        ]
    if "50x20" in by_size:
        r = by_size["50x20"]
        targets += [("50x20 first plan / kubectl kustomize <= 0.08", r["plan_first_vs_kustomize"], 0.08),
                    ("50x20 plan (regenerate) / kubectl kustomize <= 0.08", r["plan_vs_kustomize"], 0.08)]
    for name, value, limit in targets:
        met = "n/a" if value is None else ("met" if value <= limit else "NOT met")
        print(f"target {name}: {'n/a' if value is None else f'{value:.3g}'} {met}")
    if len(rows) >= 2:
        small, big = rows[0], rows[-1]
        st = startup.wall
        per_obj = max(small["plan_first_s"] - st, 1e-9) / small["objects"]
        predicted = st + per_obj * big["objects"]
        print(f"linearity: {big['size']} first plan {big['plan_first_s']:.2f} s vs {predicted:.2f} s predicted "
              f"from {small['size']} scaled by objects (startup {st:.2f} s apart): "
              f"ratio {big['plan_first_s'] / predicted:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "tools": tools, "startup_s": startup.wall,
                                         "rows": rows,
                                         "targets": [{"target": n, "value": v, "limit": lim} for n, v, lim in targets]},
                                        indent=2))
    clear_scratch(args.work, settle=False)  # every timed command has run


if __name__ == "__main__":
    main()
