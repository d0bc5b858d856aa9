"""An index of Kubernetes and mesh objects, with where each workload can run.

``check`` reads manifests it did not write and ``simulate`` reads the ones ``plan``
writes; both need the same answers: which pods does this Service select, in which zones
can those pods be scheduled, which Consul service name do they register as. This module
computes those once, indexed by namespace / name / label so that a 30k-object cluster
export is a linear pass, not a quadratic one.

Placement is *inferred*, the way the scheduler would decide it: a pod can run in a zone
when some node of that zone satisfies its ``nodeSelector`` and required node affinity
and every ``NoSchedule``/``NoExecute`` taint on those nodes is tolerated. The nodes are
:func:`inferred_nodes`: per zone, the labels every kubelet and the AWS cloud provider
set, edgewise's own labels (the contract in :mod:`edgewise.plan.labels`) and the node
group's taints.
"""

from __future__ import annotations

import marshal
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Self, TypeVar, overload

from .._frozen import record
from ..catalog.instances import instance_arch
from ..plan.labels import K8S_ZONE_LABEL, LEGACY_ZONE_LABEL, node_labels, node_taints
from ..topology import Topology

__all__ = [
    "CONNECT_INJECT",
    "CONNECT_SERVICE",
    "CONNECT_UPSTREAMS",
    "WORKLOAD_KINDS",
    "InferredNode",
    "Inventory",
    "InventoryParts",
    "KObject",
    "Service",
    "Source",
    "Workload",
    "as_list",
    "as_map",
    "inferred_nodes",
    "instance_arch",
    "label_selector_matches",
    "node_selector_matches",
    "spread_blocks",
    "tolerates",
    "why_not",
]

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod", "Job", "CronJob"})
CONNECT_INJECT = "consul.hashicorp.com/connect-inject"
CONNECT_SERVICE = "consul.hashicorp.com/connect-service"
CONNECT_UPSTREAMS = "consul.hashicorp.com/connect-service-upstreams"
ISTIO_INJECT_LABEL = "sidecar.istio.io/inject"

# Labels every node carries without anyone asking: the kubelet sets os, arch and hostname
# (and still the deprecated beta. forms of os/arch); the AWS cloud provider sets the
# instance type and the Region, in both the current and the deprecated form.
# https://kubernetes.io/docs/reference/node/node-labels
# https://kubernetes.io/docs/reference/labels-annotations-taints/
OS_LABEL = "kubernetes.io/os"
ARCH_LABEL = "kubernetes.io/arch"
HOSTNAME_LABEL = "kubernetes.io/hostname"
BETA_OS_LABEL = "beta.kubernetes.io/os"
BETA_ARCH_LABEL = "beta.kubernetes.io/arch"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
BETA_INSTANCE_TYPE_LABEL = "beta.kubernetes.io/instance-type"
REGION_LABEL = "topology.kubernetes.io/region"
LEGACY_REGION_LABEL = "failure-domain.beta.kubernetes.io/region"


@record
class Source:
    """Where an object came from (``file`` may be a plan-relative path or "")."""

    file: str
    line: int
    doc_index: int


_T = TypeVar("_T")


class _computed_once(Generic[_T]):
    """:func:`functools.cached_property` without its lock: the value is computed on first
    access and stored as the instance's attribute of that name (this is a non-data
    descriptor: the attribute hides it from then on). On Python 3.11 every first access
    of a ``cached_property`` takes a lock shared by all instances; a check of a large plan
    makes thousands of them. The values here are pure functions of an immutable object,
    so two threads computing one twice is harmless (``cached_property`` dropped its lock in
    Python 3.12 for the same reason). Stored with ``setattr``, not into ``__dict__`` as
    ``cached_property`` does: asking for ``__dict__`` turns the object's inline attribute
    values into a dictionary, and every later read of any of its fields is slower
    (150 M instructions in a check of a 200 x 40 plan). KObject is a
    :func:`~edgewise._frozen.record`: nothing refuses the assignment at run time."""

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> _T | Self:
        if instance is None:
            return self
        value = self.func(instance)
        setattr(instance, self.name, value)
        return value


@record
class KObject:
    """Any parsed Kubernetes (or CRD) object."""

    api_version: str
    kind: str
    namespace: str
    name: str
    body: Mapping[str, Any]
    source: Source

    @property
    def ref(self) -> str:
        """``Kind namespace/name`` (cluster-scoped objects without the namespace)."""
        if self.namespace:
            return f"{self.kind} {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"

    # cached: rules ask for these many times per object (objects are never mutated)
    @_computed_once
    def metadata(self) -> Mapping[str, Any]:
        return _map(self.body.get("metadata"))

    @_computed_once
    def annotations(self) -> Mapping[str, str]:
        return _str_map(self.metadata.get("annotations"))

    @_computed_once
    def labels(self) -> Mapping[str, str]:
        return _str_map(self.metadata.get("labels"))

    @_computed_once
    def spec(self) -> Mapping[str, Any]:
        return _map(self.body.get("spec"))


