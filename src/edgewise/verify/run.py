"""``edgewise verify``: deploy a plan onto a real control plane and report what breaks.

In the lab (default) the plan's node groups register their nodes as they will on AWS
(:func:`edgewise.lab.nodes.node_objects`), CoreDNS is installed as the EKS add-on ships
it and then patched as the RUNBOOK does, the upstream CRDs given with ``--crds`` are
installed, and every object of the plan's applications is server-side applied in the
RUNBOOK's order. The real scheduler and controllers then decide; verify reports

* ``rejected``: an object the API server refused (validation, admission, unknown kind);
* ``pending``: a pod the scheduler could not place, with the scheduler's own message;
* ``misplaced``: a pod bound outside the zone the plan meant (the workload's
  ``edgewise.dev/zone``; a Region copy on a Region node; else the zones edgewise's
  model predicts);
* ``coredns``: CoreDNS replicas not all running, on a non-Region node, or two on one node;
* ``endpoints``: a Service whose EndpointSlices hold ready pods in a zone the route
  resolver has no endpoint in, or none at all where the resolver expects some.

With ``--kubeconfig`` (a cluster of your own) nothing is created: every object is sent
as a server-side dry run and only rejections are reported.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..check.inputs import load_paths
from ..errors import InputError
from ..k8s.inventory import Inventory, Source, label_selector_matches
from ..lab.client import ApiError, Client
from ..lab.control_plane import Lab, LabError
from ..lab.nodes import node_objects
from ..plan.labels import ROLE_LABEL, ZONE_LABEL
from ..plan.specsnap import SPEC_DIR, snapshot_paths
from ..routing import RouteResolver
from ..spec import Spec, load_spec
from ..topology import Topology, build_topology
from .addons import (
    RUNBOOK_JSON,
    AddonRelease,
    cluster_service_accounts,
    find_charts,
    helm_releases,
    install_releases,
    uninstall_releases,
)
from .coredns import COREDNS_LABELS, eks_coredns

__all__ = ["Finding", "KeptLab", "VerifyReport", "empty_kept_lab", "verify_plan"]

KINDS = ("rejected", "pending", "misplaced", "coredns", "endpoints", "unsettled")
COPY_LABEL = "edgewise.dev/copy"
COREDNS_PATCH = "cluster/addons/coredns-patch.yaml"
STORAGE_CLASS = "cluster/addons/storageclass-gp2.yaml"
EKSCTL_CONFIG = "cluster/eksctl.yaml"
# the order `kubectl apply` would need: what others refer to first
_FIRST = ("CustomResourceDefinition", "Namespace", "ServiceAccount", "ConfigMap", "Secret", "StorageClass")


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    object: str  # "Kind namespace/name" (or a pod name)
    message: str
    file: str = ""
    line: int = 0


@dataclass
class VerifyReport:
    mode: str  # "lab" | "dry-run"
    findings: list[Finding] = field(default_factory=list)
    applied: int = 0
    nodes: int = 0
    pods: int = 0
    services: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: the RUNBOOK's Helm releases as installed: chart, version, pods per zone
    addons: list[dict[str, Any]] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "summary": {
                "objectsApplied": self.applied,
                "nodes": self.nodes,
                "pods": self.pods,
                "services": self.services,
                **{k: self.count(k) for k in KINDS},
            },
            "findings": [asdict(f) for f in self.findings],
            "addons": list(self.addons),
            "notes": list(self.notes),
        }

    def render_text(self) -> str:
        lines = []
        for f in self.findings:
            loc = f"{f.file}:{f.line}: " if f.file else ""
            lines.append(f"{loc}{f.kind}: {f.object}: {f.message}")
        for a in self.addons:
            where = ", ".join(f"{n} in {z}" for z, n in a["podsPerZone"].items()) or "no pod"
            lines.append(f"addon: {a['release']} (chart {a['chart']} {a['version']}, {a['namespace']}): "
                         f"{a['objects']} objects, {a['pods']} pods: {where}")
        lines.extend(f"note: {n}" for n in self.notes)
        counts = ", ".join(f"{self.count(k)} {k}" for k in KINDS)
        lines.append(
            f"verify ({self.mode}): {self.applied} objects applied, {self.nodes} nodes, {self.pods} pods, "
            f"{self.services} services; {counts}"
        )
        return "\n".join(lines) + "\n"


@dataclass
class KeptLab:
    """What a shared lab keeps between verifications of the same topology, for tests
    that verify many plans in one lab (``verify_plan(..., lab=lab, keep=kept)``).

    A user's verification builds its cluster from nothing and leaves nothing behind.
    Between test cases most of that work is the same every time: the nodes of one
    topology, CoreDNS, and the Helm releases, which are cluster-wide add-ons, not the
    plan's applications. With ``keep``, a verification whose topology registers exactly
    the nodes the last one left keeps them; the RUNBOOK's releases are still run, each
    with its ``helm upgrade --install`` line and this plan's values, but a release the
    last verification installed is upgraded in place instead of installed anew, and only
    releases this plan does not install are uninstalled. Afterwards only the
    application namespaces are emptied. Every pod is still placed by the real scheduler
    on this topology's nodes and judged against this plan. :func:`empty_kept_lab` leaves
    the lab empty, as a verification without ``keep`` does."""

    #: the registered nodes (name, labels, taints, capacity), as registered
    nodes: tuple[Any, ...] = ()
    #: the releases installed and kept, by (release, namespace)
    releases: dict[tuple[str, str], AddonRelease] = field(default_factory=dict)


def _arg_content(arg: str) -> str | bytes:
    """A helm argument as what it means: a values file's bytes, else the text."""
    path = Path(arg)
    if arg.endswith((".yaml", ".yml")) and path.is_file():
        return path.read_bytes()
    return arg


