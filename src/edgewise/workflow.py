"""`edgewise plan`: compile everything, check it, simulate it, report, write atomically.

This is the top of the layer stack (it may import every layer below); the CLI only
parses options and prints what this returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import forked, gcpause
from .check.finding import Finding, Severity
from .plan.outdir import previous_plan_files, resolve_target
from .spec import Application, Document, Routing, Spec, load_spec
from .topology import Topology, build_topology

# What plans, renders and writes (plan.apps, plan.cluster, plan.artifacts, report,
# yamlout: ~25 ms to import at start-up) is imported where it is first used, once the
# spec is loaded and sent to check's forked child, which imports the rules meanwhile
# (run_plan): the spec is ready that much sooner, and check starts that much sooner.
if TYPE_CHECKING:
    from .check import CfnTemplate
    from .k8s.inventory import Source
    from .plan.apps import AppPlan
    from .plan.artifacts import Artifact
    from .simulate import SimulationResult

__all__ = ["PlanRefused", "PlanResult", "run_plan"]

Progress = Callable[[str], None]

#: requests sampled by plan's embedded simulation (strategies x scenarios x user zones x
#: requests); above it plan simulates a deterministic subset of the scenarios and says so.
#: `edgewise simulate` always runs every scenario.
PLAN_SIMULATION_BUDGET = 3_000_000
#: the latency plot gets one group of bars per user zone; beyond this it is unreadable.
#: It is also where `plan --simulate auto` stops simulating: simulation cost grows with
#: zones x scenarios x user zones; run `edgewise simulate` on large topologies.
PLOT_MAX_ZONES = 40
STRATEGY_COUNT = 4


def plan_scenarios(topology: Topology, app: Application, requests: int) -> tuple[list[str] | None, int]:
    """Scenario names plan simulates (None = all) and how many exist."""
    from .simulate.scenarios import default_scenarios

    names = [s.name for s in default_scenarios(topology, app)]
    fixed = [n for n in names if n == "steady" or n.startswith("az-lost:")]
    cap = max(len(fixed) + 1, PLAN_SIMULATION_BUDGET // (requests * len(topology.zones) * STRATEGY_COUNT))
    if len(names) <= cap:
        return None, len(names)
    rest = [n for n in names if n not in fixed]
    k = cap - len(fixed)
    step = len(rest) / k
    return fixed + [rest[int(i * step)] for i in range(k)], len(names)


@dataclass
class PlanResult:
    spec: Spec
    topology: Topology
    files: dict[str, str]
    app_plans: list[AppPlan] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    simulation: SimulationResult | None = None
    #: call routes check resolved (per caller zone) and verified against the network
    routes_verified: int = 0

    @property
    def error_count(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    def objects_per_namespace(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for path, content in self.files.items():
            parts = path.split("/")
            if len(parts) == 4 and parts[0] == "apps" and path.endswith(".yaml"):
                counts[parts[2]] = counts.get(parts[2], 0) + content.count("\nkind: ") + content.startswith("kind: ")
        return dict(sorted(counts.items()))


class PlanRefused(Exception):
    """check found errors in what plan generated: nothing was written (exit code 1)."""

    def __init__(self, result: PlanResult) -> None:
        self.result = result
        super().__init__(f"{result.error_count} check error(s) in the generated plan; nothing written")


def _render_with_lines(artifact: Artifact) -> tuple[str, list[int]]:
    """The artifact's text and the 1-based line of each document's first key.

    Each document's text starts with its own ``---``, so joined they are exactly what
    dumping them together writes: the text is rendered once and serves both the line
    numbers for check's findings and the file plan writes."""
    from .yamlout import documents

    assert artifact.docs is not None
    parts = documents(artifact.docs)
    lines, line = [], 1
    for part in parts:
        lines.append(line + 1)  # after the '---' marker
        line += part.count("\n")
    return "".join(parts), lines


def _checked_objects(path: str) -> bool:
    """Files whose documents check examines as Kubernetes objects (rendered with lines);
    CloudFormation templates and the eksctl config are examined as what they are."""
    return (path.startswith(("apps/", "cluster/addons/"))
            and not path.endswith(("kustomization.yaml", "values.yaml", ".cfn.yaml")))


#: a key of a CloudFormation template as plan writes it (block style, two spaces a level),
#: at the start of a line: a top-level section, or (indented once) a parameter, resource or
#: output
_TEMPLATE_KEY = re.compile(r"( ?)( ?)([A-Za-z][A-Za-z0-9]*):")
_TEMPLATE_SECTIONS = {"Parameters", "Resources", "Outputs", "Mappings", "Conditions"}