@record
class Workload:
    """A pod-producing object and what the scheduler would make of it."""

    obj: KObject
    pod_path: tuple[str | int, ...]  # path of the pod template spec inside ``obj.body``
    pod_labels: Mapping[str, str]
    pod_annotations: Mapping[str, str]
    pod_spec: Mapping[str, Any]
    replicas: int  # per zone for DaemonSets (one per node, modelled as one per zone)
    zones: tuple[str, ...]  # topology zone names it can run in (empty: none / unknown)
    placement: str  # why: "pinned by nodeSelector ...", "anywhere it tolerates", ...
    pinned: bool  # True when an explicit zone/role constraint (not just taints) limits it
    zone_replicas: Mapping[str, int] | None = None  # pods actually bound per zone (a live cluster)

    @property
    def namespace(self) -> str:
        return self.obj.namespace

    @property
    def name(self) -> str:
        return self.obj.name

    @property
    def kind(self) -> str:
        return self.obj.kind

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.obj.kind, self.obj.namespace, self.obj.name)

    @property
    def connect_injected(self) -> bool:
        v = self.pod_annotations.get(CONNECT_INJECT, self.obj.annotations.get(CONNECT_INJECT, ""))
        return v.lower() == "true"

    def replicas_in(self, zone: str) -> float:
        """Replicas modelled in ``zone`` (spread evenly over the zones it may use)."""
        if zone not in self.zones:
            return 0.0
        if self.zone_replicas is not None:
            return float(self.zone_replicas.get(zone, 0))
        if self.kind == "DaemonSet":
            return 1.0
        return self.replicas / len(self.zones)


@record
class Service:
    """A Kubernetes Service and the routing knobs that matter at the edge."""

    obj: KObject
    selector: Mapping[str, str]
    type: str
    external_name: str
    traffic_distribution: str
    topology_mode: bool  # topology-mode: Auto / topology-aware-hints: auto
    internal_traffic_policy: str
    ports: tuple[int, ...]

    @property
    def namespace(self) -> str:
        return self.obj.namespace

    @property
    def name(self) -> str:
        return self.obj.name

    @property
    def prefers_zone(self) -> bool:
        """True when kube-proxy prefers same-zone endpoints (and falls back cluster-wide)."""
        return self.topology_mode or self.traffic_distribution in (
            "PreferClose",
            "PreferSameZone",
            "PreferSameNode",  # same node, then same zone, then cluster-wide: same fallback
        )