def _same_release(a: AddonRelease, b: AddonRelease) -> bool:
    return a.chart == b.chart and [_arg_content(x) for x in a.args] == [_arg_content(x) for x in b.args]


def _node_key(nodes: Sequence[Mapping[str, Any]]) -> tuple[Any, ...]:
    return tuple(sorted(
        (n["metadata"]["name"], sorted(n["metadata"].get("labels", {}).items()),
         repr((n.get("spec") or {}).get("taints")), sorted(n["status"]["capacity"].items()))
        for n in nodes
    ))


def _empty_lab(lab: Lab, releases: Sequence[AddonRelease], namespaces: Sequence[str], timeout: float) -> None:
    """Leave ``lab`` as a verification found it: ``releases`` uninstalled, ``namespaces``
    (the applications' and the releases') being deleted, no node, no CoreDNS."""
    uninstall_releases(lab, releases, timeout)
    # the namespace controller empties them while the next verification starts
    # (which waits for a namespace of the same name to be gone before using it). Their
    # pods, kube-system's too (never deleted itself), are force-deleted with the nodes:
    # a pod deleted gracefully on a node that is gone has no kubelet to finish it and
    # would stay, terminating, until the pod GC, to be judged by the next verification
    lab.reset([*namespaces, *sorted({r.namespace for r in releases} - set(namespaces))], wait=False)
    for name in ("coredns",):
        lab.client.delete("apps/v1", "Deployment", name, "kube-system")
    lab.client.delete_collection("v1", "Pod", "kube-system", label_selector="k8s-app=kube-dns")


def _empty_lab_releases(lab: Lab, releases: Sequence[AddonRelease], timeout: float, keep: Iterable[str]) -> None:
    """Uninstall ``releases`` and delete their namespaces but kube-system and ``keep``;
    the nodes stay."""
    uninstall_releases(lab, releases, timeout)
    lab.reset(sorted({r.namespace for r in releases} - {"kube-system", *keep}), wait=False, nodes=False)


def empty_kept_lab(lab: Lab, keep: KeptLab, timeout: float = 120.0) -> None:
    """Uninstall what ``keep`` holds, delete its nodes and CoreDNS, and forget it."""
    if keep.nodes or keep.releases:
        _empty_lab(lab, list(keep.releases.values()), [], timeout)
    keep.nodes, keep.releases = (), {}


