"""``edgewise check --kubeconfig FILE [--context C]``: check what a cluster actually runs.

The cluster is read with ``kubectl get -o json`` (the kubectl on ``PATH``), not with a
client library: kubectl speaks every authentication a kubeconfig can name (the ``exec``
plugin EKS uses, ``aws eks get-token``; OIDC; client certificates; tokens) exactly as
the user's own commands do, and it is already what ``check`` uses for kustomize. What is
read, all namespaces:

* Nodes: their real labels and taints replace the inferred nodes;
* Pods: where each one is bound (``spec.nodeName``): a workload's zones and replicas per
  zone are where its pods run, not where they could run (Pending pods: inferred);
* EndpointSlices: the pods a Service really routes to (ready endpoints);
* Services, workloads, Ingresses, Namespaces, ConfigMaps, and the mesh resources the
  cluster has (Consul config entries, Istio DestinationRules), when their API exists.

Objects are located as ``cluster:<context>/<Kind>/<namespace>/<name>`` in findings.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..k8s.inventory import InferredNode, Source
from ..plan.labels import K8S_ZONE_LABEL, LEGACY_ZONE_LABEL, ZONE_LABEL
from ..topology import Topology

__all__ = ["CORE_RESOURCES", "MESH_RESOURCES", "LiveCluster", "nodes_of", "read_cluster"]

KUBECTL_TIMEOUT_S = 120
CORE_RESOURCES = (
    "namespaces",
    "nodes",
    "pods",
    "services",
    "endpointslices.discovery.k8s.io",
    "deployments.apps",
    "statefulsets.apps",
    "daemonsets.apps",
    "replicasets.apps",
    "jobs.batch",
    "ingresses.networking.k8s.io",
    "configmaps",
)
#: read when the cluster serves them (CRDs installed)
MESH_RESOURCES = (
    "serviceresolvers.consul.hashicorp.com",
    "servicedefaults.consul.hashicorp.com",
    "serviceintentions.consul.hashicorp.com",
    "servicerouters.consul.hashicorp.com",
    "servicesplitters.consul.hashicorp.com",
    "proxydefaults.consul.hashicorp.com",
    "destinationrules.networking.istio.io",
)
_KIND_OF_LIST = {"NodeList", "PodList"}


@dataclass
class LiveCluster:
    context: str
    objects: list[tuple[Mapping[str, Any], Source]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the API server's ``gitVersion`` (``v1.31.2-eks-7f9249a`` on EKS), or None when the
    #: server did not say
    server_version: str | None = None

    @property
    def nodes(self) -> list[Mapping[str, Any]]:
        return [o for o, _ in self.objects if o.get("kind") == "Node"]


def _kubectl(kubeconfig: Path, context: str | None, *args: str) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise InputError.single(
            str(kubeconfig), "kubectl is not on PATH", hint="install kubectl to check a live cluster"
        )
    argv = [kubectl, "--kubeconfig", str(kubeconfig)]
    if context:
        argv += ["--context", context]
    argv += list(args)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=KUBECTL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise InputError.single(
            str(kubeconfig),
            f"kubectl {' '.join(args[:2])} did not answer within {KUBECTL_TIMEOUT_S} s",
            hint="check that the cluster's API server is reachable from here",
        ) from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise InputError.single(
            str(kubeconfig),
            f"kubectl {' '.join(args[:2])} failed: {detail[-1] if detail else 'exit ' + str(proc.returncode)}",
            hint="check the kubeconfig, --context and your access (kubectl get nodes must work)",
        )
    return proc.stdout


def _server_version(text: str) -> str | None:
    """``serverVersion.gitVersion`` of ``kubectl version -o json``: the version Helm
    itself renders charts for when it installs into that cluster (helm's install action
    takes ``Capabilities.KubeVersion`` from the discovery client's ``ServerVersion()``)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    server = data.get("serverVersion") if isinstance(data, Mapping) else None
    version = server.get("gitVersion") if isinstance(server, Mapping) else None
    return version if isinstance(version, str) and version.startswith("v") else None


def read_cluster(kubeconfig: Path, context: str | None = None) -> LiveCluster:
    """Read the cluster ``kubeconfig`` (``context``) points at. Raises :class:`InputError`
    (exit 2) when the file is missing, kubectl is absent, or the API server refuses."""
    if not kubeconfig.is_file():
        raise InputError.single(str(kubeconfig), "no such kubeconfig file", hint="pass --kubeconfig ~/.kube/config")
    name = context or _kubectl(kubeconfig, None, "config", "current-context").strip() or "current"
    served = set(_kubectl(kubeconfig, context, "api-resources", "-o", "name").split())
    mesh = [r for r in MESH_RESOURCES if r in served]
    wanted = [r for r in CORE_RESOURCES if r in served or "." not in r or r.split(".", 1)[0] in served]
    text = _kubectl(kubeconfig, context, "get", ",".join([*wanted, *mesh]), "--all-namespaces", "-o", "json")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError.single(str(kubeconfig), f"kubectl returned no JSON: {exc.msg}") from None
    live = LiveCluster(name, server_version=_server_version(_kubectl(kubeconfig, context, "version", "-o", "json")))
    for i, item in enumerate(data.get("items") or []):
        if not isinstance(item, Mapping) or not isinstance(item.get("kind"), str):
            continue
        meta = item.get("metadata") or {}
        ref = "/".join(p for p in (item["kind"], str(meta.get("namespace") or ""), str(meta.get("name") or "")) if p)
        live.objects.append((item, Source(f"cluster:{name}/{ref}", 0, i)))
    kinds = sorted({str(o.get("kind")) for o, _ in live.objects})
    live.notes.append(
        f"read {len(live.objects)} object(s) from cluster context {name}"
        + (f" (Kubernetes {live.server_version})" if live.server_version else "")
        + f" ({', '.join(kinds) or 'nothing'})"
        + (f"; mesh APIs: {', '.join(r.split('.', 1)[0] for r in mesh)}" if mesh else "; no mesh APIs served")
    )
    return live


def nodes_of(node_objects: Sequence[Mapping[str, Any]], topology: Topology) -> tuple[list[InferredNode], list[str]]:
    """The cluster's nodes as the model's nodes: real labels and taints, each mapped to a
    topology zone (``edgewise.dev/zone``, else the zone label by zone name, else by the
    Kubernetes zone value); plus the names of nodes no topology zone matches."""
    by_name = {z.name: z.name for z in topology.zones}
    by_k8s: dict[str, str] = {}
    for z in topology.zones:
        if z.k8s_zone == z.name or z.k8s_zone not in by_k8s:
            by_k8s.setdefault(z.k8s_zone, z.name)
    out: list[InferredNode] = []
    unknown: list[str] = []
    for n in node_objects:
        meta = n.get("metadata") or {}
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        zone_value = labels.get(K8S_ZONE_LABEL) or labels.get(LEGACY_ZONE_LABEL) or ""
        zone = by_name.get(labels.get(ZONE_LABEL, "")) or by_name.get(zone_value) or by_k8s.get(zone_value)
        name = str(meta.get("name") or "")
        if zone is None:
            unknown.append(name)
            continue
        spec = n.get("spec") or {}
        taints = tuple(
            {"key": str(t.get("key") or ""), "value": str(t.get("value") or ""), "effect": str(t.get("effect") or "")}
            for t in (spec.get("taints") or [])
            if isinstance(t, Mapping)
        )
        if spec.get("unschedulable"):
            taints += ({"key": "node.kubernetes.io/unschedulable", "value": "", "effect": "NoSchedule"},)
        out.append(InferredNode(name, zone, dict(sorted(labels.items())), taints))
    return out, unknown