def as_map(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one: how every layer that reads
    manifests (the inventory, the route resolver and call inference, check's rules) takes
    a field that may be missing or of the wrong type. A plain dict is tested first and
    ``None`` never against the ABC: ``isinstance`` with ``Mapping`` runs
    ``ABCMeta.__instancecheck__``, a Python frame, ~10x the cost (28,000 calls in a
    50 x 20 plan's check)."""
    return value if type(value) is dict or (value is not None and isinstance(value, Mapping)) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else an empty one."""
    return value if type(value) is list or isinstance(value, list) else []


def _str_map(value: Any) -> dict[str, str]:
    """A mapping of labels, annotations or a selector as str to str (YAML may type a value
    ``true`` or ``8080``); an empty dict for anything else. The empty case, the most common
    one, skips making a comprehension."""
    if not value or not (type(value) is dict or isinstance(value, Mapping)):
        return {}
    return {str(k): str(v) for k, v in value.items()}


_map = as_map
_list = as_list


def label_selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A ``LabelSelector`` (matchLabels + matchExpressions) against labels."""
    for k, v in _map(selector.get("matchLabels")).items():
        if labels.get(str(k)) != str(v):
            return False
    return all(_expression(_map(e), labels) for e in _list(selector.get("matchExpressions")))


def _expression(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key = str(expr.get("key", ""))
    op = str(expr.get("operator", ""))
    values = [str(v) for v in _list(expr.get("values"))]
    have = labels.get(key)
    if op == "In":
        return have is not None and have in values
    if op == "NotIn":
        return have is None or have not in values
    if op == "Exists":
        return have is not None
    if op == "DoesNotExist":
        return have is None
    if op in ("Gt", "Lt"):
        try:
            a, b = int(have or ""), int(values[0])
        except (ValueError, IndexError):
            return False
        return a > b if op == "Gt" else a < b
    return False


def node_selector_matches(pod_spec: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """``nodeSelector`` AND required node affinity (terms ORed) against node labels."""
    for k, v in _map(pod_spec.get("nodeSelector")).items():
        if labels.get(str(k)) != str(v):
            return False
    required = _map(
        _map(_map(pod_spec.get("affinity")).get("nodeAffinity")).get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    terms = _list(required.get("nodeSelectorTerms"))
    if not terms:
        return True
    return any(_term_matches(_map(t), labels) for t in terms)


def _term_matches(term: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """One ``NodeSelectorTerm``: its expressions ANDed. "A null or empty node selector
    term matches no objects" (NodeSelectorTerm in the core/v1 API reference,
    https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#NodeAffinity);
    the scheduler agrees (edgewise's placement differential test)."""
    exprs = _list(term.get("matchExpressions"))
    if not exprs and not _list(term.get("matchFields")):
        return False
    return all(_expression(_map(e), labels) for e in exprs)


def spread_blocks(pod_spec: Mapping[str, Any], labels: Mapping[str, str]) -> list[str]:
    """Topology keys of the pod's ``DoNotSchedule`` spread constraints the node lacks.

    The scheduler's PodTopologySpread filter rejects a node without the constraint's
    ``topologyKey`` ("node(s) didn't match pod topology spread constraints (missing
    required label)"), whatever ``nodeAffinityPolicy``/``nodeTaintsPolicy`` say: those
    only decide which nodes count when skew is computed
    (https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/).
    Skew itself depends on pods already running and is not modelled here.
    """
    out = []
    for c in _list(pod_spec.get("topologySpreadConstraints")):
        c = _map(c)
        key = str(c.get("topologyKey", ""))
        if str(c.get("whenUnsatisfiable", "")) == "DoNotSchedule" and key not in labels and key not in out:
            out.append(key)
    return out


def _describe_expression(expr: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    key = str(expr.get("key", ""))
    op = str(expr.get("operator", ""))
    values = ",".join(str(v) for v in _list(expr.get("values")))
    have = labels.get(key)
    node = f"node has {key}={have}" if have is not None else f"no node label {key}"
    return f"{key} {op}{' ' + values if values else ''} ({node})"


def why_not(pod_spec: Mapping[str, Any], labels: Mapping[str, str], taints: Iterable[Mapping[str, str]]) -> list[str]:
    """Why a pod cannot be scheduled on a node with ``labels`` and ``taints`` (empty: it can):
    each ``nodeSelector`` entry it fails, the required node affinity it fails (first
    failing expression of each term) and each ``NoSchedule``/``NoExecute`` taint it does
    not tolerate, as the scheduler's NodeAffinity and TaintToleration plugins judge."""
    out: list[str] = []
    for k, v in _map(pod_spec.get("nodeSelector")).items():
        have = labels.get(str(k))
        if have != str(v):
            node = f"node has {k}={have}" if have is not None else f"no node label {k}"
            out.append(f"nodeSelector {k}={v} ({node})")
    required = _map(
        _map(_map(pod_spec.get("affinity")).get("nodeAffinity")).get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    terms = [_map(t) for t in _list(required.get("nodeSelectorTerms"))]
    if terms and not any(_term_matches(t, labels) for t in terms):
        failing = []
        for t in terms:
            bad = next((_map(e) for e in _list(t.get("matchExpressions")) if not _expression(_map(e), labels)), None)
            if bad is not None:
                failing.append(_describe_expression(bad, labels))
            elif not _term_matches(t, labels):
                failing.append("an empty term (matches no node)")
        out.append("required node affinity: " + " or ".join(failing))
    out.extend(f"topology spread over {k} (no node label {k})" for k in spread_blocks(pod_spec, labels))
    tolerations = _list(pod_spec.get("tolerations"))
    for t in taints:
        if t.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, t):
            out.append(f"taint {t.get('key')}={t.get('value', '')}:{t.get('effect')} not tolerated")
    return out


def tolerates(tolerations: Sequence[Any], taint: Mapping[str, str]) -> bool:
    """Whether any toleration tolerates ``taint`` (Kubernetes semantics)."""
    for raw in tolerations:
        t = _map(raw)
        effect = str(t.get("effect", "") or "")
        if effect and effect != taint.get("effect"):
            continue
        op = str(t.get("operator", "Equal") or "Equal")
        key = t.get("key")
        if key in (None, ""):
            if op == "Exists":
                return True
            continue
        if str(key) != taint.get("key"):
            continue
        if op == "Exists" or str(t.get("value", "") or "") == taint.get("value", ""):
            return True
    return False


def _constraint_keys(pod_spec: Mapping[str, Any]) -> set[str]:
    keys = {str(k) for k in _map(pod_spec.get("nodeSelector"))}
    required = _map(
        _map(_map(pod_spec.get("affinity")).get("nodeAffinity")).get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    for t in _list(required.get("nodeSelectorTerms")):
        keys.update(str(_map(e).get("key", "")) for e in _list(_map(t).get("matchExpressions")))
    return keys


@dataclass(frozen=True)
class InferredNode:
    """A node as the model sees it: one per zone (and per CPU architecture when the
    zone's instance type is unknown). ``zone`` is the topology zone name."""

    name: str
    zone: str
    labels: Mapping[str, str]
    taints: tuple[Mapping[str, str], ...]


def _unique_taints(taints: Iterable[Mapping[str, str]]) -> tuple[Mapping[str, str], ...]:
    seen: dict[tuple[str, str], Mapping[str, str]] = {}
    for t in taints:
        seen.setdefault((t.get("key", ""), t.get("effect", "")), t)
    return tuple(seen.values())


def inferred_nodes(
    topology: Topology,
    *,
    edge_taints: bool = True,
    zone_taints: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
) -> list[InferredNode]:
    """The nodes of ``topology``'s node groups, labelled and tainted as on a real cluster.

    Labels: the kubelet's and the cloud provider's (os, arch, hostname, instance type,
    zone and Region, current and ``beta.``/``failure-domain.beta.`` forms), then
    edgewise's own and the node group's. A zone whose instance type is unknown (a
    topology inferred from zone names) gets an amd64 and an arm64 node: either may
    exist, so neither architecture is ruled out. Taints: the ones the node group declares,
    edgewise's edge taint on edge zones unless ``edge_taints`` is False, and
    ``zone_taints[zone]`` (taints known from elsewhere, e.g. an eksctl config). Zones
    scaled to ``max: 0`` have no nodes.
    """
    out: list[InferredNode] = []
    for z in topology.zones:
        ng = z.node_group
        if ng is not None and ng.max_size == 0:
            continue
        archs = [instance_arch(ng.instance_type)] if ng is not None else ["amd64", "arm64"]
        declared = [{"key": t.key, "value": t.value, "effect": t.effect} for t in (ng.taints if ng else ())]
        found = [dict(t) for t in (zone_taints or {}).get(z.name, ())]
        taints = _unique_taints([*(node_taints(z) if edge_taints else declared), *found])
        for arch in archs:
            name = f"{z.name}-{arch}-node"
            labels: dict[str, str] = {
                OS_LABEL: "linux",
                BETA_OS_LABEL: "linux",
                ARCH_LABEL: arch,
                BETA_ARCH_LABEL: arch,
                HOSTNAME_LABEL: name,
                K8S_ZONE_LABEL: z.k8s_zone,
                LEGACY_ZONE_LABEL: z.k8s_zone,
                REGION_LABEL: z.region,
                LEGACY_REGION_LABEL: z.region,
            }
            if ng is not None:
                labels[INSTANCE_TYPE_LABEL] = ng.instance_type
                labels[BETA_INSTANCE_TYPE_LABEL] = ng.instance_type
            labels.update(node_labels(z))
            out.append(InferredNode(name, z.name, dict(sorted(labels.items())), taints))
    return out


@dataclass
class Inventory:
    """Every object by kind/namespace/name, plus derived workloads and Services.

    Build it with :meth:`from_objects`. Lookups are dictionary hits; selector matching
    goes through a per-namespace label index.
    """

    topology: Topology | None
    objects: tuple[KObject, ...]
    skipped: tuple[tuple[Source, str], ...]  # documents that are not Kubernetes objects
    _by_key: dict[tuple[str, str, str], KObject] = field(default_factory=dict)
    _by_kind: dict[str, list[KObject]] = field(default_factory=dict)
    _workloads: list[Workload] = field(default_factory=list)
    _services: dict[tuple[str, str], Service] = field(default_factory=dict)
    _services_by_name: dict[str, list[Service]] = field(default_factory=dict)
    _label_index: dict[tuple[str, str, str], list[Workload]] = field(default_factory=dict)
    _ns_workloads: dict[str, list[Workload]] = field(default_factory=dict)
    _consul_name: dict[tuple[str, str, str], str] = field(default_factory=dict)
    _consul_index: dict[str, list[Workload]] = field(default_factory=dict)
    _select_cache: dict[tuple[str, str], tuple[Workload, ...]] = field(default_factory=dict)
    _owned_by: dict[tuple[str, str, str], list[Service]] = field(default_factory=dict)
    _by_ns_name: dict[tuple[str, str], Workload] = field(default_factory=dict)
    _namespaces: set[str] | None = None
    nodes: list[InferredNode] = field(default_factory=list)  # what placement was inferred against
    consul_edition: str | None = None  # "ce" | "enterprise" | None: as told by the user
    _mirroring: bool | None = None

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_objects(
        cls,
        objects: Iterable[tuple[Mapping[str, Any], Source]] | InventoryParts,
        topology: Topology | None,
        *,
        edge_taints: bool = True,
        zone_taints: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
        consul_edition: str | None = None,
        nodes: Sequence[InferredNode] | None = None,
    ) -> Inventory:
        """Index ``objects``; infer placement against ``topology``'s node groups.

        ``objects`` may come made ready one by one already, as they were read
        (:class:`InventoryParts`); the inventory is the same.

        ``edge_taints=False`` when nothing says the edge nodes carry edgewise's edge taint
        (``check`` decides it from the evidence, :mod:`edgewise.check.taints`); the taints
        the topology's node groups declare apply regardless, and ``zone_taints`` adds the
        taints known per zone (an eksctl config's). Nodes always carry the labels the
        kubelet and AWS set and edgewise's ``edgewise.dev/*`` labels: only manifests
        written for an edgewise cluster ask for the latter, and they are right to.
        """
        parts = InventoryParts.of(objects)
        inv = cls(topology=topology, objects=tuple(parts.objects), skipped=tuple(parts.skipped),
                  consul_edition=consul_edition)
        inv._index(parts, edge_taints, zone_taints, nodes)
        return inv

    def _index(
        self,
        parts: InventoryParts,
        edge_taints: bool,
        zone_taints: Mapping[str, Sequence[Mapping[str, str]]] | None,
        real_nodes: Sequence[InferredNode] | None = None,
    ) -> None:
        topo = self.topology
        if real_nodes is not None:
            nodes = self.nodes = list(real_nodes)
        else:
            nodes = self.nodes = inferred_nodes(topo, edge_taints=edge_taints, zone_taints=zone_taints) if topo else []
        memo: dict[bytes | str, tuple[tuple[str, ...], str, bool]] = {}
        self._by_key, self._by_kind = parts.by_key, parts.by_kind
        node_index = _NodeIndex(nodes)
        # workloads are placed once the nodes are known: each distinct set of scheduling
        # constraints is decided once (the memo)
        for o, pod_path, labels, pod_annotations, pod_spec, replicas, key in parts.pods:
            placed = memo.get(key)
            if placed is None:
                placed = memo[key] = _placement(pod_spec, node_index)
            zones, why, pinned = placed
            self._workloads.append(Workload(
                obj=o, pod_path=pod_path, pod_labels=labels, pod_annotations=pod_annotations, pod_spec=pod_spec,
                replicas=replicas, zones=zones, placement=why, pinned=pinned))
        for s in parts.services:
            self._services[(s.namespace, s.name)] = s
            self._services_by_name.setdefault(s.name, []).append(s)
        # a cluster export lists Deployments, their ReplicaSets and their Pods: count each
        # pod once, through the top-most controller present in the input
        present = {w.key for w in self._workloads}
        self._workloads = [w for w in self._workloads if _controller(w.obj) not in present]
        if real_nodes is not None:
            self._bind(present)
        for w in self._workloads:
            self._ns_workloads.setdefault(w.namespace, []).append(w)
            self._by_ns_name.setdefault((w.namespace, w.name), w)
            for k, v in w.pod_labels.items():
                self._label_index.setdefault((w.namespace, k, v), []).append(w)
        for s in self._services.values():
            for w in self.select(s):
                self._owned_by.setdefault(w.key, []).append(s)
        for w in self._workloads:
            name = w.pod_annotations.get(CONNECT_SERVICE) or w.obj.annotations.get(CONNECT_SERVICE)
            if not name:
                owners = self._owned_by.get(w.key, [])
                name = owners[0].name if owners else w.name
            self._consul_name[w.key] = name
            if w.connect_injected:
                self._consul_index.setdefault(name, []).append(w)

    def _top(self, key: tuple[str, str, str], present: set[tuple[str, str, str]]) -> tuple[str, str, str]:
        """The top-most controller of ``key`` present in the input (Pod -> ReplicaSet -> Deployment)."""
        for _ in range(5):
            o = self._by_key.get(key)
            owner = _controller(o) if o is not None else None
            if owner is None or owner not in present:
                return key
            key = owner
        return key

    def _bind(self, present: set[tuple[str, str, str]]) -> None:
        """A live cluster: workloads are where their pods are bound, Services route to the
        pods their EndpointSlices hold (ready endpoints)."""
        zone_of = {n.name: n.zone for n in self.nodes}
        counts: dict[tuple[str, str, str], dict[str, int]] = {}
        pod_owner: dict[tuple[str, str], tuple[str, str, str]] = {}
        for pod in self.of_kind("Pod"):
            top = self._top(("Pod", pod.namespace, pod.name), present)
            pod_owner[(pod.namespace, pod.name)] = top
            zone = zone_of.get(str(pod.spec.get("nodeName") or ""))
            phase = str(_map(pod.body.get("status")).get("phase") or "")
            if zone is not None and phase not in ("Succeeded", "Failed"):
                per = counts.setdefault(top, {})
                per[zone] = per.get(zone, 0) + 1
        for i, w in enumerate(self._workloads):
            bound = counts.get(w.key)
            if bound:
                zones = tuple(z for z in dict.fromkeys(n.zone for n in self.nodes) if z in bound)
                self._workloads[i] = replace(
                    w,
                    zones=zones,
                    replicas=sum(bound.values()),
                    zone_replicas=dict(bound),
                    placement="bound: " + ", ".join(f"{z} x{bound[z]}" for z in zones),
                )
        by_key = {w.key: w for w in self._workloads}
        for es in self.of_kind("EndpointSlice"):
            svc = es.labels.get("kubernetes.io/service-name")
            if not svc:
                continue
            found = list(self._select_cache.get((es.namespace, svc), ()))
            for ep in _list(es.body.get("endpoints")):
                ep = _map(ep)
                if _map(ep.get("conditions")).get("ready") is False:
                    continue
                ref = _map(ep.get("targetRef"))
                if ref.get("kind") != "Pod":
                    continue
                owner = pod_owner.get((str(ref.get("namespace") or es.namespace), str(ref.get("name") or "")))
                backend = by_key.get(owner) if owner else None
                if backend is not None and backend not in found:
                    found.append(backend)
            self._select_cache[(es.namespace, svc)] = tuple(found)

    # -- lookups ------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> KObject | None:
        return self._by_key.get((kind, namespace, name))

    def of_kind(self, *kinds: str) -> list[KObject]:
        out: list[KObject] = []
        for k in kinds:
            out.extend(self._by_kind.get(k, []))
        return out

    def workloads(self) -> Sequence[Workload]:
        return self._workloads

    def workloads_in(self, namespace: str) -> Sequence[Workload]:
        return self._ns_workloads.get(namespace, [])

    def services(self) -> Sequence[Service]:
        return list(self._services.values())

    def service(self, namespace: str, name: str) -> Service | None:
        return self._services.get((namespace, name))

    def services_named(self, name: str) -> Sequence[Service]:
        """Services of that name in any namespace."""
        return self._services_by_name.get(name, [])

    def namespaces(self) -> set[str]:
        """Every namespace named by an object or a Namespace object (cached)."""
        if self._namespaces is None:
            self._namespaces = {o.namespace for o in self.objects if o.namespace} | {
                o.name for o in self.of_kind("Namespace")
            }
        return self._namespaces

    def select(self, service: Service) -> tuple[Workload, ...]:
        """Workloads whose pods ``service`` selects (same namespace, all selector labels)."""
        key = (service.namespace, service.name)
        cached = self._select_cache.get(key)
        if cached is not None:
            return cached
        if not service.selector:
            result: tuple[Workload, ...] = ()
        else:
            candidates: list[Workload] | None = None
            for k, v in service.selector.items():
                hit = self._label_index.get((service.namespace, k, v), [])
                if candidates is None or len(hit) < len(candidates):
                    candidates = hit
            result = tuple(
                w for w in candidates or [] if all(w.pod_labels.get(k) == v for k, v in service.selector.items())
            )
        self._select_cache[key] = result
        return result

    def services_of(self, workload: Workload) -> Sequence[Service]:
        """Services that select ``workload``'s pods."""
        return self._owned_by.get(workload.key, [])

    def consul_name(self, workload: Workload) -> str:
        """The Consul service name the workload registers as (annotation, else its Service)."""
        return self._consul_name.get(workload.key, workload.name)

    def consul_instances(self, name: str) -> Sequence[Workload]:
        """Connect-injected workloads registering as Consul service ``name``."""
        return self._consul_index.get(name, [])

    def consul_mirroring(self) -> bool:
        """Whether Consul namespaces mirror Kubernetes namespaces: the one answer the
        resolver, the call inference and every rule use (cached).

        In order: Consul Helm values among the objects (``connectInject.consulNamespaces
        .mirroringK8S``, which needs Enterprise); else the edition when known (CE has no
        namespaces: https://developer.hashicorp.com/consul/docs/enterprise/namespaces);
        else inferred: a Consul config entry that names a Consul namespace means
        namespaces are in use (Enterprise with mirroring, the seed's setup).
        """
        if self._mirroring is None:
            self._mirroring = self._decide_mirroring()
        return self._mirroring

    def _decide_mirroring(self) -> bool:
        for o in self.of_kind("ConsulHelmValues"):
            ci = _map(o.body.get("connectInject"))
            return bool(_map(ci.get("consulNamespaces")).get("mirroringK8S"))
        if self.consul_edition == "ce":
            return False
        for o in self.of_kind("ServiceResolver", "ServiceIntentions", "ServiceRouter"):
            if _mentions_namespace(o.spec):
                return True
        return False

    def workload_by_name(self, namespace: str, name: str) -> Workload | None:
        """The workload called ``name`` in ``namespace`` (any workload kind)."""
        return self._by_ns_name.get((namespace, name))


def _controller(o: KObject) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of the controller owning ``o`` (ownerReferences)."""
    for ref in _list(o.metadata.get("ownerReferences")):
        r = _map(ref)
        if r.get("controller") is True:
            return (str(r.get("kind")), o.namespace, str(r.get("name")))
    return None


def _mentions_namespace(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(k == "namespace" and v for k, v in value.items()) or any(
            _mentions_namespace(v) for v in value.values()
        )
    if isinstance(value, list):
        return any(_mentions_namespace(v) for v in value)
    return False


def _kobject(body: Mapping[str, Any], source: Source) -> KObject:
    meta = _map(body.get("metadata"))
    kind = str(body.get("kind"))
    namespaced = kind not in _CLUSTER_SCOPED
    ns = str(meta.get("namespace") or ("default" if namespaced else ""))
    return KObject(str(body.get("apiVersion")), kind, ns, str(meta.get("name") or ""), body, source)


_CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "ClusterRole",
        "ClusterRoleBinding",
        "StorageClass",
        "PersistentVolume",
        "CustomResourceDefinition",
        "PriorityClass",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "APIService",
        "ProxyDefaults",
        "Mesh",
        "ExportedServices",
    }
)


def _pod_template(o: KObject) -> tuple[tuple[str | int, ...], Mapping[str, Any]] | None:
    if o.kind == "Pod":
        return (), o.body
    if o.kind == "Job":
        return ("spec", "template"), _map(o.spec.get("template"))
    if o.kind == "CronJob":  # batch/v1: the pod template of the Job it creates
        job_tmpl = _map(_map(o.spec.get("jobTemplate")).get("spec")).get("template")
        return (("spec", "jobTemplate", "spec", "template"), job_tmpl) if isinstance(job_tmpl, Mapping) else None
    tmpl = o.spec.get("template")
    if not (type(tmpl) is dict or isinstance(tmpl, Mapping)):
        return None
    return ("spec", "template"), tmpl


class _NodeIndex:
    """The nodes, and which of them carry each label value: a pod pinned to one zone
    is matched against that zone's nodes only (placement stays linear in zones)."""

    def __init__(self, nodes: list[InferredNode]) -> None:
        self.nodes = nodes
        self.by_label: dict[tuple[str, str], list[int]] = {}
        for i, n in enumerate(nodes):
            for k, v in n.labels.items():
                self.by_label.setdefault((k, v), []).append(i)

    def candidates(self, pod_spec: Mapping[str, Any]) -> list[InferredNode]:
        """The nodes :func:`node_selector_matches` may accept, in order: every node but
        those a ``nodeSelector`` pair, or an ``In`` expression in every required node
        affinity term, rules out (the exact test still runs on each one left)."""
        allowed: set[int] | None = None
        for k, v in _map(pod_spec.get("nodeSelector")).items():
            hit = set(self.by_label.get((str(k), str(v)), ()))
            allowed = hit if allowed is None else allowed & hit
        required = _map(_map(_map(pod_spec.get("affinity")).get("nodeAffinity"))
                        .get("requiredDuringSchedulingIgnoredDuringExecution"))
        terms = _list(required.get("nodeSelectorTerms"))
        if terms:
            union: set[int] = set()
            for t in terms:
                ins = [_map(e) for e in _list(_map(t).get("matchExpressions")) if _map(e).get("operator") == "In"]
                if not ins:
                    union = set(range(len(self.nodes)))  # this term may match any node
                    break
                key = str(ins[0].get("key", ""))
                for v in _list(ins[0].get("values")):
                    union.update(self.by_label.get((key, str(v)), ()))
            allowed = union if allowed is None else allowed & union
        if allowed is None:
            return self.nodes
        return [self.nodes[i] for i in sorted(allowed)]


#: a workload's own part (:class:`InventoryParts`): the object, the path of its pod
#: spec, the pod's labels and annotations, its spec, its replicas, and the key of its
#: scheduling constraints
_PodPart = tuple[KObject, tuple[str | int, ...], dict[str, str], dict[str, str], Mapping[str, Any], int, bytes | str]


def _pod_part(o: KObject) -> _PodPart | None:
    found = _pod_template(o)
    if found is None:
        return None
    path, tmpl = found
    meta = _map(tmpl.get("metadata"))
    pod_spec = _map(tmpl.get("spec"))
    raw_replicas = o.spec.get("replicas", 1) if o.kind not in ("Pod", "DaemonSet", "Job", "CronJob") else 1
    replicas = raw_replicas if isinstance(raw_replicas, int) and raw_replicas >= 0 else 1
    # workloads of one zone share their constraints: each distinct set is decided once
    key = _constraints_key(
        (
            pod_spec.get("nodeSelector"),
            pod_spec.get("affinity"),
            pod_spec.get("tolerations"),
            pod_spec.get("topologySpreadConstraints"),
        )
    )
    return (
        o,
        (*path, "spec"),
        _str_map(meta.get("labels")),
        _str_map(meta.get("annotations")),
        pod_spec,
        replicas,
        key,
    )


class InventoryParts:
    """What building an :class:`Inventory` makes of each object on its own, before any
    node is known: the object itself (:class:`KObject`; a ``List``'s items), its
    :class:`Service`, and a workload's pod labels, annotations, replicas and the key of
    its scheduling constraints. Placement and every index over all objects come after,
    in :meth:`Inventory.from_objects`.

    :meth:`Inventory.from_objects` fills one from the objects it is given and finishes it
    at once, or finishes one filled already: ``check`` fills one
    as each file's documents are built (:class:`edgewise.check.inputs.LoadedInputs`),
    while the files after it are still being parsed on other threads: the reading
    thread otherwise only waits for those parses (~75 of 240 ms at 200 x 40)."""

    __slots__ = ("by_key", "by_kind", "objects", "pods", "services", "skipped")

    def __init__(self) -> None:
        self.objects: list[KObject] = []
        self.skipped: list[tuple[Source, str]] = []
        self.by_key: dict[tuple[str, str, str], KObject] = {}
        self.by_kind: dict[str, list[KObject]] = {}
        self.pods: list[_PodPart] = []
        self.services: list[Service] = []

    @classmethod
    def of(cls, objects: Iterable[tuple[Mapping[str, Any], Source]] | InventoryParts) -> InventoryParts:
        """``objects`` made ready (itself when it is made ready already)."""
        if isinstance(objects, InventoryParts):
            return objects
        parts = cls()
        for body, source in objects:
            parts.add(body, source)
        return parts

    def add(self, body: Any, source: Source) -> None:
        """One document, as :meth:`Inventory.from_objects` takes it."""
        if not (type(body) is dict or isinstance(body, Mapping)):
            self.skipped.append((source, "not a mapping"))
            return
        kind = body.get("kind")
        api = body.get("apiVersion")
        if not isinstance(kind, str) or not isinstance(api, str):
            self.skipped.append((source, "no apiVersion/kind"))
            return
        if kind == "List":
            for item in _list(body.get("items")):
                if isinstance(item, Mapping) and isinstance(item.get("kind"), str):
                    self._object(_kobject(item, source))
            return
        self._object(_kobject(body, source))

    def _object(self, o: KObject) -> None:
        self.objects.append(o)
        self.by_key[(o.kind, o.namespace, o.name)] = o
        self.by_kind.setdefault(o.kind, []).append(o)
        if o.kind in WORKLOAD_KINDS:
            part = _pod_part(o)
            if part is not None:
                self.pods.append(part)
                o.annotations  # noqa: B018 (computed once: every workload's is read when indexed)
        elif o.kind == "Service" and o.api_version == "v1":
            self.services.append(_service(o))


def _constraints_key(constraints: tuple[Any, ...]) -> bytes | str:
    """A key equal for equal scheduling constraints (the same data in the same order):
    their ``marshal`` serialization, ~4x faster than ``repr`` (a read of 14,000 objects
    makes one per workload), else, for a value marshal cannot write (a timestamp YAML
    typed), their ``repr``. Equal data written in another order only misses the memo."""
    try:
        return marshal.dumps(constraints)
    except ValueError:
        return repr(constraints)


def _placement(pod_spec: Mapping[str, Any], index: _NodeIndex) -> tuple[tuple[str, ...], str, bool]:
    keys = _constraint_keys(pod_spec)
    if not index.nodes:
        return (), "unknown (no topology)", bool(keys)
    tolerations = _list(pod_spec.get("tolerations"))
    zones: list[str] = []
    untolerated: set[str] = set()
    for n in index.candidates(pod_spec):
        if not node_selector_matches(pod_spec, n.labels) or spread_blocks(pod_spec, n.labels):
            continue
        blocking = [
            t for t in n.taints if t.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, t)
        ]
        if blocking:
            untolerated.update(t["key"] for t in blocking)
            continue
        if n.zone not in zones:
            zones.append(n.zone)
    if keys:
        why = "constrained by " + ", ".join(sorted(keys))
    elif untolerated:
        why = "anywhere it tolerates (not tainted " + ", ".join(sorted(untolerated)) + " nodes)"
    else:
        why = "anywhere (no node constraint)"
    return tuple(zones), why, bool(keys)


def _service(o: KObject) -> Service:
    spec = o.spec
    ann = o.annotations
    mode = (
        ann.get("service.kubernetes.io/topology-mode", "").lower() == "auto"
        or ann.get("service.kubernetes.io/topology-aware-hints", "").lower() == "auto"
    )
    ports = tuple(
        int(p["port"]) for p in _list(spec.get("ports"))
        if (type(p) is dict or isinstance(p, Mapping)) and isinstance(p.get("port"), int)
    )
    return Service(
        obj=o,
        selector=_str_map(spec.get("selector")),
        type=str(spec.get("type") or "ClusterIP"),
        external_name=str(spec.get("externalName") or ""),
        traffic_distribution=str(spec.get("trafficDistribution") or ""),
        topology_mode=mode,
        internal_traffic_policy=str(spec.get("internalTrafficPolicy") or "Cluster"),
        ports=ports,
    )