def _ref(o: Mapping[str, Any]) -> str:
    meta = o.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{o.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"


def _order(objs: Sequence[tuple[Mapping[str, Any], Source]]) -> list[tuple[Mapping[str, Any], Source]]:
    def rank(item: tuple[Mapping[str, Any], Source]) -> int:
        kind = str(item[0].get("kind"))
        return _FIRST.index(kind) if kind in _FIRST else len(_FIRST)

    return sorted(objs, key=rank)  # stable: file order within a rank


def _load_yaml(path: Path) -> list[dict[str, Any]]:
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError.single(str(path), f"cannot read: {exc}", hint="pass a readable YAML file") from None
    return [d for d in docs if isinstance(d, dict)]


def _crd_files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise InputError.single(str(p), "no such file or directory",
                                    hint="--crds takes CRD YAML files or directories of them")
    return out


def verify_plan(
    plan_dir: Path,
    topology_paths: Sequence[Path],
    *,
    kubeconfig: Path | None = None,
    crds: Sequence[Path] = (),
    progress: Callable[[str], None] = lambda _m: None,
    timeout: float = 180.0,
    tamper: Callable[[list[tuple[Mapping[str, Any], Source]]], None] | None = None,
    lab: Lab | None = None,
    keep: KeptLab | None = None,
) -> VerifyReport:
    """Verify ``plan_dir`` (see the module docstring). Raises :class:`InputError` for
    a missing plan, spec or CRD file, and :class:`LabError` when the lab cannot start.
    ``tamper`` may edit the loaded objects in place before they are applied, and
    ``lab`` is a running lab to use instead of a new one, left empty afterwards
    (:meth:`Lab.reset`), or with ``keep`` (:class:`KeptLab`) holding its nodes, CoreDNS
    and Helm releases for the next verification; all three are for tests."""
    t0 = time.monotonic()
    apps = plan_dir / "apps"
    if not (plan_dir / "RUNBOOK.md").is_file() or not apps.is_dir():
        raise InputError.single(str(plan_dir), "not a plan directory (no RUNBOOK.md and apps/)",
                                hint="pass the directory `edgewise plan -o DIR` wrote")
    topology, spec_notes = _plan_topology(plan_dir, topology_paths, progress)
    spec_notes += skipped_steps(plan_dir)
    loaded = load_paths([apps])
    objs = [(b, s) for b, s in loaded.objects if not str(b.get("apiVersion", "")).startswith("edgewise.dev/")]
    if tamper is not None:
        tamper(objs)
    # only the CRDs of kinds the plan uses: Istio's file alone holds dozens
    used = {(str(b.get("apiVersion", "")).split("/")[0], str(b.get("kind"))) for b, _ in objs}
    crd_docs = [
        d
        for f in _crd_files(crds)
        for d in _load_yaml(f)
        if d.get("kind") == "CustomResourceDefinition"
        and (str((d.get("spec") or {}).get("group")), str(((d.get("spec") or {}).get("names") or {}).get("kind")))
        in used
    ]
    if kubeconfig is not None:
        dry = _dry_run(kubeconfig, objs, crd_docs, progress, t0)
        dry.notes[:0] = spec_notes
        return dry
    report = VerifyReport(mode="lab", notes=list(spec_notes))
    releases = helm_releases(plan_dir)
    charts = find_charts() if releases else None
    if releases and charts is None:
        report.notes.append(
            f"the RUNBOOK's {len(releases)} Helm releases were not installed: no charts found "
            "(run `make lab`, or set EDGEWISE_LAB_CHARTS to a directory of unpacked charts)"
        )
        releases = []
    if lab is not None:
        namespaces = sorted({str((b.get("metadata") or {}).get("namespace") or "") for b, _ in objs} - {""})
        try:
            _in_lab(lab, plan_dir, topology, objs, crd_docs, progress, timeout, report, releases, charts, keep)
        except BaseException:
            if keep is not None:  # a half-done verification is kept for nothing
                keep.releases.update({(r.release, r.namespace): r for r in releases})
                empty_kept_lab(lab, keep, timeout)
            raise
        finally:
            if keep is None:
                _empty_lab(lab, releases, namespaces, timeout)
            else:  # only the applications go; a namespace a kept release lives in stays
                kept = {ns for _r, ns in keep.releases} | {"kube-system"}
                lab.reset([ns for ns in namespaces if ns not in kept], wait=False, nodes=False)
    else:
        progress("starting the lab (etcd, kube-apiserver, kube-scheduler, kube-controller-manager, kwok)")
        with Lab(log=progress) as own:
            _in_lab(own, plan_dir, topology, objs, crd_docs, progress, timeout, report, releases, charts)
    report.seconds = time.monotonic() - t0
    return report


def _in_lab(
    lab: Lab,
    plan_dir: Path,
    topology: Topology,
    objs: list[tuple[Mapping[str, Any], Source]],
    crd_docs: Sequence[Mapping[str, Any]],
    progress: Callable[[str], None],
    timeout: float,
    report: VerifyReport,
    releases: Sequence[AddonRelease] = (),
    charts: Path | None = None,
    keep: KeptLab | None = None,
) -> None:
    client = lab.client
    nodes = node_objects(topology)
    if keep is not None and keep.nodes and keep.nodes == _node_key(nodes):
        progress(f"the {len(nodes)} nodes of this topology are registered already (kept)")
    else:
        if keep is not None:  # another topology: nothing of the last verification fits
            empty_kept_lab(lab, keep, timeout)
        progress(f"registering {len(nodes)} nodes as the node groups will on AWS")
        for n in nodes:
            client.create(n)
            cap = n["status"]["capacity"]
            client.patch_status(n, {"status": {"capacity": cap, "allocatable": cap}})
        if keep is not None:
            keep.nodes = _node_key(nodes)
    lab.wait_nodes_ready([n["metadata"]["name"] for n in nodes], timeout=timeout)
    report.nodes = len(nodes)
    progress("installing CoreDNS as the EKS add-on ships it, then the plan's CoreDNS patch")
    for o in eks_coredns(topology.region):
        client.apply(o)
    patch_file = plan_dir / COREDNS_PATCH
    if patch_file.is_file():
        for patch in _load_yaml(patch_file):
            try:
                client.request(
                    "PATCH",
                    "/apis/apps/v1/namespaces/kube-system/deployments/coredns",
                    patch,
                    content_type="application/strategic-merge-patch+json",
                )
            except ApiError as e:
                report.findings.append(Finding("rejected", "Deployment kube-system/coredns",
                                               f"CoreDNS patch refused: {e.message}", COREDNS_PATCH, 1))
    sc = plan_dir / STORAGE_CLASS
    addons = [(d, Source(STORAGE_CLASS, 1, i)) for i, d in enumerate(_load_yaml(sc))] if sc.is_file() else []
    report.applied = _apply_all(client, addons, report, dry_run=False)
    if releases and charts is not None:
        for sa in cluster_service_accounts(plan_dir):  # eksctl creates them in the cluster step
            client.apply(sa)
        if keep is not None:
            wanted = {(r.release, r.namespace): r for r in releases}
            # a release is upgraded in place only with the same chart and values: other
            # values can change a Job's template, which is immutable (the Consul chart's
            # server-acl-init Job between consul-enterprise and consul), so it goes first
            gone = [r for k, r in keep.releases.items() if k not in wanted or not _same_release(r, wanted[k])]
            if gone:
                progress(f"uninstalling {len(gone)} kept releases this plan does not install")
                _empty_lab_releases(lab, gone, timeout, {ns for _r, ns in wanted})
            keep.releases = wanted  # installed (or upgraded in place) just below
        errors, notes, _removed = install_releases(lab, releases, charts, progress, timeout)
        report.findings.extend(Finding("rejected", "helm release " + e.split(":", 1)[0], e.split(": ", 1)[1],
                                       RUNBOOK_JSON, 0) for e in errors)
        report.notes.extend(notes)
    # upstream CRDs the charts did not install (without charts: every CRD the plan uses)
    _install_crds(client, [c for c in crd_docs if client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                                                              str(c["metadata"]["name"])) is None], progress)
    progress(f"applying {len(objs)} objects as the RUNBOOK does")
    lab.wait_namespaces_gone({str((b.get("metadata") or {}).get("namespace") or "") for b, _ in objs}
                             | {str(b["metadata"]["name"]) for b, _ in objs if b.get("kind") == "Namespace"},
                             timeout=timeout)
    report.applied += _apply_all(client, _order(objs), report, dry_run=False)
    namespaces = sorted({str((b.get("metadata") or {}).get("namespace") or "") for b, _ in objs} - {""})
    addon_ns = sorted({r.namespace for r in releases} - {*namespaces, "kube-system"})
    addon_objs = [(o, Source(RUNBOOK_JSON, 0, i)) for r in releases for i, o in enumerate(r.manifest)]
    progress("waiting for the scheduler and the controllers to settle")
    pods, slices = _settle(client, [*namespaces, *addon_ns, "kube-system"], [*objs, *addon_objs], timeout, report)
    node_info = {n["metadata"]["name"]: n["metadata"]["labels"] for n in client.list("v1", "Node")}
    report.pods = len([p for p in pods if p["metadata"]["namespace"] in namespaces])
    inventory = Inventory.from_objects(objs, topology)
    _placement_findings(pods, node_info, inventory, topology, report)
    _coredns_findings(pods, node_info, report)
    if releases:
        _addon_findings(pods, node_info, releases, topology, report)
    _endpoint_findings(slices, node_info, inventory, topology, objs, report)


