"""Run the rules: select/ignore, inline suppressions, the report and its exit code."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import forked, gcpause
from ..errors import InputError
from ..k8s.inventory import WORKLOAD_KINDS, InferredNode, Inventory, InventoryParts, Source
from ..spec import Document
from ..topology import Topology
from .inputs import HelmOptions, gc_paused, infer_topology, load_paths, topology_from_documents
from .model import CfnTemplate, CheckContext, Finding, Rule, Severity
from .rules import all_rules
from .taints import TaintAssumption, decide_taints

__all__ = [
    "IGNORE_ANNOTATION",
    "Report",
    "check_cluster",
    "check_objects",
    "check_paths",
    "run_rules",
    "select_rules",
]

IGNORE_ANNOTATION = "edgewise.dev/ignore"
#: kinds some rule or the resolver reads; anything else is indexed but not examined
EXAMINED_KINDS = WORKLOAD_KINDS | {
    "Service",
    "Ingress",
    "Namespace",
    "ConfigMap",
    "ClusterConfig",
    "ConsulHelmValues",
    "ServiceResolver",
    "ServiceIntentions",
    "ServiceDefaults",
    "ProxyDefaults",
    "ServiceRouter",
    "ServiceSplitter",
    "DestinationRule",
}


@dataclass
class Report:
    """The result of a check run."""

    findings: list[Finding]
    suppressed: list[tuple[Finding, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    topology: Topology | None = None
    objects: int = 0
    rules: tuple[Rule, ...] = ()
    routes_verified: int = 0  # (call, caller zone) pairs resolved by the east-west rules
    assumptions: list[str] = field(default_factory=list)  # what check assumed where the inputs are silent

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def exit_code(self, fail_on: Severity | str = Severity.ERROR) -> int:
        """0 when nothing reaches ``fail_on``, else 1."""
        threshold = Severity(fail_on).rank
        return 1 if any(f.severity.rank >= threshold for f in self.findings) else 0


def select_rules(select: Sequence[str] = (), ignore: Sequence[str] = ()) -> tuple[Rule, ...]:
    """Rules whose id starts with a ``select`` prefix (all if none) and no ``ignore`` prefix."""
    sel = [s.strip().upper() for s in select if s.strip()]
    ign = [s.strip().upper() for s in ignore if s.strip()]
    return tuple(
        r
        for r in all_rules()
        if (not sel or any(r.id.startswith(s) for s in sel)) and not any(r.id.startswith(i) for i in ign)
    )


def _parse_ignores(value: str) -> dict[str, str]:
    """``"EW301=why; EW2=other reason"`` -> {"EW301": "why", "EW2": "other reason"}.

    An entry without a reason is not honoured: suppressions must say why.
    """
    out: dict[str, str] = {}
    for part in value.replace(";", ",").split(","):
        rule, _, reason = part.partition("=")
        if rule.strip() and reason.strip():
            out[rule.strip().upper()] = reason.strip()
    return out


def run_rules(ctx: CheckContext, rules: Iterable[Rule]) -> tuple[list[Finding], list[tuple[Finding, str]]]:
    """Findings (sorted, deduplicated) and the ones suppressed inline with their reason."""
    ignores: dict[str, dict[str, str]] = {}
    for o in ctx.inventory.objects:
        value = o.annotations.get(IGNORE_ANNOTATION)
        if value:
            ignores[o.ref] = _parse_ignores(value)
    kept: set[Finding] = set()
    suppressed: set[tuple[Finding, str]] = set()
    for rule in rules:
        for f in rule.check(ctx):
            mine = ignores.get(f.object, {})
            reason = next((r for k, r in mine.items() if f.rule.startswith(k)), None)
            if reason is not None:
                suppressed.add((f, reason))
            else:
                kept.add(f)
    return sorted(kept), sorted(suppressed)


#: rules that resolve call routes run in the calling process: what they resolve is
#: reported after them (routes verified, calls inferred); the others may run beside them
#: in a forked child (:func:`run_rules_forked`)
ROUTING_RULES = "EW3"


def run_rules_forked(ctx: CheckContext, rules: Sequence[Rule], *, fork: bool | None = None) -> tuple[
        list[Finding], list[tuple[Finding, str]]]:
    """:func:`run_rules`, on both CPUs: a child forked with everything the rules read
    already built (:mod:`edgewise.forked`) runs rules while this process runs the routing
    rules, then joins it. The rules that do not resolve routes are shared out between the
    two as each is free for the next one (:class:`edgewise.forked.Shares`): how much
    routing there is to resolve differs from one set of manifests to the next (none
    without calls, 60 % of the rules' work at 200 x 40), and neither process waits for
    the other while rules are left. Each rule reads the same context wherever it runs
    and the findings are one sorted set, so the result is :func:`run_rules`'s.

    ``fork=None``: fork where it can use another CPU and no other thread runs here (a
    child gets a copy of one thread only); False: run every rule here."""
    if fork is None:
        fork = forked.can_fork() and threading.active_count() == 1
    here = [r for r in rules if r.id.startswith(ROUTING_RULES)]
    shared = [r for r in rules if not r.id.startswith(ROUTING_RULES)]
    if not fork or not shared:
        return run_rules(ctx, rules)
    with (
        forked.Shares(len(shared)) as shares,
        forked.start(lambda: run_rules(ctx, (shared[i] for i in shares.take())), fork=True) as call,
    ):
        # the routing rules first, then whatever shared rules the child has not taken yet
        kept, suppressed = run_rules(ctx, itertools.chain(here, (shared[i] for i in shares.take())))
        kept_there, suppressed_there = call.result()
    return sorted({*kept, *kept_there}), sorted({*suppressed, *suppressed_there})


def check_objects(
    objects_with_sources: Iterable[tuple[Mapping[str, Any], Source]] | InventoryParts,
    topology: Topology | None,
    cluster_config: Mapping[str, Any] | None = None,
    cfn_templates: Iterable[Mapping[str, Any] | CfnTemplate] = (),
    *,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    documents: Mapping[tuple[str, int], Document] | None = None,
    edge_taints: bool = True,
    zone_taints: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
    consul_edition: str | None = None,
    topology_inferred: bool = False,
    nodes: Sequence[InferredNode] | None = None,
    fork: bool | None = False,
) -> Report:
    """Check objects held in memory (``plan`` runs this on its own output): the whole
    :class:`Report` (findings, notes, suppressed findings, how many call routes were
    resolved and verified).

    ``cluster_config`` is an eksctl ClusterConfig dict; ``cfn_templates`` are template
    dicts (or :class:`CfnTemplate` with their source). ``fork``: run the rules on both
    CPUs (:func:`run_rules_forked`; None: where that can help); the report is the same.
    The objects may come already made ready for the inventory, as they were read
    (:class:`InventoryParts`, :func:`edgewise.check.inputs.load_paths`); this takes them over.
    """
    parts = InventoryParts.of(objects_with_sources)
    if cluster_config is not None:
        parts.add(cluster_config, Source("", 0, 0))
    cfn = [t if isinstance(t, CfnTemplate) else CfnTemplate(t, Source("", 0, i)) for i, t in enumerate(cfn_templates)]
    inv = Inventory.from_objects(
        parts, topology, edge_taints=edge_taints, zone_taints=zone_taints, consul_edition=consul_edition, nodes=nodes
    )
    ctx = CheckContext(
        inventory=inv,
        topology=topology,
        cfn_templates=cfn,
        documents=documents or {},
        # "edge nodes are tainted" as the nodes say: edgewise's taint, a declared one, eksctl's
        edge_taints=any(
            t.get("effect") in ("NoSchedule", "NoExecute")
            for n in inv.nodes
            if topology is not None and topology.zone(n.zone).is_edge
            for t in n.taints
        ),
        consul_edition=consul_edition,
        topology_inferred=topology_inferred,
    )
    rules = select_rules(select, ignore)
    with gc_paused():  # the rules build many long-lived indexes and resolutions
        findings, suppressed = run_rules_forked(ctx, rules, fork=fork)
    notes = [f"{s.file}:{s.line}: skipped ({why})" for s, why in inv.skipped]
    unknown = sorted({o.kind for o in inv.objects if o.kind not in EXAMINED_KINDS})
    if unknown:
        notes.append("kinds no rule examines (skipped): " + ", ".join(unknown))
    routes = len(ctx.routed_calls) if any(r.id.startswith("EW3") for r in rules) else 0
    if ctx.resolver is not None and not ctx.resolver.calls() and len(inv.services()) > 1:
        notes.append(
            "no calls inferred (no env/ConfigMap names, Consul upstreams, intentions or "
            "edgewise.dev/calls annotations): east-west rules judged Services only"
        )
    gcpause.keep(inv, ctx)  # the program ends soon: its exit drops them (gcpause.keep)
    return Report(findings, suppressed, notes, topology, len(inv.objects), rules, routes)


def check_paths(
    paths: Sequence[Path],
    topology: Topology | None,
    *,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    edge_taints: bool | None = None,
    consul_edition: str | None = None,
    fork: bool | None = None,
    helm: HelmOptions | None = None,
) -> Report:
    """Read ``paths`` and check them. Raises :class:`InputError` on bad input.

    ``helm``: values for the Helm charts among ``paths`` (rendered with ``helm template``).

    Without a topology one is inferred from the catalog zones the inputs name. Which
    taints the nodes carry follows the evidence (:func:`decide_taints`);
    ``edge_taints=False`` (``--untainted-edge``) drops edgewise's edge taint only.
    """
    if topology is not None:  # charts render for the cluster's Kubernetes version
        helm = dataclasses.replace(helm if helm is not None else HelmOptions(),
                                   kube_version=topology.kubernetes_version)
    # the objects are made ready for the inventory as they are read, while the files
    # after them are parsed (InventoryParts)
    loaded = load_paths(paths, helm, parts=True)
    notes = list(loaded.notes)
    inferred = False
    if topology is None and loaded.spec_docs:
        topology = topology_from_documents(loaded.spec_docs)
        notes.append(f"topology {topology.name if topology else ''} read from the inputs "
                     f"({loaded.spec_docs[0].file})")
    elif topology is not None and loaded.spec_docs:
        notes.extend(_topology_mismatch(topology, loaded.spec_docs))
    if topology is None:
        topology = infer_topology((o for o, _ in loaded.objects), loaded.cfn_templates)
        inferred = topology is not None
        if topology is not None:
            notes.append(
                "no --topology given: zones inferred from the catalog: " + ", ".join(z.name for z in topology.zones)
            )
        else:
            notes.append(
                "no --topology given and no catalog zone named in the inputs: placement and routing rules cannot run"
            )
    if edge_taints is True:
        taints = TaintAssumption(True, {}, "asked for")
    else:
        taints = decide_taints((o for o, _ in loaded.objects), topology, untainted_edge=edge_taints is False)
    assert loaded.parts is not None
    report = check_objects(
        loaded.parts,
        topology,
        None,
        loaded.cfn_templates,
        select=select,
        ignore=ignore,
        documents=loaded.documents,
        edge_taints=taints.edge_taint,
        zone_taints=taints.zone_taints,
        consul_edition=consul_edition,
        topology_inferred=inferred,
        fork=fork,
    )
    report.notes = notes + report.notes
    if topology is not None:
        report.assumptions.append(taints.note)
    gcpause.keep(loaded)
    return report


def _topology_mismatch(given: Topology, docs: Sequence[Document]) -> list[str]:
    """A note when ``--topology`` differs from a Topology among the inputs (a plan
    directory's spec snapshot, ``spec/``): ``--topology`` wins, and the user is told."""
    where = f"{docs[0].file}:{docs[0].line}"
    try:
        found = topology_from_documents(docs)
    except InputError as exc:
        return [f"the Topology among the inputs ({where}) does not load ({exc.problems[0].message}); "
                "--topology is used"]
    if found is None or found == given:
        return []
    return [f"--topology ({given.name}) differs from the Topology among the inputs ({found.name}, {where}, "
            "e.g. the spec a plan directory was made from): --topology is used"]


def check_cluster(
    kubeconfig: Path,
    context: str | None,
    topology: Topology | None,
    paths: Sequence[Path] = (),
    *,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    consul_edition: str | None = None,
    helm: HelmOptions | None = None,
) -> Report:
    """Check what a live cluster runs (:mod:`edgewise.check.live`): its real nodes, pod
    bindings and EndpointSlices, plus any ``paths`` (Helm values, eksctl config, specs).
    Raises :class:`InputError` when the cluster cannot be read."""
    from .live import nodes_of, read_cluster

    live = read_cluster(kubeconfig, context)
    if live.server_version is not None:  # charts render for the version the cluster runs
        helm = dataclasses.replace(helm if helm is not None else HelmOptions(), kube_version=live.server_version)
    loaded = load_paths(paths, helm) if paths else None
    objects = [*live.objects, *(loaded.objects if loaded else [])]
    notes = [*live.notes, *(loaded.notes if loaded else [])]
    if topology is None and loaded is not None and loaded.spec_docs:
        topology = topology_from_documents(loaded.spec_docs)
    inferred = False
    if topology is None:
        topology = infer_topology((o for o, _ in objects), loaded.cfn_templates if loaded else ())
        inferred = topology is not None
        if topology is None:
            raise InputError.single(
                str(kubeconfig),
                "no node of the cluster carries a zone of the catalog (topology.kubernetes.io/zone)",
                hint="pass --topology with the cluster's zones",
            )
        notes.append("no --topology given: zones inferred from the nodes: " + ", ".join(z.name for z in topology.zones))
    nodes, unknown = nodes_of(live.nodes, topology)
    if unknown:
        notes.append(f"nodes in no zone of the topology (left out): {', '.join(sorted(unknown)[:10])}")
    report = check_objects(
        objects,
        topology,
        None,
        loaded.cfn_templates if loaded else (),
        select=select,
        ignore=ignore,
        documents=loaded.documents if loaded else None,
        consul_edition=consul_edition,
        topology_inferred=inferred,
        nodes=nodes,
    )
    report.notes = notes + report.notes
    report.assumptions.append(
        f"nodes, taints and pod placement as cluster context {live.context} reports them ({len(nodes)} node(s))"
    )
    return report