def _template_document(path: str, text: str, body: Mapping[str, Any]) -> Document:
    """A CloudFormation template plan writes, with the line of each section and of each
    parameter, resource and output in ``text`` (the file as written): check's findings
    on it (EW122 names the section over a quota) point at those lines."""
    positions: dict[tuple[str | int, ...], tuple[int, int]] = {}
    section = ""
    # line by line, the pattern tried only where a line is indented less than three
    # spaces: searching the text with ``^`` and ``re.M`` tries it at every character
    # (a 50-zone plan's templates took 25 M instructions there, in check's child)
    for line, row in enumerate(text.split("\n"), 1):
        if row.startswith("   ") or (m := _TEMPLATE_KEY.match(row)) is None:
            continue
        if not m.group(1):
            section = m.group(3)
            positions[(section,)] = (line, 1)
            positions.setdefault((), (line, 1))
        elif m.group(2) and section in _TEMPLATE_SECTIONS:
            positions[(section, m.group(3))] = (line, 3)
    first = positions.get((), (1, 1))[0]
    return Document(path, 0, first, body, positions)


def _check_inputs(artifacts: Sequence[Artifact]) -> tuple[
        list[tuple[Mapping[str, Any], Source]], Mapping[str, Any] | None, list[CfnTemplate],
        dict[tuple[str, int], Document]]:
    """What plan's check examines. The objects' sources carry the document's ordinal
    (1, 2, ...) as their line: check needs no rendered text, and :func:`_placed` turns the
    findings' ordinals into the rendered files' lines afterwards. CloudFormation templates
    (the cluster's and each application's Route 53 records, ``apps/<app>/dns*.cfn.yaml``)
    come with their documents' lines (:func:`_template_document`)."""
    from .check import CfnTemplate
    from .k8s.inventory import Source

    objects: list[tuple[Mapping[str, Any], Source]] = []
    cluster_config: Mapping[str, Any] | None = None
    cfn: list[CfnTemplate] = []
    documents: dict[tuple[str, int], Document] = {}
    for a in artifacts:
        if a.docs is None:
            continue
        if a.path == "cluster/eksctl.yaml":
            cluster_config = a.docs[0]
        elif a.path.endswith(".cfn.yaml"):
            text = a.render()
            doc = _template_document(a.path, text, a.docs[0])
            documents[(a.path, 0)] = doc
            cfn.append(CfnTemplate(a.docs[0], Source(a.path, doc.line, 0), len(text.encode())))
        elif _checked_objects(a.path):
            for i, d in enumerate(a.docs):
                objects.append((d, Source(a.path, i + 1, i)))
    return objects, cluster_config, cfn, documents


def _check(artifacts: Sequence[Artifact], topo: Topology, edition: str | None, *,
           fork: bool | None = False) -> tuple[list[Finding], int]:
    """check of the generated objects: findings (document ordinals for lines, see
    :func:`_check_inputs`) and the number of call routes verified. Runs in a forked
    child beside rendering and writing, or in this process (:mod:`edgewise.forked`)."""
    from .check import check_objects

    objects, cluster_config, cfn, documents = _check_inputs(artifacts)
    checked = check_objects(objects, topo, cluster_config=cluster_config, cfn_templates=cfn,
                            documents=documents, consul_edition=edition, fork=fork)
    return list(checked.findings), checked.routes_verified


def _placed(findings: Sequence[Finding], lines: Mapping[str, Sequence[int]]) -> list[Finding]:
    """Findings with each document ordinal replaced by its line in the rendered file,
    sorted. Within a file the ordinals and the lines grow together, so the findings'
    identity and order are those of a check that saw the lines themselves."""
    out = []
    for f in findings:
        starts = lines.get(f.file)
        if starts is not None and 0 < f.line <= len(starts):
            f = dataclasses.replace(f, line=starts[f.line - 1])
        out.append(f)
    return sorted(out)