def skipped_steps(plan_dir: Path) -> list[str]:
    """Notes for the RUNBOOK steps verify cannot carry out in any cluster it reaches.

    The DNS step (``dns-<app>``) waits for the AWS Load Balancer Controller to give each
    Ingress an ALB, then deploys Route 53 records over them: the lab's controller pods run
    no containers (kwok), so no Ingress ever gets an address, and Route 53 is not in it."""
    from ..plan.apps.install import DNS_STEP_PREFIX
    from ..plan.cluster.steps import runbook_from_json

    path = plan_dir / RUNBOOK_JSON
    if not path.is_file():
        return []
    try:
        rb = runbook_from_json(path.read_text(encoding="utf-8"))
    except ValueError:
        return []  # helm_releases reports an unreadable runbook.json
    return [
        f"RUNBOOK step '{s.key}' ({s.title}) not carried out: it waits for the AWS Load Balancer "
        "Controller to give each Ingress an ALB and deploys Route 53 records over them; verify makes no ALB "
        "(the lab's controller runs no container) and no Route 53 record (`edgewise apply` does this step)"
        for s in rb.steps
        if s.key.startswith(DNS_STEP_PREFIX)
    ]


def _plan_topology(
    plan_dir: Path, topology_paths: Sequence[Path], progress: Callable[[str], None]
) -> tuple[Topology, list[str]]:
    """The topology to verify against, and notes about where it came from.

    The plan's own spec snapshot (``PLAN_DIR/spec/``, written by ``plan``) unless
    ``--topology`` is given; with both, a difference between them is said. A snapshot
    that is missing, does not load, or names another cluster than the plan's eksctl
    config is an input error."""
    snap = plan_dir / SPEC_DIR
    if topology_paths:
        spec = load_spec(list(topology_paths))
        if not snap.is_dir():
            return build_topology(spec), []
        try:
            own = load_spec(snapshot_paths(plan_dir))
        except InputError as exc:
            return build_topology(spec), [
                f"the plan's spec snapshot ({snap}) does not load ({exc.problems[0].message}); "
                "--topology is used"
            ]
        def apps(s: Spec) -> list[Any]:  # the order files are read in is not part of the spec
            return sorted((a for a, _ in s.applications), key=lambda a: a.metadata.name)

        same = own.topology == spec.topology and apps(own) == apps(spec)
        if same:
            return build_topology(spec), []
        msg = (f"--topology differs from the spec this plan was made from ({snap}): verifying against "
               "--topology; plan again from it, or drop --topology to verify against the plan's own spec")
        progress(msg)
        return build_topology(spec), [msg]
    spec = load_spec(snapshot_paths(plan_dir))
    eksctl = plan_dir / EKSCTL_CONFIG
    if eksctl.is_file():
        docs = _load_yaml(eksctl)
        meta = (docs[0].get("metadata") or {}) if docs else {}
        planned = (meta.get("name"), meta.get("region"))
        ours = (spec.topology.metadata.name, spec.topology.spec.region)
        if planned != ours:
            raise InputError.single(
                str(snap),
                f"the spec snapshot is of cluster {ours[0]!r} in {ours[1]}, but this plan's "
                f"{EKSCTL_CONFIG} is of {planned[0]!r} in {planned[1]}: spec/ was changed after plan wrote it",
                hint="restore spec/ (e.g. from git) or plan again; or pass the spec with --topology SPEC",
            )
    progress(f"verifying against the plan's own spec ({snap})")
    return build_topology(spec), []


