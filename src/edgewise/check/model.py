"""What a check rule sees (:class:`CheckContext`) and what it reports (:class:`Finding`).

Rules never parse files or walk directories: the context hands them the inventory, the
route resolver, cluster configs and CloudFormation templates, plus helpers that turn
an object and a field path into ``file:line``. That keeps each rule a few dozen lines of
edge knowledge, and lets ``plan`` run the same rules on objects it holds in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from .._frozen import record
from ..k8s.inventory import Inventory, KObject, Source, Workload, node_selector_matches
from ..k8s.inventory import as_map as _map
from ..routing import Call, Caller, Resolution, RouteResolver
from ..spec import Document, ZoneType
from ..topology import Topology, Zone
from .finding import Finding, Severity

__all__ = [
    "CfnTemplate",
    "CheckContext",
    "Finding",
    "RoutedCall",
    "Rule",
    "Severity",
]


@dataclass(frozen=True)
class CfnTemplate:
    """A CloudFormation template (``Resources`` of ``AWS::...`` types)."""

    body: Mapping[str, Any]
    source: Source
    #: bytes of the template as it is sent to CloudFormation (its file), None if unknown
    size: int | None = None

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        r = self.body.get("Resources")
        return r if type(r) is dict or isinstance(r, Mapping) else {}

    def of_type(self, *types: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(logical id, Properties) of every resource of those types, in template order."""
        # a plain dict is tested first (here and in the helpers below): isinstance with an
        # ABC runs ABCMeta.__instancecheck__, a Python frame, ~10x the cost, on every field
        for lid, res in self.resources.items():
            if (type(res) is dict or isinstance(res, Mapping)) and res.get("Type") in types:
                props = res.get("Properties")
                yield str(lid), props if type(props) is dict or isinstance(props, Mapping) else {}


@record
class RoutedCall:
    """One inferred call, resolved for one zone its caller can run in."""

    call: Call
    caller: Caller
    resolution: Resolution


class Rule:
    """Base class of every rule. Subclasses set the metadata and implement ``check``."""

    id: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    rationale: ClassVar[str]  # why, citing the seed passage or the upstream doc
    fix: ClassVar[str] = ""  # what to do instead (shown as the hint)

    def check(self, ctx: CheckContext) -> Iterable[Finding]:
        raise NotImplementedError