def run_plan(
    spec_paths: Sequence[Path],
    out_dir: Path | None,
    *,
    progress: Progress = lambda _msg: None,
    simulate_requests: int = 500,
    seed: int = 0,
    with_simulation: bool | None = None,
    fork: bool | None = None,
) -> PlanResult:
    """Plan ``spec_paths`` into ``out_dir`` (None: compute only). Raises
    :class:`~edgewise.errors.InputError` on bad input and :class:`PlanRefused` when the
    generated output does not pass check; in both cases nothing is written.

    ``fork``: check the generated objects in a child forked before the spec is loaded,
    beside loading, planning, rendering and writing (True; the child imports the rules
    while this process loads the spec, is sent the spec, and plans the applications'
    objects itself, :func:`_check_planned`), or in this process (False); None: fork
    where that can use a second CPU (:func:`edgewise.forked.can_fork`). The result is
    the same either way."""
    # a plan allocates hundreds of thousands of dicts, lists and strings that live until
    # it is written, and about 500 objects in cycles (50 x 20): collections during it
    # find nothing (measured at 200 x 40: 1.95 s -> 1.46 s of plan's main thread). Not
    # frozen: the plan is dropped afterwards and its cycles must still be collectable.
    with gcpause.paused():
        return _run_plan(spec_paths, out_dir, progress=progress, simulate_requests=simulate_requests, seed=seed,
                         with_simulation=with_simulation, fork=fork)


def _run_plan(
    spec_paths: Sequence[Path],
    out_dir: Path | None,
    *,
    progress: Progress,
    simulate_requests: int,
    seed: int,
    with_simulation: bool | None,
    fork: bool | None,
) -> PlanResult:
    if out_dir is not None:
        # refuse an output directory plan must not replace before doing any work
        previous_plan_files(resolve_target(out_dir))
    if fork is None:
        # a child of a process with other threads gets a copy of one of them, and could
        # wait forever on a lock (the import lock among them) another one held
        fork = forked.can_fork() and threading.active_count() == 1

    with contextlib.ExitStack() as stack:
        checking: forked.Call[tuple[list[Finding], int]] | None = None
        if fork:
            # check runs in a child forked now, before this process loads the spec or
            # starts the writer's thread, beside everything it does from here on
            # (forked.py): the child imports the rules meanwhile, is sent the spec, plans
            # the applications' objects itself while this process plans the cluster's,
            # and is sent those (_check_planned)
            checking = stack.enter_context(forked.start_fed(_check_planned, fork=True))
            if not checking.forked:  # no process to spare: check this process's objects below
                checking = None
        progress("loading spec")
        spec = load_spec(list(spec_paths))
        topo = build_topology(spec)
        app_names = [a.metadata.name for a, _ in spec.applications]
        controller = any(a.spec.routing is Routing.KUBERNETES for a, _ in spec.applications)
        edition = _consul_edition(spec)
        if checking is not None:
            checking.send((spec, topo))
        from .plan.cluster import cluster_objects, plan_cluster

        progress(f"planning cluster ({len(topo.zones)} zones)")
        cluster = cluster_objects(topo, controller=controller)
        if checking is not None:
            checking.send(cluster.artifacts)
        from .plan.apps import plan_application
        from .plan.apps.install import dns_steps, install_steps
        from .plan.artifacts import TreeWriter
        from .plan.specsnap import snapshot_files

        app_plans: list[AppPlan] = []
        app_artifacts: list[Artifact] = []
        for app, doc in spec.applications:
            progress(f"planning application {app.metadata.name} ({len(app.spec.services)} services)")
            ap = plan_application(topo, app, doc)
            app_artifacts.extend(ap.artifacts)
            app_plans.append(ap)
        with_plans = [(a, p) for (a, _), p in zip(spec.applications, app_plans, strict=True)]
        steps = [*install_steps(topo, with_plans), *dns_steps(topo, with_plans)]
        artifacts: list[Artifact] = [
            *plan_cluster(topo, app_names, steps, controller=controller, objects=cluster), *app_artifacts]
        if checking is None:  # these very objects, checked in this process when the result is asked for
            checking = stack.enter_context(forked.start(lambda: _check(artifacts, topo, edition), fork=False))

        files: dict[str, str] = {}
        lines: dict[str, list[int]] = {}
        for a in artifacts:
            if a.path in files:
                raise ValueError(f"two artifacts write {a.path}")  # a bug in a generator
            if a.docs is not None and _checked_objects(a.path):
                files[a.path], lines[a.path] = _render_with_lines(a)
            else:
                files[a.path] = a.render()
        # the spec this plan was made from (spec/), for verify and check of the plan directory
        for path, text in snapshot_files(spec_paths).items():
            if path in files:
                raise ValueError(f"two artifacts write {path}")  # a bug in a generator
            files[path] = text
        writer = None
        if out_dir is not None:
            # files are written to a temporary directory while check runs; they replace
            # out_dir only if check passes
            writer = stack.enter_context(TreeWriter(out_dir))
            writer.add(files)
        result = _finish(spec, topo, app_plans, files, lines, checking, progress=progress,
                         simulate_requests=simulate_requests, seed=seed, with_simulation=with_simulation)
        if writer is not None:
            progress(f"writing {out_dir}")
            writer.add({p: result.files[p] for p in result.files if p not in files})
            writer.commit()
    gcpause.keep(artifacts, cluster)  # the program ends soon: its exit drops them (gcpause.keep)
    return result


