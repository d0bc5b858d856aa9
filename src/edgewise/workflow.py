"""`edgewise plan`: compile everything, check it, simulate it, report, write atomically.

This is the top of the layer stack (it may import every layer below); the CLI only
parses options and prints what this returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .plan.artifacts import Artifact, render_tree, write_tree
from .spec import Spec, load_spec
from .topology import Topology, build_topology

__all__ = ["PlanRefused", "PlanResult", "run_plan"]

Progress = Callable[[str], None]


class PlanRefused(Exception):
    """check found errors in what plan generated: nothing was written (exit code 1)."""

    def __init__(self, result: PlanResult) -> None:
        self.result = result
        super().__init__(f"{result.error_count} check error(s) in the generated plan; nothing written")


@dataclass
class PlanResult:
    spec: Spec
    topology: Topology
    files: dict[str, str]
    app_summaries: list[Any] = field(default_factory=list)
    findings: list[Any] = field(default_factory=list)
    simulation: Any = None
    routes_verified: int = 0

    @property
    def error_count(self) -> int:
        return sum(1 for f in self.findings if getattr(f, "severity", "") == "error")


def _objects_with_sources(artifacts: Sequence[Artifact]) -> list[tuple[dict[str, Any], Any]]:
    from .k8s.inventory import Source

    out: list[tuple[dict[str, Any], Any]] = []
    for a in artifacts:
        if a.docs is None or not a.path.startswith("apps/") and not a.path.startswith("cluster/addons/"):
            continue
        line = 1
        for i, doc in enumerate(a.docs):
            out.append((dict(doc), Source(a.path, line + 1, i)))
            line += Artifact(a.path, docs=(doc,)).render().count("\n")
    return out


def run_plan(
    spec_paths: Sequence[Path],
    out_dir: Path | None,
    *,
    progress: Progress = lambda _msg: None,
    simulate_requests: int = 400,
    seed: int = 0,
) -> PlanResult:
    from .check import check_objects
    from .plan.apps import plan_application
    from .plan.cluster import plan_cluster
    from .report import render_report

    progress("loading spec")
    spec = load_spec(list(spec_paths))
    topo = build_topology(spec)
    app_names = [a.metadata.name for a, _ in spec.applications]

    progress("planning cluster")
    artifacts: list[Artifact] = list(plan_cluster(topo, app_names))
    summaries = []
    for app, _doc in spec.applications:
        progress(f"planning application {app.metadata.name}")
        ap = plan_application(topo, app)
        artifacts.extend(ap.artifacts)
        summaries.append(ap)

    progress("checking the plan")
    cluster_config = next((a.docs[0] for a in artifacts if a.path == "cluster/eksctl.yaml" and a.docs), None)
    cfn = [(a.path, a.docs[0]) for a in artifacts if a.path.endswith(".cfn.yaml") and a.docs]
    findings = check_objects(_objects_with_sources(artifacts), topo,
                             cluster_config=cluster_config, cfn_templates=cfn)

    simulation = None
    if spec.applications:
        progress("simulating routing strategies")
        from .simulate import simulate

        simulation = simulate(spec, topo, requests=simulate_requests, seed=seed)

    result = PlanResult(spec=spec, topology=topo, files={}, app_summaries=summaries,
                        findings=list(findings), simulation=simulation)
    progress("writing the report")
    report_artifacts = render_report(result)
    result.files = render_tree([*artifacts, *report_artifacts])
    if result.error_count:
        raise PlanRefused(result)
    if out_dir is not None:
        progress(f"writing {out_dir}")
        write_tree(out_dir, result.files)
    return result


def load_and_build(spec_paths: Sequence[Path]) -> tuple[Spec, Topology]:
    spec = load_spec(list(spec_paths))
    return spec, build_topology(spec)


__all__ += ["InputError", "load_and_build"]