@dataclass
class CheckContext:
    """Everything a rule may look at; built once per check run."""

    inventory: Inventory
    topology: Topology | None
    cfn_templates: Sequence[CfnTemplate] = ()
    documents: Mapping[tuple[str, int], Document] = field(default_factory=dict)
    edge_taints: bool = True
    consul_edition: str | None = None  # "ce" | "enterprise" | None (unknown)
    topology_inferred: bool = False  # built from the catalog zones the inputs name: may be partial
    #: what several rules derive alike from the context (e.g. every pod template), kept
    #: for the run by the helper that derives it
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def resolver(self) -> RouteResolver | None:
        return RouteResolver(self.inventory, self.topology) if self.topology else None

    # -- zones --------------------------------------------------------------------------
    def zone(self, name: str) -> Zone | None:
        if self.topology is None or not self.topology.has_zone(name):
            return None
        return self.topology.zone(name)

    @cached_property
    def _zone_is_edge(self) -> dict[str, bool]:
        """Zone name -> whether it is an edge zone (the rules ask for every zone of every
        workload and endpoint)."""
        return {z.name: z.is_edge for z in self.topology.zones} if self.topology is not None else {}

    def is_edge(self, name: str) -> bool:
        return self._zone_is_edge.get(name, False)

    def edge_zones_of(self, zones: Iterable[str]) -> list[str]:
        return [z for z in zones if self.is_edge(z)]

    def zone_of_subnet_id(self, subnet_id: str) -> str | None:
        """Topology zone whose subnet has this id (spec ``subnet.id``)."""
        if self.topology is None:
            return None
        return next((z.name for z in self.topology.zones if z.subnet_id == subnet_id), None)

    def zone_by_k8s(self, value: str) -> list[Zone]:
        """Topology zones whose nodes carry ``topology.kubernetes.io/zone=value`` or the name."""
        if self.topology is None:
            return []
        return [z for z in self.topology.zones if value in (z.name, z.k8s_zone)]

    def zones_ignoring_taints(self, w: Workload) -> list[str]:
        """Zones with a node that matches the workload's node selection, taints aside."""
        out: list[str] = []
        for n in self.inventory.nodes:
            if n.zone not in out and node_selector_matches(w.pod_spec, n.labels):
                out.append(n.zone)
        return out

    @property
    def has_edge(self) -> bool:
        return self.topology is not None and bool(self.topology.edge_zones)

    def has_kind(self, kind: ZoneType) -> bool:
        return self.topology is not None and bool(self.topology.of_kind(kind))

    # -- calls --------------------------------------------------------------------------
    @cached_property
    def routed_calls(self) -> Sequence[RoutedCall]:
        """Every inferred call resolved from every zone its caller can run in."""
        r = self.resolver
        if r is None:
            return []
        out = []
        for call in r.calls():
            for caller in r.callers(call):
                out.append(RoutedCall(call, caller, r.resolve(caller, call.name, via=call.via)))
        return out

    @cached_property
    def call_groups(self) -> Mapping[tuple[str, str, str, str, str], Sequence[RoutedCall]]:
        """:attr:`routed_calls` grouped per call (kind, namespace, workload, name, via), in
        their order: one finding per call, listing its zones (five routing rules read
        them; grouped once)."""
        out: dict[tuple[str, str, str, str, str], list[RoutedCall]] = {}
        for rc in self.routed_calls:
            c = rc.call
            out.setdefault((c.kind, c.namespace, c.workload, c.name, c.via), []).append(rc)
        return out

    # -- objects ------------------------------------------------------------------------
    def of_kind(self, *kinds: str) -> list[KObject]:
        return self.inventory.of_kind(*kinds)

    @property
    def cluster_configs(self) -> list[KObject]:
        return [o for o in self.inventory.of_kind("ClusterConfig") if o.api_version.startswith("eksctl.io/")]

    @cached_property
    def consul_helm_values(self) -> Mapping[str, Any] | None:
        for o in self.inventory.of_kind("ConsulHelmValues"):
            return o.body
        return None

    def consul_mirroring(self) -> bool:
        """Namespace mirroring: the inventory's answer, the same the resolver uses."""
        return self.inventory.consul_mirroring()

    def consul_is_ce(self) -> bool | None:
        """True for Consul CE, False for Enterprise, None when unknown."""
        if self.consul_edition is not None:
            return self.consul_edition == "ce"
        values = self.consul_helm_values
        if values is None:
            return None
        g = _map(values.get("global"))
        image = str(g.get("image") or "")
        return not (re.search(r"enterprise|-ent\b", image) or g.get("enableConsulNamespaces"))

    # -- locations ----------------------------------------------------------------------
    def locate(self, source: Source, path: Sequence[str | int] = ()) -> tuple[str, int]:
        doc = self.documents.get((source.file, source.doc_index))
        if doc is None:
            return source.file, source.line
        return source.file, doc.position(tuple(path))[0]

    def finding(
        self,
        rule: Rule,
        obj: KObject | None,
        message: str,
        *,
        path: Sequence[str | int] = (),
        source: Source | None = None,
        object_ref: str = "",
        hint: str | None = None,
    ) -> Finding:
        src = source or (obj.source if obj is not None else Source("", 0, 0))
        file, line = self.locate(src, path)
        ref = object_ref or (obj.ref if obj is not None else "")
        return Finding(file, line, rule.id, rule.name, rule.severity, ref, message, rule.fix if hint is None else hint)

    def cfn_finding(self, rule: Rule, tpl: CfnTemplate, logical_id: str, message: str, *path: str | int) -> Finding:
        return self.finding(
            rule,
            None,
            message,
            path=("Resources", logical_id, *path),
            source=tpl.source,
            object_ref=f"CloudFormation {logical_id}",
        )

    @cached_property
    def _cfn_exports(self) -> dict[str, tuple[CfnTemplate, Any]]:
        """Export-name key -> (template, output value), for ``Fn::ImportValue``."""
        out: dict[str, tuple[CfnTemplate, Any]] = {}
        for tpl in self.cfn_templates:
            for output in _map(tpl.body.get("Outputs")).values():
                name = _map(_map(output).get("Export")).get("Name")
                key = _export_key(name)
                if key:
                    out.setdefault(key, (tpl, _map(output).get("Value")))
        return out

    def cfn_resolve(self, tpl: CfnTemplate, value: Any) -> tuple[CfnTemplate, Any]:
        """``value`` where it is defined: an ``Fn::ImportValue`` of another template's export
        becomes (that template, the exported value); anything else stays as it is. An
        import no template exports stays too."""
        if isinstance(value, Mapping) and "Fn::ImportValue" in value:
            found = self._cfn_exports.get(_export_key(value["Fn::ImportValue"]) or "")
            if found is not None:
                return found
        return tpl, value

    def cfn_subnet_zone(self, tpl: CfnTemplate, ref: Any) -> tuple[str | None, str | None]:
        """(zone name, outpost ARN) of a subnet given as ``{"Ref": Id}``, an imported stack
        output (``Fn::ImportValue``) or a literal subnet id."""
        if isinstance(ref, Mapping) and "Fn::ImportValue" in ref:
            found = self._cfn_exports.get(_export_key(ref["Fn::ImportValue"]) or "")
            if found is None:
                return None, None
            tpl, ref = found
        if isinstance(ref, Mapping) and "Ref" in ref:
            res = _map(tpl.resources.get(str(ref["Ref"])))
            props = _map(res.get("Properties"))
            az = props.get("AvailabilityZone")
            arn = props.get("OutpostArn")
            return (az if isinstance(az, str) else None), (arn if isinstance(arn, str) else None)
        if isinstance(ref, str) and self.topology is not None:
            for z in self.topology.zones:
                if z.subnet_id == ref:
                    return z.name, z.outpost_arn
        return None, None


def _export_key(name: Any) -> str | None:
    """``{"Fn::Sub": "${AWS::StackName}-SubnetXId"}`` and ``"${Other}-SubnetXId"`` -> ``-SubnetXId``:
    stack-name placeholders differ between exporter and importer, the rest must match."""
    if isinstance(name, Mapping) and "Fn::Sub" in name:
        name = name["Fn::Sub"]
        if isinstance(name, list) and name:
            name = name[0]
    if not isinstance(name, str):
        return None
    return re.sub(r"\$\{[^}]*\}", "", name) or None
