"""The layout of an application's files: a few files per site directory, not one per
service (creating files is most of a first plan's time on a slow disk), and what reads
the layout follows it: the RUNBOOK's Secrets step, ``check`` of a plan directory."""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLES_DIR
from edgewise.check import check_paths
from edgewise.plan.apps import AppPlan, plan_application
from edgewise.plan.cluster.steps import runbook_from_json
from edgewise.spec import load_spec
from edgewise.topology import build_topology
from edgewise.workflow import run_plan

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the benchmark's spec generator
from benchmarks.generate import write_spec  # noqa: E402

SITE_FILES = {"namespace.yaml", "services.yaml", "ingress.yaml"}


def bench_plan(tmp_path: Path, zones: int, services: int) -> AppPlan:
    spec = load_spec(write_spec(tmp_path / f"{zones}x{services}" / "spec.yaml", zones, services))
    (app, _doc), = spec.applications
    return plan_application(build_topology(spec), app)


def site_dirs(plan: AppPlan) -> dict[str, set[str]]:
    """apps/<app>/<dir>/ -> the names of the files in it."""
    out: dict[str, set[str]] = {}
    for a in plan.artifacts:
        parts = a.path.split("/")
        if len(parts) == 4:
            out.setdefault(parts[2], set()).add(parts[3])
    return out


def test_files_per_application_follow_the_namespaces_not_the_services(tmp_path: Path) -> None:
    p20, p40 = bench_plan(tmp_path, 50, 20), bench_plan(tmp_path, 50, 40)
    dirs = site_dirs(p20)
    assert len(dirs) == 51  # 50 edge zones and the Region
    for d, files in dirs.items():
        assert {"namespace.yaml", "services.yaml"} <= files <= SITE_FILES, d
    # one per site holds all of the site's per-service objects: 20 services or 40, the same files
    assert site_dirs(p40) == dirs
    assert sorted(a.path for a in p40.artifacts) == sorted(a.path for a in p20.artifacts)
    copies = sum(len(s.services) for s in p20.sites)
    assert copies > 800 and len(p20.artifacts) <= 3 * len(dirs) + 4
    # ... while the objects still grow with the services
    assert sum(len(a.docs or ()) for a in p40.artifacts) > 1.8 * sum(len(a.docs or ()) for a in p20.artifacts)


def test_a_first_plan_at_50x20_writes_a_few_files_per_namespace(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec" / "spec.yaml", 50, 20)
    out = tmp_path / "plan"
    run_plan([spec], out, with_simulation=False)
    files = [p for p in out.rglob("*") if p.is_file()]
    apps = [p for p in files if p.relative_to(out).parts[0] == "apps"]
    namespaces = {d.name for d in (out / "apps" / "bench").iterdir() if d.is_dir()}
    assert len(namespaces) == 51
    assert len(apps) <= 3 * len(namespaces) + 4  # was one file per Service per namespace: 1,122
    assert len(files) < 200


def test_a_services_file_holds_every_service_of_its_site(tmp_path: Path) -> None:
    """Each Deployment (and its Service) of a site is in the site's services.yaml, in
    service-name order; nothing per service is left in a file of its own."""
    plan = bench_plan(tmp_path, 4, 12)
    by_path = {a.path: a for a in plan.artifacts}
    for site in plan.sites:
        d = f"apps/{plan.app}/{site.namespace}"
        docs = by_path[f"{d}/services.yaml"].docs or ()
        workloads = [o["metadata"]["name"] for o in docs if o["kind"] in ("Deployment", "StatefulSet")]
        assert workloads == sorted(c.workload for c in site.services), d
        assert {o["metadata"]["name"] for o in docs if o["kind"] == "Service"} >= set(workloads)
        assert [o["kind"] for o in by_path[f"{d}/namespace.yaml"].docs or ()] == ["Namespace"]


def _expand(command: str) -> list[str]:
    """The files of ``kubectl apply -f ...`` as bash expands them (one brace group)."""
    paths = [w for flag, w in itertools.pairwise(command.split()) if flag == "-f"]
    out = []
    for p in paths:
        m = re.fullmatch(r"(.*)\{(.*)\}(.*)", p)
        out += [f"{m[1]}{x}{m[3]}" for x in m[2].split(",")] if m else [p]
    return out


@pytest.mark.parametrize(("example", "routing"), [("local-zones-hashicups", "consul-enterprise"),
                                                  ("outposts", "istio")])
def test_the_secrets_step_applies_the_namespace_files_the_plan_wrote(example: str, routing: str,
                                                                     tmp_path: Path) -> None:
    """Per-zone namespaces and the one shared namespace of routing istio (whose Namespace
    is apps/<app>/namespace.yaml, not in a site directory)."""
    spec = load_spec(EXAMPLES_DIR / example)
    (app, _), = spec.applications
    assert app.spec.routing == routing
    out = tmp_path / "plan"
    run_plan([EXAMPLES_DIR / example], out, with_simulation=False)
    step = runbook_from_json((out / "runbook.json").read_text()).step(f"secrets-{app.metadata.name}")
    applies = [a.line for a in step.actions if getattr(a, "line", "").startswith("kubectl apply -f")]
    assert len(applies) == 1
    files = _expand(applies[0])
    namespaces = {m[1] for m in re.finditer(r"kubectl -n (\S+) create secret", "\n".join(
        a.line for a in step.actions if hasattr(a, "line")))}
    assert namespaces
    applied = set()
    for f in files:
        docs = list(yaml.safe_load_all((out / f).read_text()))
        assert [d["kind"] for d in docs] == ["Namespace"], f
        applied.add(docs[0]["metadata"]["name"])
    assert applied == namespaces


def test_check_of_a_plan_points_into_the_middle_of_a_services_file(tmp_path: Path) -> None:
    """A finding on an object between other services' objects in one services.yaml names
    that file and the line of that object's container."""
    out = tmp_path / "plan"
    run_plan([EXAMPLES_DIR / "local-zones-hashicups"], out, with_simulation=False)
    path = out / "apps" / "hashicups" / "hashicups-lax-1a" / "services.yaml"
    lines = path.read_text(encoding="utf-8").split("\n")
    starts = [i for i, line in enumerate(lines) if line == "---"]
    ends = [*starts[1:], len(lines)]
    docs = [(s, yaml.safe_load("\n".join(lines[s + 1: e]))) for s, e in zip(starts, ends, strict=True)]
    target = next(i for i, (_, d) in enumerate(docs)
                  if (d["kind"], d["metadata"]["name"]) == ("Deployment", "product-api"))
    owners = {d["metadata"]["name"] for _, d in docs[:target]}, {d["metadata"]["name"] for _, d in docs[target + 1:]}
    assert "frontend" in owners[0] and "public-api" in owners[1], "the object is between other services'"
    # take the memory limit off that one container
    start = docs[target][0]
    end = ends[target]
    limits = next(i for i in range(start, end) if lines[i].strip() == "limits:")
    assert lines[limits + 1].strip().startswith("memory:") and lines[limits + 2].strip() != "cpu:"
    del lines[limits: limits + 2]
    path.write_text("\n".join(lines), encoding="utf-8")
    container = next(i for i in range(start, end) if lines[i].strip() == "- name: product-api"
                     and lines[i - 1].strip() == "containers:")
    report = check_paths([out], build_topology(load_spec(EXAMPLES_DIR / "local-zones-hashicups")), select=["EW252"])
    assert [(f.rule, f.object, f.file, f.line) for f in report.findings] == [
        ("EW252", "Deployment hashicups-lax-1a/product-api", str(path), container + 1)]
