"""Split a CloudFormation template that grows with the edge zones into stacks that fit.

CloudFormation refuses a template with more than 500 resources, 200 outputs, 200
parameters or 200 mappings, or a body over 1 MB even from S3, and none of these quotas
can be raised (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
The network and Wavelength templates hold a few resources per edge zone, so a large
topology needs more than one stack:

* a **base** stack with everything that does not belong to one edge zone (the VPC, the
  Region's subnets and NAT gateways, the carrier gateway, endpoints, the node role, ...);
  it keeps the single template's stack name, so its exports keep their names;
* one stack per **group** of edge zones, holding each zone's own resources and outputs.
  A zone's group is a hash of its name (:func:`zone_bucket`, one of :data:`BUCKETS`),
  never its position in the spec: adding or removing a zone moves no other zone to
  another stack. (Moving a resource between stacks makes CloudFormation delete it from
  one and create it in the other; a subnet that nodes use cannot be deleted, and its
  CIDR is taken, so such an update cannot be applied at all.) The most zones a stack may
  hold is derived from the largest per-zone cost (resources, outputs, bytes) so that
  every stack stays within :data:`MARGIN` of every quota; with :data:`BUCKETS` stacks
  that holds up to the spec's 1,024 zones, and a group that would hold more is split
  further by zone name (the one case where a new zone can move others);
* optionally a **tail** stack for resources that gather every zone (the S3 gateway
  endpoint lists every private route table).

References between the stacks are cross-stack references: the referenced value is an
``Export`` of its stack's outputs and the referring stack reads it with
``Fn::ImportValue``. CloudFormation keeps such stacks consistent: an export that another
stack imports can be neither changed nor deleted, so the stacks cannot be deleted out of
order (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html).
Parameters would need the RUNBOOK to carry hundreds of ids from one stack to the next and
would let a base stack be deleted under the groups that use it. Every export is named
``<base stack>-<output>`` (the split stacks take the base stack's name as the parameter
:attr:`Split.prefix_param`), so what a consumer imports does not depend on which group
holds a zone.

A template that fits within :data:`MARGIN` of every quota is left whole: small plans keep
their single, readable stack. Growing past that (about 74 edge zones for the network)
moves every edge zone's resources into the group stacks once; the RUNBOOK of such a
plan is for a new cluster, not an update of a single-stack one.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...cfnlimits import MAX_INLINE_TEMPLATE_BYTES, MAX_S3_TEMPLATE_BYTES, QUOTAS

__all__ = [
    "BUCKETS",
    "MARGIN",
    "MAX_INLINE_TEMPLATE_BYTES",
    "MAX_S3_TEMPLATE_BYTES",
    "QUOTAS",
    "TAIL",
    "Part",
    "Split",
    "StackTemplate",
    "split_template",
    "stack_waves",
    "zone_bucket",
]

#: every split stack uses at most this share of every quota: room for what a later
#: version adds per zone, and for estimates (bytes) that are not exact
MARGIN = 0.8
#: owner of the resources that gather every zone (deployed after all groups)
TAIL = "\x00tail"
#: the edge zones of a split template are hashed over this many group stacks: at the
#: spec's 1,024 zones that is 32 zones a stack on average (about 50 at most), within what
#: the network's per-zone cost allows (about 57 zones a stack, its outputs binding)
BUCKETS = 32


def zone_bucket(zone: str) -> int:
    """The group an edge zone's resources go to in a split template: a hash of its name,
    the same whatever other zones the spec holds and wherever it lists this one."""
    return int.from_bytes(hashlib.sha256(zone.encode("utf-8")).digest()[:8], "big") % BUCKETS

Json = dict[str, Any]
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True)
class Part:
    """One stack of a split: ``suffix`` is appended to the base stack's name and file
    (``""`` for the base itself); ``zones`` the edge zones it holds."""

    suffix: str
    template: Json
    zones: tuple[str, ...] = ()

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(self.template.get("Parameters", {}))


@dataclass
class Split:
    """What :func:`split_template` needs to know besides the template.

    ``owner`` maps a resource's or output's logical id to the edge zone it belongs to, or
    :data:`TAIL`; anything not in it belongs to the base. ``zones`` are the edge zones in
    the order their groups take them. ``prefix_param`` names the parameter that carries
    the base stack's name into the other stacks (the export-name prefix), ``base_stack``
    its default; ``""`` for a template whose stacks refer to nothing in one another (the
    Route 53 records over the ALBs): no such parameter, and a reference across stacks is
    an error.
    """

    owner: dict[str, str] = field(default_factory=dict)
    zones: list[str] = field(default_factory=list)
    prefix_param: str = "NetworkStackName"
    base_stack: str = ""
    group_suffix: str = "-edge-{n:02d}"
    tail_suffix: str = "-tail"


def _size(value: Any) -> int:
    """Bytes ``value`` takes in a template, as compact JSON; the YAML the plan writes is
    within a small factor of it (indentation), which :data:`MARGIN` and the byte budget
    cover."""
    return len(json.dumps(value, separators=(",", ":")))


#: YAML bytes per compact-JSON byte at most, for the byte budget (block style indents
#: every line; measured under 1.3 on the network and Wavelength templates)
_YAML_FACTOR = 1.5


def _fits_whole(template: Mapping[str, Any]) -> bool:
    for section, most in QUOTAS:
        if len(template.get(section) or {}) > most * MARGIN:
            return False
    return _size(template) * _YAML_FACTOR <= MAX_S3_TEMPLATE_BYTES * MARGIN


def _refs(value: Any, out: set[str]) -> None:
    """Logical ids and parameters ``value`` names (Ref, Fn::GetAtt, Fn::Sub variables)."""
    if isinstance(value, dict):
        if len(value) == 1:
            (k, v), = value.items()
            if k == "Ref" and isinstance(v, str):
                out.add(v)
                return
            if k == "Fn::GetAtt" and isinstance(v, list) and v and isinstance(v[0], str):
                out.add(v[0])
                return
            if k == "Fn::Sub":
                text = v[0] if isinstance(v, list) and v else v
                if isinstance(text, str):
                    out.update(m.split(".")[0] for m in _SUB_VAR.findall(text))
                if isinstance(v, list) and len(v) > 1:
                    _refs(v[1], out)
                return
        for v in value.values():
            _refs(v, out)
    elif isinstance(value, list):
        for v in value:
            _refs(v, out)


class _Rewriter:
    """Moves resources into parts, turning references across parts into imports."""

    def __init__(self, split: Split, part_of: Mapping[str, int], parts: int) -> None:
        self.s = split
        self.part_of = part_of  # resource logical id -> part index
        # per part: its outputs (filled by the caller, extended with the exports imports need)
        self.outputs: list[Json] = [{} for _ in range(parts)]
        # per part: the parts it imports from
        self.imports: list[set[int]] = [set() for _ in range(parts)]

    def export_of(self, part: int, value: Json, key: str) -> str:
        """The export name key of ``value`` in ``part``: an existing exported output with
        that value, else a new one named ``key``."""
        outs = self.outputs[part]
        for name, o in outs.items():
            if o.get("Value") == value and "Export" in o:
                return str(name)
        name = key
        while name in outs:
            name += "Ref"
        outs[name] = {
            "Description": f"for the other stacks of {self.s.base_stack}",
            "Value": value,
            "Export": self._export_name(part, name),
        }
        return name

    def _export_name(self, part: int, name: str) -> Json:
        if part != 0 and not self.s.prefix_param:
            raise ValueError(f"{name}: an export of a split whose stacks take no base stack name")
        stack = "${AWS::StackName}" if part == 0 else "${" + self.s.prefix_param + "}"
        return {"Name": {"Fn::Sub": f"{stack}-{name}"}}

    def rewrite(self, value: Any, here: int) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                (k, v), = value.items()
                if k == "Ref" and isinstance(v, str) and self.part_of.get(v, here) != here:
                    return self._import(self.part_of[v], {"Ref": v}, v + ("Id" if not v.endswith("Id") else ""), here)
                if (k == "Fn::GetAtt" and isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)
                        and self.part_of.get(v[0], here) != here):
                    return self._import(self.part_of[v[0]], {"Fn::GetAtt": list(v)}, f"{v[0]}{v[1]}", here)
                if k == "Fn::Sub":
                    names: set[str] = set()
                    _refs(value, names)
                    foreign = sorted(n for n in names if self.part_of.get(n, here) != here)
                    if foreign:  # a generator bug: Fn::Sub of another stack's resource
                        raise ValueError(f"Fn::Sub names {foreign} of another stack")
            return {k: self.rewrite(v, here) for k, v in value.items()}
        if isinstance(value, list):
            return [self.rewrite(v, here) for v in value]
        return value

    def _import(self, there: int, value: Json, key: str, here: int) -> Json:
        if not self.s.prefix_param:
            raise ValueError(f"{value} is in another stack of a split whose stacks import nothing")
        if there > here:
            raise ValueError(f"{value} is in a stack deployed after the one that refers to it")
        name = self.export_of(there, value, key)
        self.imports[here].add(there)
        return {"Fn::ImportValue": {"Fn::Sub": "${" + self.s.prefix_param + "}-" + name}}


def _check_dropped(dropped: list[tuple[str, int, str, int]], imports: list[set[int]]) -> None:
    """A ``DependsOn`` on a resource of another stack is dropped (a template names only
    its own resources). The stacks are deployed in waves decided by their imports
    (:func:`stack_waves`), so the stack must import, directly or through the stacks it
    imports from, from the one that holds that resource: else it could be deployed
    before it. ``dropped``: (resource, its part, the resource it depends on, that one's part)."""
    for lid, p, dep, q in dropped:
        seen: set[int] = set()
        todo = [p]
        while todo:
            for r in imports[todo.pop()] - seen:
                seen.add(r)
                todo.append(r)
        if q not in seen:
            raise ValueError(f"{lid} depends on {dep} of another stack, from which its stack imports nothing")


def _description(description: str, what: str) -> str:
    """``description [what]`` within CloudFormation's 1,024 characters (a long zone list
    is cut, and says so)."""
    text = f"{description} [{what}]"
    return text if len(text) <= 1024 else text[:1019] + " ...]"


def split_template(template: Json, split: Split) -> list[Part]:
    """The template as one stack when it fits, else a base, groups of edge zones and a tail.

    Group size: the most edge zones whose largest per-zone cost (resources, outputs,
    parameters, bytes, and the exports the tail imports from them) keeps a stack within
    :data:`MARGIN` of every quota. A parameter that only one zone's resources and outputs
    name is that zone's cost (the Route 53 template takes each ALB's name as parameters);
    one that several zones name may be in every group, and is counted once a group."""
    if _fits_whole(template) or not split.zones:
        return [Part("", template)]
    resources: Json = template.get("Resources", {})
    outputs: Json = template.get("Outputs", {})
    if template.get("Conditions") or template.get("Mappings"):
        raise ValueError("split_template does not move Conditions or Mappings")
    zone_set = set(split.zones)
    per_zone_res: dict[str, list[str]] = {z: [] for z in split.zones}
    per_zone_out: dict[str, list[str]] = {z: [] for z in split.zones}
    tail_res: list[str] = []
    for lid in resources:
        owner = split.owner.get(lid)
        if owner == TAIL:
            tail_res.append(lid)
        elif owner in zone_set:
            per_zone_res[owner].append(lid)
    for key in outputs:
        owner = split.owner.get(key)
        if owner in zone_set:
            per_zone_out[owner].append(key)
    # what the tail needs from each zone: one export per zone resource it names
    tail_needs: set[str] = set()
    for lid in tail_res:
        _refs(resources[lid], tail_needs)
    # the parameters each zone's resources and outputs name
    declared: Json = template.get("Parameters") or {}
    zone_params: dict[str, set[str]] = {}
    uses: dict[str, int] = {}
    for z in split.zones:
        names: set[str] = set()
        for lid in per_zone_res[z]:
            _refs(resources[lid], names)
        for key in per_zone_out[z]:
            _refs(outputs[key], names)
        zone_params[z] = names & set(declared)
        for name in zone_params[z]:
            uses[name] = uses.get(name, 0) + 1
    shared = {name for name, n in uses.items() if n > 1}
    # the largest per-zone cost decides how many zones a group holds
    worst_res = worst_out = worst_bytes = 1
    worst_params = 0
    for z in split.zones:
        rs, os_ = per_zone_res[z], per_zone_out[z]
        exports = sum(1 for lid in rs if lid in tail_needs)
        own = zone_params[z] - shared
        worst_res = max(worst_res, len(rs))
        worst_out = max(worst_out, len(os_) + exports)
        worst_params = max(worst_params, len(own))
        worst_bytes = max(worst_bytes, sum(_size(resources[lid]) for lid in rs)
                          + sum(_size(outputs[k]) for k in os_) + 200 * exports
                          + sum(_size(declared[name]) for name in own))
    limits = dict(QUOTAS)
    # what a group's parameters hold besides its zones' own: the shared ones, and the
    # base stack's name
    param_room = limits["Parameters"] * MARGIN - len(shared) - (1 if split.prefix_param else 0)
    # the base stack keeps every parameter no single zone owns
    base_params = len(declared) - sum(len(zone_params[z] - shared) for z in split.zones) + 1
    if param_room < worst_params or base_params > limits["Parameters"] * MARGIN:
        raise ValueError("too many parameters to split")
    size = max(1, min(
        math.floor(limits["Resources"] * MARGIN / worst_res),
        math.floor(limits["Outputs"] * MARGIN / worst_out),
        math.floor(param_room / worst_params) if worst_params else len(split.zones),
        math.floor(MAX_S3_TEMPLATE_BYTES * MARGIN / (worst_bytes * _YAML_FACTOR)),
    ))
    by_bucket: dict[int, list[str]] = {}
    for z in split.zones:
        by_bucket.setdefault(zone_bucket(z), []).append(z)
    named: list[tuple[str, list[str]]] = []  # (stack suffix, zones), in deploy order
    for b in sorted(by_bucket):
        hashed = by_bucket[b]
        if len(hashed) <= size:
            named.append((split.group_suffix.format(n=b), hashed))
        else:  # more than a stack holds hashed here: the bucket's zones by name, in stacks of `size`
            ordered = sorted(hashed)
            for k in range(0, len(ordered), size):
                named.append((f"{split.group_suffix.format(n=b)}-{k // size + 1}", ordered[k:k + size]))
    groups = [zones for _, zones in named]

    part_of: dict[str, int] = {}
    for n, zones in enumerate(groups, start=1):
        for z in zones:
            for lid in per_zone_res[z]:
                part_of[lid] = n
    tail = len(groups) + 1
    for lid in tail_res:
        part_of[lid] = tail
    for lid in resources:
        part_of.setdefault(lid, 0)
    nparts = tail + 1 if tail_res else tail

    rw = _Rewriter(split, part_of, nparts)
    group_of = {z: n for n, zones in enumerate(groups, start=1) for z in zones}
    out_part = {key: group_of.get(split.owner.get(key, ""), 0) for key in outputs}
    # the exports the single template declared stay, under the same names
    for key, o in outputs.items():
        p = out_part[key]
        o2 = dict(o)
        if "Export" in o2 and p != 0:
            o2["Export"] = rw._export_name(p, key)
        rw.outputs[p][key] = o2
    res_parts: list[Json] = [{} for _ in range(nparts)]
    dropped: list[tuple[str, int, str, int]] = []  # DependsOn across parts
    for lid, body in resources.items():
        p = part_of[lid]
        new = rw.rewrite(body, p)
        dep = new.get("DependsOn")
        if dep is not None:
            deps = [dep] if isinstance(dep, str) else list(dep)
            local = [d for d in deps if part_of.get(d) == p]  # the deploy order covers the others
            dropped += [(lid, p, d, part_of[d]) for d in deps if d in part_of and part_of[d] != p]
            if local:
                new["DependsOn"] = local[0] if isinstance(dep, str) else local
            else:
                del new["DependsOn"]
        res_parts[p][lid] = new
    for key in list(out_part):
        p = out_part[key]
        rw.outputs[p][key] = rw.rewrite(rw.outputs[p][key], p)
    if split.prefix_param:
        _check_dropped(dropped, rw.imports)

    params: Json = template.get("Parameters") or {}
    description = str(template.get("Description", ""))
    parts: list[Part] = []
    for p in range(nparts):
        used: set[str] = set()
        _refs(res_parts[p], used)
        _refs(rw.outputs[p], used)
        ps: Json = {k: v for k, v in params.items() if k in used}
        if p > 0 and split.prefix_param:
            ps = {split.prefix_param: {
                "Type": "String",
                "Default": split.base_stack,
                "Description": "Base stack of this split: the prefix of the exports this stack imports and makes",
            }, **{k: v for k, v in ps.items() if k != split.prefix_param}}
        held: tuple[str, ...] = ()
        if p == 0:
            suffix, what = "", "base stack"
        elif p == tail and tail_res:
            suffix, what = split.tail_suffix, f"after the {len(groups)} edge groups"
        else:
            suffix, held = named[p - 1][0], tuple(named[p - 1][1])
            what = (f"{len(held)} edge zones: {', '.join(held)}" if len(held) > 1 else f"edge zone {held[0]}")
        doc: Json = {"AWSTemplateFormatVersion": template.get("AWSTemplateFormatVersion", "2010-09-09"),
                     "Description": _description(description, what)}
        if ps:
            doc["Parameters"] = ps
        # a template must declare at least one resource
        # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-guide.html): a
        # group whose zones only pass existing subnet ids through as outputs gets a no-op
        # wait condition handle, the resource that takes no properties and creates nothing
        # outside CloudFormation
        # (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-waitconditionhandle.html)
        doc["Resources"] = res_parts[p] or {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}
        if rw.outputs[p]:
            doc["Outputs"] = rw.outputs[p]
        parts.append(Part(suffix, doc, held))
    return parts


# -- deploy waves ----------------------------------------------------------------------


@dataclass(frozen=True)
class StackTemplate:
    """One stack to deploy: its name, its template and the parameter values its deploy
    passes (as written: a shell variable stays ``"$VAR"``, the same text in every stack
    that is given it, which is all the comparison of names below needs)."""

    stack: str
    template: Mapping[str, Any]
    parameters: Mapping[str, str] = field(default_factory=dict)


def _resolve(value: Any, names: Mapping[str, str]) -> str | None:
    """The string an export name, import name or record name comes to, with ``names``
    the stack's parameter values and ``AWS::StackName``; ``None`` when it cannot be known
    from the template (an attribute of a resource, a function not handled here). Other
    pseudo parameters (``AWS::Region``, ``AWS::AccountId``) stay as written: they are the
    same for every stack of a plan."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (k, v), = value.items()
    if k == "Ref" and isinstance(v, str):
        return names.get(v, "${" + v + "}" if v.startswith("AWS::") else None)
    if k == "Fn::Sub":
        text, local = (v[0], v[1]) if isinstance(v, list) and len(v) == 2 else (v, {})
        if not isinstance(text, str) or not isinstance(local, dict):
            return None
        out: list[str] = []
        pos = 0
        for m in re.finditer(r"\$\{([^}]*)\}", text):
            out.append(text[pos:m.start()])
            pos = m.end()
            var = m.group(1)
            if var.startswith("!"):  # ${!Literal} is the text ${Literal}
                out.append("${" + var[1:] + "}")
                continue
            # ${Resource.Attribute} or a resource's ${Resource}: known only once deployed
            got = _resolve(local[var], names) if var in local else _resolve({"Ref": var}, names)
            if got is None:
                return None
            out.append(got)
        out.append(text[pos:])
        return "".join(out)
    if k == "Fn::Join" and isinstance(v, list) and len(v) == 2 and isinstance(v[1], list):
        parts = [_resolve(p, names) for p in v[1]]
        if not isinstance(v[0], str) or any(p is None for p in parts):
            return None
        return v[0].join(p for p in parts if p is not None)
    return None


def _imports_of(value: Any, out: list[Any]) -> None:
    if isinstance(value, dict):
        if len(value) == 1 and "Fn::ImportValue" in value:
            out.append(value["Fn::ImportValue"])
            return
        for v in value.values():
            _imports_of(v, out)
    elif isinstance(value, list):
        for v in value:
            _imports_of(v, out)


def _dns_name(zone: str | None, name: str | None) -> tuple[str, str] | None:
    if zone is None or name is None:
        return None
    return zone, name.lower().rstrip(".")


def stack_waves(stacks: Sequence[StackTemplate], *, split_from_first: bool = False) -> list[list[int]]:
    """The stacks (indexes into ``stacks``, which are in deploy order) as waves: every
    stack of a wave needs only stacks of earlier waves, so the stacks of a wave can be
    deployed at the same time; each goes in the first wave after everything it needs,
    and a wave keeps the order of ``stacks``.

    ``split_from_first``: the stacks are one template split (:func:`split_template`), the
    first keeping the unsplit template's stack name; every other stack then also waits
    for the first. A deployment made before the template split holds everything in that
    first stack, and the split moves resources out of it into the others, which cannot
    create them while it still holds them: Route 53 refuses a record that exists
    (https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html),
    and an export or a subnet is one stack's. The first stack's update deletes them
    first. (The new templates alone cannot tell what moved: the previous stack can.)

    What a stack needs is read from the templates, never from their names or kinds:

    * the stacks whose exports it imports. CloudFormation resolves ``Fn::ImportValue``
      when the importing stack is created or updated, so the exporting stack must exist
      first (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html,
      https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-exports.html).
      Export and import names are resolved as the deploy resolves them: ``${AWS::StackName}``
      is the stack's name, a parameter the value the deploy passes, else its default. An
      import whose name cannot be resolved waits for every stack before it;
    * the stacks that make the Route 53 record an alias record of it points at (same
      hosted zone and name): Route 53 creates an alias to a record of the same hosted zone
      only once that record exists
      (https://docs.aws.amazon.com/Route53/latest/APIReference/API_AliasTarget.html). An
      alias whose target cannot be resolved waits for every stack before it that makes
      records.

    An import of an export no stack here makes is of an earlier step's stack (the network
    for the Wavelength node groups). Needing a stack that comes later in ``stacks`` is an
    error: the one-by-one order would fail the same way. ``DependsOn`` across stacks is
    dropped by :func:`split_template`, which refuses one that imports do not order.
    """
    # what each stack makes and what it needs, by name
    exports: dict[str, int] = {}
    records: dict[tuple[str, str], int] = {}
    imports: list[list[str | None]] = []
    aliases: list[list[tuple[str, str] | None]] = []
    for i, s in enumerate(stacks):
        names = {k: str(v["Default"]) for k, v in (s.template.get("Parameters") or {}).items()
                 if isinstance(v, dict) and "Default" in v}
        names.update(s.parameters)
        names["AWS::StackName"] = s.stack
        resources: Mapping[str, Any] = s.template.get("Resources") or {}
        outputs: Mapping[str, Any] = s.template.get("Outputs") or {}
        wanted: list[Any] = []
        _imports_of(resources, wanted)
        _imports_of(outputs, wanted)
        imports.append([_resolve(w, names) for w in wanted])
        aliases.append([])
        for body in resources.values():
            if not isinstance(body, dict) or body.get("Type") != "AWS::Route53::RecordSet":
                continue
            props = body.get("Properties") or {}
            zone = _resolve(props.get("HostedZoneId", props.get("HostedZoneName")), names)
            key = _dns_name(zone, _resolve(props.get("Name"), names))
            if key is not None:
                records.setdefault(key, i)
            alias = props.get("AliasTarget")
            if isinstance(alias, dict):
                aliases[i].append(_dns_name(_resolve(alias.get("HostedZoneId"), names),
                                            _resolve(alias.get("DNSName"), names)))
        for o in outputs.values():
            export = o.get("Export") if isinstance(o, dict) else None
            name = _resolve(export.get("Name"), names) if isinstance(export, dict) else None
            if name is not None:
                exports.setdefault(name, i)
    makers = sorted(set(records.values()))
    wave: list[int] = []
    for i, s in enumerate(stacks):
        needs: set[int] = set()
        for name in imports[i]:
            if name is None:
                needs.update(range(i))  # cannot tell which: after every stack before it
            elif name in exports:
                needs.add(exports[name])
        for target in aliases[i]:
            if target is None:
                needs.update(j for j in makers if j < i)
            elif target in records:
                needs.add(records[target])
        if split_from_first:
            needs.add(0)
        needs.discard(i)  # a record aliasing another of its own stack
        late = sorted(j for j in needs if j > i)
        if late:
            raise ValueError(f"stack {s.stack} needs {stacks[late[0]].stack}, which is deployed after it")
        wave.append(1 + max((wave[j] for j in needs), default=-1))
    out: list[list[int]] = [[] for _ in range(max(wave, default=-1) + 1)]
    for i, w in enumerate(wave):
        out[w].append(i)
    return out