def _install_crds(client: Client, crds: Sequence[Mapping[str, Any]], progress: Callable[[str], None]) -> None:
    if not crds:
        return
    progress(f"installing {len(crds)} upstream CRDs")
    for c in crds:
        client.apply(c)
    client.wait_established(crds, timeout=60)


def _apply_all(
    client: Client, objs: Sequence[tuple[Mapping[str, Any], Source]], report: VerifyReport, *, dry_run: bool
) -> int:
    applied = 0
    for body, src in objs:
        try:
            client.apply(body, dry_run=dry_run)
            applied += 1
        except ApiError as e:
            report.findings.append(Finding("rejected", _ref(body), e.message, src.file, src.line))
    return applied


def _dry_run(
    kubeconfig: Path,
    objs: Sequence[tuple[Mapping[str, Any], Source]],
    crds: Sequence[Mapping[str, Any]],
    progress: Callable[[str], None],
    t0: float,
) -> VerifyReport:
    try:
        client = Client.from_kubeconfig(kubeconfig)
    except (OSError, ValueError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise InputError.single(
            str(kubeconfig), f"unusable kubeconfig: {exc}",
            hint="pass a kubeconfig whose current context has a server and a bearer token",
        ) from None
    report = VerifyReport(mode="dry-run")
    progress(f"server-side dry run of {len(objs)} objects against {client.server}")
    served = {(c["spec"]["group"], c["spec"]["names"]["kind"]) for c in crds}
    if served:
        report.notes.append("--crds is ignored with --kubeconfig: the cluster's own CRDs decide")
    # namespaces the plan creates do not exist yet: a dry run of their contents would fail
    # with NotFound, so the namespaced objects are checked only where the namespace exists
    existing = {n["metadata"]["name"] for n in client.list("v1", "Namespace")
                if not n["metadata"].get("deletionTimestamp")}  # a terminating one takes nothing new
    new_ns = {str(b["metadata"]["name"]) for b, _ in objs if b.get("kind") == "Namespace"} - existing
    checked = [(b, s) for b, s in objs if str((b.get("metadata") or {}).get("namespace") or "") not in new_ns]
    if len(checked) < len(objs):
        report.notes.append(
            f"{len(objs) - len(checked)} objects in namespaces the plan creates were not sent "
            f"({', '.join(sorted(new_ns))}): a dry run cannot create their namespace first"
        )
    report.applied = _apply_all(client, _order(checked), report, dry_run=True)
    report.notes.append("dry run: placement, CoreDNS and endpoints are verified only in the lab (no --kubeconfig)")
    report.seconds = time.monotonic() - t0
    return report


def _expected_pods(objs: Sequence[tuple[Mapping[str, Any], Source]]) -> int:
    n = 0
    for b, _ in objs:
        kind = b.get("kind")
        if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
            r = (b.get("spec") or {}).get("replicas", 1)
            n += r if isinstance(r, int) else 1
        elif kind == "Pod":
            n += 1
    return n


def _settle(
    client: Client,
    namespaces: Sequence[str],
    objs: Sequence[tuple[Mapping[str, Any], Source]],
    timeout: float,
    report: VerifyReport,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pods (every one bound or judged Unschedulable) and EndpointSlices, once stable."""
    expected = _expected_pods(objs)
    deadline = time.monotonic() + timeout
    previous: tuple[Any, ...] | None = None
    while True:
        _provision_volumes(client, namespaces)
        pods = [p for ns in namespaces for p in client.list("v1", "Pod", ns)]
        slices = [s for ns in namespaces for s in client.list("discovery.k8s.io/v1", "EndpointSlice", ns)]
        # every pod but CoreDNS's (installed before, and judged on its own)
        app_pods = [p for p in pods if not (p["metadata"]["namespace"] == "kube-system" and label_selector_matches(
            {"matchLabels": COREDNS_LABELS}, p["metadata"].get("labels") or {}))]
        settled = all(_node(p) or (_unschedulable(p) and not _claim_now_exists(client, p)) for p in pods)
        running = all(_unschedulable(p) or (p.get("status") or {}).get("podIP") for p in pods)
        state = (
            sorted((p["metadata"]["name"], _node(p)) for p in pods),
            sorted(
                (s["metadata"]["name"], len(s.get("endpoints") or []),
                 sum(1 for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")))
                for s in slices
            ),
        )
        if settled and running and len(app_pods) >= expected and state == previous:
            return pods, slices
        if time.monotonic() > deadline:
            report.findings.append(
                Finding("unsettled", "cluster", f"not settled after {timeout:.0f}s: {len(app_pods)} of {expected} "
                        "application and add-on pods exist; results below are partial")
            )
            return pods, slices
        previous = state
        time.sleep(0.5)


def _provision_volumes(client: Client, namespaces: Sequence[str]) -> None:
    """Stand in for the EBS CSI driver's provisioner, which the lab does not run.

    With ``volumeBindingMode: WaitForFirstConsumer`` the scheduler picks the node first
    and records it on the claim (annotation ``volume.kubernetes.io/selected-node``); the
    provisioner then creates a volume in that node's zone and the pod binds once the
    claim is bound (https://kubernetes.io/docs/concepts/storage/storage-classes/#volume-binding-mode).
    Here the volume is a PersistentVolume with the node's zone as node affinity and a
    ``claimRef`` to the claim; the real PV controller binds the two.
    """
    for ns in namespaces:
        for pvc in client.list("v1", "PersistentVolumeClaim", ns):
            meta = pvc["metadata"]
            node = (meta.get("annotations") or {}).get("volume.kubernetes.io/selected-node")
            if not node or (pvc.get("spec") or {}).get("volumeName"):
                continue
            name = f"pv-{meta['uid']}"
            if client.get("v1", "PersistentVolume", name) is not None:
                continue
            zone = ((client.get("v1", "Node", node) or {}).get("metadata", {}).get("labels") or {}).get(
                "topology.kubernetes.io/zone", ""
            )
            spec = pvc.get("spec") or {}
            size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
            pv: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"}},
                "spec": {
                    "capacity": {"storage": size},
                    "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Delete",
                    "storageClassName": spec.get("storageClassName") or "",
                    "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": f"vol-{meta['uid'][:17]}"},
                    "claimRef": {"namespace": ns, "name": meta["name"], "uid": meta["uid"]},
                    "nodeAffinity": {
                        "required": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [
                                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}
                                ]}
                            ]
                        }
                    },
                },
            }
            client.create(pv)


#: the scheduler's message for a pod whose claim it has not seen yet (VolumeBinding PreFilter)
_MISSING_CLAIM = re.compile(r'could not find v1\.PersistentVolumeClaim "([^"/]+)/([^"]+)"')


def _claim_now_exists(client: Client, p: Mapping[str, Any]) -> bool:
    """A pod judged unschedulable because the claim it mounts was not yet in the
    scheduler's cache, although the claim exists now: the StatefulSet controller creates
    a pod's claims just before the pod, and the scheduler may try the pod first. It tries
    the pod again when the claim arrives (a PVC event requeues pods that VolumeBinding
    rejected), so the pod is not settled yet."""
    found = _MISSING_CLAIM.search(_unschedulable(p))
    return found is not None and client.get("v1", "PersistentVolumeClaim", found.group(2),
                                            namespace=found.group(1)) is not None


def _node(p: Mapping[str, Any]) -> str:
    return str((p.get("spec") or {}).get("nodeName") or "")


def _unschedulable(p: Mapping[str, Any]) -> str:
    for c in (p.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return str(c.get("message") or c.get("reason") or "Unschedulable")
    return ""


def _owner_workload(p: Mapping[str, Any], inventory: Inventory) -> Any:
    """The workload that made pod ``p``: by its controller owner reference (a
    ReplicaSet's Deployment is the ReplicaSet's name without its hash), else the first
    workload whose pod labels the pod carries (two workloads may share labels, as a
    chart's Linux and Windows DaemonSets do, so the owner decides when there is one)."""
    labels = (p.get("metadata") or {}).get("labels") or {}
    ns = p["metadata"]["namespace"]
    workloads = inventory.workloads_in(ns)
    for ref in (p.get("metadata") or {}).get("ownerReferences") or []:
        kind, name = str(ref.get("kind")), str(ref.get("name"))
        wanted = {(kind, name)}
        if kind == "ReplicaSet":
            wanted.add(("Deployment", name.rsplit("-", 1)[0]))
        for w in workloads:
            if (w.kind, w.name) in wanted:
                return w
    for w in workloads:
        if w.pod_labels and all(labels.get(k) == v for k, v in w.pod_labels.items()):
            return w
    return None


def _placement_findings(
    pods: Sequence[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, str]],
    inventory: Inventory,
    topology: Topology,
    report: VerifyReport,
    *,
    include_kube_system: bool = False,
) -> None:
    region = {z.name for z in topology.region_zones}
    for p in pods:
        ns, name = p["metadata"]["namespace"], p["metadata"]["name"]
        if ns == "kube-system" and not include_kube_system:
            continue
        ref = f"Pod {ns}/{name}"
        why = _unschedulable(p)
        if why:
            report.findings.append(Finding("pending", ref, f"scheduler: {why}"))
            continue
        node = _node(p)
        if not node:
            continue
        labels = (p.get("metadata") or {}).get("labels") or {}
        zone = nodes.get(node, {}).get(ZONE_LABEL, "")
        if labels.get(COPY_LABEL) == "region":
            meant, what = region, "a Region node (Region copy)"
        elif labels.get(ZONE_LABEL):
            meant, what = {labels[ZONE_LABEL]}, f"zone {labels[ZONE_LABEL]} (its edgewise.dev/zone)"
        else:
            w = _owner_workload(p, inventory)
            if w is None:
                continue
            meant, what = set(w.zones), "the zones edgewise predicts: " + (", ".join(w.zones) or "none")
        if zone not in meant:
            report.findings.append(
                Finding("misplaced", ref, f"bound to {node} in zone {zone or '?'} "
                        f"(role {nodes.get(node, {}).get(ROLE_LABEL, '?')}); the plan meant {what}")
            )


def _addon_findings(
    pods: Sequence[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, str]],
    releases: Sequence[AddonRelease],
    topology: Topology,
    report: VerifyReport,
) -> None:
    """The charts' pods, judged by the same rules as the apps' (the zones edgewise's
    model predicts from the rendered manifests: a controller the plan's values pin to
    Region nodes must be on one), and a per-release summary of where they run."""
    for r in releases:
        objs = [(o, Source(f"helm release {r.release}", 0, i)) for i, o in enumerate(r.manifest)]
        inventory = Inventory.from_objects(objs, topology)
        mine = [p for p in pods if p["metadata"]["namespace"] == r.namespace
                and _owner_workload(p, inventory) is not None]
        _placement_findings(mine, nodes, inventory, topology, report, include_kube_system=True)
        zones: dict[str, int] = {}
        for p in mine:
            zone = nodes.get(_node(p), {}).get(ZONE_LABEL, "") if _node(p) else "(not scheduled)"
            zones[zone] = zones.get(zone, 0) + 1
        workloads = sorted(f"{o.get('kind')}/{(o.get('metadata') or {}).get('name')}" for o in r.manifest
                           if o.get("kind") in ("Deployment", "StatefulSet", "DaemonSet"))
        report.addons.append({
            "release": r.release, "chart": r.chart, "version": r.version, "namespace": r.namespace,
            "source": r.source, "objects": len(r.manifest), "workloads": workloads,
            "pods": len(mine), "podsPerZone": dict(sorted(zones.items())),
        })


def _coredns_findings(pods: Sequence[Mapping[str, Any]], nodes: Mapping[str, Mapping[str, str]],
                      report: VerifyReport) -> None:
    dns = [p for p in pods if p["metadata"]["namespace"] == "kube-system"
           and label_selector_matches({"matchLabels": COREDNS_LABELS}, (p["metadata"].get("labels") or {}))]
    seen: dict[str, str] = {}
    for p in dns:
        ref = f"Pod kube-system/{p['metadata']['name']}"
        node = _node(p)
        if not node:
            report.findings.append(Finding("coredns", ref, f"not running: {_unschedulable(p) or 'not scheduled'}"))
            continue
        if nodes.get(node, {}).get(ROLE_LABEL) != "region":
            zone = nodes.get(node, {}).get(ZONE_LABEL, "?")
            report.findings.append(Finding("coredns", ref, f"on {node} in {zone}, not a Region node"))
        if node in seen:
            report.findings.append(Finding("coredns", ref, f"shares node {node} with {seen[node]}"))
        seen.setdefault(node, p["metadata"]["name"])
    if not dns:
        report.findings.append(Finding("coredns", "Deployment kube-system/coredns", "no CoreDNS pod exists"))


def _endpoint_findings(
    slices: Sequence[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, str]],
    inventory: Inventory,
    topology: Topology,
    objs: Sequence[tuple[Mapping[str, Any], Source]],
    report: VerifyReport,
) -> None:
    resolver = RouteResolver(inventory, topology)
    sources = {(str(b.get("kind")), str(b["metadata"].get("namespace", "")), str(b["metadata"]["name"])): s
               for b, s in objs if isinstance(b.get("metadata"), Mapping)}
    for svc in inventory.services():
        if not svc.selector or svc.type == "ExternalName":
            continue
        report.services += 1
        real = set()
        for s in slices:
            meta = s.get("metadata") or {}
            if meta.get("namespace") != svc.namespace:
                continue
            if (meta.get("labels") or {}).get("kubernetes.io/service-name") != svc.name:
                continue
            for e in s.get("endpoints") or []:
                if (e.get("conditions") or {}).get("ready"):
                    real.add(nodes.get(str(e.get("nodeName", "")), {}).get(ZONE_LABEL, "?"))
        model = {e.zone for e in resolver.service_endpoints(svc)}
        # the resolver knows where a workload CAN run (a 1-replica Region workload: either
        # AZ); the scheduler picks some of those zones. A real endpoint outside them, or
        # none where the resolver expects some, is a disagreement.
        if (real - model) or (model and not real):
            src = sources.get(("Service", svc.namespace, svc.name))
            report.findings.append(
                Finding("endpoints", f"Service {svc.namespace}/{svc.name}",
                        f"EndpointSlices hold pods in {sorted(real) or 'no zone'}; the route resolver uses "
                        f"{sorted(model) or 'no zone'}", src.file if src else "", src.line if src else 0)
            )


def lab_error_problem(exc: LabError) -> InputError:
    return InputError.single("lab", str(exc), hint="run `make lab` (or set EDGEWISE_LAB_BIN), or pass --kubeconfig")