def _check_planned(receive: forked.Receive) -> tuple[list[Finding], int]:
    """check of this plan's objects, in check's forked child. It imports the rules while
    the parent loads the spec, is sent the spec and its topology, plans the
    applications' objects itself (planning is deterministic: these are the objects the
    parent renders and writes; ``tests/test_plan_forked_check.py`` holds the forked and
    in-process paths together), and is sent the cluster's
    (:func:`~edgewise.plan.cluster.cluster_objects`, which the parent plans meanwhile;
    the RUNBOOK, which check does not read, comes after both). So check starts once the
    slower of the two is built rather than after both, and touches fewer of the parent's
    pages (each first write to one is a copy)."""
    from .check import select_rules
    from .plan.apps import plan_application

    select_rules()  # imports the rules, the inventory and the route resolver
    spec: Spec
    topo: Topology
    spec, topo = receive()
    apps = [a for app, doc in spec.applications for a in plan_application(topo, app, doc).artifacts]
    cluster: tuple[Artifact, ...] = receive()
    return _check([*cluster, *apps], topo, _consul_edition(spec), fork=None)


def _consul_edition(spec: Spec) -> str | None:
    """The Consul edition the spec's applications route with (check's EW4xx rules judge
    Consul's objects against it): None when none routes with Consul."""
    routings = {a.spec.routing for a, _ in spec.applications}
    if Routing.CONSUL in routings:
        return "ce"
    return "enterprise" if Routing.CONSUL_ENTERPRISE in routings else None


def _finish(spec: Spec, topo: Topology, app_plans: list[AppPlan], files: dict[str, str],
            lines: Mapping[str, Sequence[int]], checking: forked.Call[tuple[list[Finding], int]], *,
            progress: Progress, simulate_requests: int, seed: int, with_simulation: bool | None) -> PlanResult:
    """Simulate and draft the report (while check runs), take check's findings, finish
    the report; raise PlanRefused on check errors."""
    progress("checking the plan")
    simulation = None
    sim_note: str | None = None
    if with_simulation is None:
        with_simulation = len(topo.zones) <= PLOT_MAX_ZONES
        if not with_simulation and spec.applications:
            sim_note = (f"not simulated: {len(topo.zones)} zones is more than plan simulates by default "
                        f"({PLOT_MAX_ZONES}); run `edgewise simulate` or `plan --simulate always`")
    if spec.applications and with_simulation:
        from .simulate.api import simulate  # numpy: imported only when simulating

        app = spec.applications[0][0]
        chosen, total = plan_scenarios(topo, app, simulate_requests)
        if chosen is not None:
            sim_note = (f"{len(chosen)} of {total} scenarios simulated here (steady, every AZ lost, and an "
                        f"even sample of the rest); `edgewise simulate` runs them all")
        progress(f"simulating routing strategies ({len(chosen) if chosen else total} scenarios)")
        simulation = simulate(spec, topo, requests=simulate_requests, seed=seed,
                              application=app.metadata.name, scenarios=chosen)

    from .report import ReportDraft

    # all of the report but the findings is written while check runs
    draft = ReportDraft(topo, app_plans, simulation, simulation_note=sim_note,
                        plot=len(topo.zones) <= PLOT_MAX_ZONES)
    findings, routes_verified = checking.result()
    result = PlanResult(spec=spec, topology=topo, files={}, app_plans=app_plans,
                        findings=_placed(findings, lines), simulation=simulation,
                        routes_verified=routes_verified)
    progress("writing the report")
    report_files: dict[str, str] = {}
    for a in draft.finish(result.findings):
        if a.path in files or a.path in report_files:
            raise ValueError(f"two artifacts write {a.path}")  # a bug in a generator
        report_files[a.path] = a.render()
    result.files = dict(sorted({**files, **report_files}.items()))
    if result.error_count:
        raise PlanRefused(result)  # the writer is aborted on the way out: nothing is written
    return result
