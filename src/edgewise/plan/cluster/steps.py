"""The RUNBOOK as data: ordered steps of prose and actions.

``RUNBOOK.md`` is rendered from these steps and ``edgewise apply`` carries them out, so
the document a user reads and the actions apply takes cannot drift apart. Every action
renders itself as the bash lines of the RUNBOOK (AWS CLI v2, eksctl, kubectl, helm,
envsubst); the structured actions (opt-in, stack deployment, exports, template rendering,
verification) carry the fields apply needs to do the same through the AWS APIs, and a
:class:`Command` is one shell line apply hands to its step runner.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

__all__ = [
    "Action",
    "Block",
    "Capture",
    "CheckOutpostType",
    "Code",
    "Command",
    "DeployStack",
    "DeployStacks",
    "ExportClusterAttributes",
    "ExportStackOutputs",
    "OptIn",
    "Prose",
    "RenderTemplate",
    "Runbook",
    "Step",
    "VerifyCluster",
    "action_json",
    "runbook_from_json",
    "runbook_to_json",
    "stack_deploys",
]

#: version of runbook.json; apply refuses a file of another version. 2: DeployStacks
#: (a wave of stacks deployed at the same time); a version 1 file is read as well (it
#: holds only actions version 2 has, with the same fields)
RUNBOOK_JSON_VERSION = 2
_READ_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Command:
    """One shell line, run as written (comments included, which do nothing)."""

    line: str

    def render(self) -> list[str]:
        return [self.line]


@dataclass(frozen=True)
class Capture:
    """``VAR=$(command)``: run a shell command and keep its output in ``var``."""

    var: str
    command: str

    def render(self) -> list[str]:
        return [f"{self.var}=$({self.command})"]


@dataclass(frozen=True)
class OptIn:
    """Opt the account in to one zone group."""

    group: str
    region: str

    def render(self) -> list[str]:
        return [f"aws ec2 modify-availability-zone-group --group-name {self.group} --opt-in-status opted-in "
                f"--region {self.region}"]


@dataclass(frozen=True)
class CheckOutpostType:
    """The instance type a node group needs must be installed on the Outpost."""

    zone: str
    outpost_id: str
    instance_type: str
    region: str

    def render(self) -> list[str]:
        return [
            f"aws outposts get-outpost-instance-types --outpost-id {self.outpost_id} --region {self.region} "
            f"--query \"InstanceTypes[?InstanceType=='{self.instance_type}'].InstanceType\" --output text"
            f"  # {self.zone}: expect {self.instance_type}"
        ]


@dataclass(frozen=True)
class DeployStack:
    """Create or update one CloudFormation stack from a template of the plan directory.

    ``parameters`` are ``(key, value)``; a value may name a shell variable (``$VAR`` or
    ``"$VAR"``) set by an earlier export or capture. ``s3_bucket`` (a shell variable, like
    ``"$CFN_BUCKET"``) is set for a template too large to pass in the request: it is
    uploaded to that bucket and CloudFormation reads it from there."""

    stack: str
    template: str
    region: str
    capabilities: tuple[str, ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()
    s3_bucket: str = ""

    def render(self) -> list[str]:
        # --no-fail-on-empty-changeset: without it `deploy` exits 255 with "No changes to
        # deploy" for a stack already as the template says (aws-cli, `aws cloudformation
        # deploy help`), so a rerun of the RUNBOOK, or a wave with one unchanged stack, would
        # fail on a stack that is fine
        line = (
            f"aws cloudformation deploy --stack-name {self.stack} --template-file {self.template} "
            f"--region {self.region} --no-fail-on-empty-changeset"
        )
        if self.s3_bucket:
            line += f" --s3-bucket {self.s3_bucket}"
        if self.capabilities:
            line += " --capabilities " + " ".join(self.capabilities)
        if self.parameters:
            line += " --parameter-overrides " + " ".join(f"{k}={v}" for k, v in self.parameters)
        return [line]


@dataclass(frozen=True)
class DeployStacks:
    """A wave of stacks none of which needs another of the wave: deployed at the same time.

    Which stacks form a wave is read from their templates
    (:func:`~.cfnsplit.stack_waves`: what each imports, what its alias records point at).
    ``aws cloudformation deploy`` waits until its stack's operation has finished, so the
    bash runs each deploy as a background job, waits for every one (``wait PID`` gives
    that job's exit status), and once all have ended names the stacks that failed and
    returns non-zero. ``edgewise apply`` creates the change sets one by one, executes
    them all, then waits for all of them together."""

    stacks: tuple[DeployStack, ...]

    def render(self) -> list[str]:
        lines = [f"# {len(self.stacks)} stacks that import nothing from one another: deployed at the same time",
                 "cfn_pids=() cfn_stacks=() cfn_failed=()"]
        for d in self.stacks:
            lines.append(f"{d.render()[0]} & cfn_pids+=($!) cfn_stacks+=({d.stack})")
        lines += [
            'for i in "${!cfn_pids[@]}"; do wait "${cfn_pids[$i]}" || cfn_failed+=("${cfn_stacks[$i]}"); done',
            'if [ "${#cfn_failed[@]}" -gt 0 ]; then echo "stacks that failed to deploy: ${cfn_failed[*]}" >&2; '
            "false; fi",
        ]
        return lines


@dataclass(frozen=True)
class ExportStackOutputs:
    """``export VAR=<output of the stack>`` for each ``(var, output key)``."""

    stack: str
    region: str
    exports: tuple[tuple[str, str], ...]

    def render(self) -> list[str]:
        query = "\"Stacks[0].Outputs[?OutputKey=='$1'].OutputValue\""
        fn = (
            f"out() {{ aws cloudformation describe-stacks --stack-name {self.stack} "
            f"--region {self.region} --query {query} --output text; }}"
        )
        return [fn, *[f"export {var}=$(out {output})" for var, output in self.exports]]


@dataclass(frozen=True)
class ExportClusterAttributes:
    """``VAR=<attribute of the EKS cluster>`` for each ``(var, dotted path in describe-cluster)``."""

    cluster: str
    region: str
    exports: tuple[tuple[str, str], ...]

    def render(self) -> list[str]:
        q = f"aws eks describe-cluster --name {self.cluster} --region {self.region} --output text --query"
        return [f"{var}=$({q} {path})" for var, path in self.exports]


@dataclass(frozen=True)
class RenderTemplate:
    """Fill the ``${VAR}`` placeholders of ``source`` into ``target``; none may remain."""

    source: str
    target: str
    variables: tuple[str, ...]

    def render(self) -> list[str]:
        varlist = " ".join("${" + v + "}" for v in self.variables)
        return [
            f"envsubst '{varlist}' < {self.source} > {self.target}",
            f"! grep -n '\\${{' {self.target}  # must print nothing: every placeholder is filled",
        ]


@dataclass(frozen=True)
class VerifyCluster:
    """The new cluster: nodes per zone, CoreDNS only on Region nodes, each pod on its own node."""

    nodes: tuple[tuple[str, int], ...]
    k8s_zone_label: str
    zone_label: str
    role_label: str
    region_node_label: str

    def render(self) -> list[str]:
        return [
            f"kubectl get nodes -L {self.k8s_zone_label} -L {self.zone_label} -L {self.role_label}",
            "# CoreDNS pods: each on its own node, every node a Region node (column shows true)",
            "kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide",
            "kubectl -n kube-system get pods -l k8s-app=kube-dns "
            "-o jsonpath='{range .items[*]}{.spec.nodeName}{\"\\n\"}{end}' "
            f"| xargs -r kubectl get nodes -L {self.region_node_label}",
        ]


Action = (
    Command
    | Capture
    | OptIn
    | CheckOutpostType
    | DeployStack
    | DeployStacks
    | ExportStackOutputs
    | ExportClusterAttributes
    | RenderTemplate
    | VerifyCluster
)


def stack_deploys(actions: Iterable[Action]) -> list[DeployStack]:
    """Every stack deployment of ``actions`` in order, a wave's stacks in its order."""
    out: list[DeployStack] = []
    for a in actions:
        if isinstance(a, DeployStack):
            out.append(a)
        elif isinstance(a, DeployStacks):
            out += a.stacks
    return out


@dataclass(frozen=True)
class Prose:
    text: str


@dataclass(frozen=True)
class Code:
    actions: tuple[Action, ...]

    def render(self) -> list[str]:
        return [line for a in self.actions for line in a.render()]


Block = Prose | Code


@dataclass
class Step:
    """One numbered RUNBOOK section. ``key`` is stable across plans (apply records
    progress by it); ``apply`` is False for steps apply never runs (clean-up)."""

    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    apply: bool = True

    @property
    def actions(self) -> list[Action]:
        return [a for b in self.blocks if isinstance(b, Code) for a in b.actions]


@dataclass
class Runbook:
    """The title, the preamble (blocks before the first step) and the steps."""

    title: str
    preamble: list[Block]
    steps: list[Step]
    region: str = ""
    cluster: str = ""

    def step(self, key: str) -> Step:
        for s in self.steps:
            if s.key == key:
                return s
        raise KeyError(key)

    def render(self) -> str:
        lines = [f"# {self.title}", ""]
        lines += _render_blocks(self.preamble)
        for n, s in enumerate(self.steps, start=1):
            lines += [f"## {n}. {s.title}", ""]
            lines += _render_blocks(s.blocks)
        return "\n".join(lines).rstrip("\n") + "\n"


def _render_blocks(blocks: list[Block]) -> list[str]:
    lines: list[str] = []
    for b in blocks:
        if isinstance(b, Prose):
            lines += [b.text, ""]
        else:
            lines += ["```bash", *b.render(), "```", ""]
    return lines


_ACTIONS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        Command,
        Capture,
        OptIn,
        CheckOutpostType,
        DeployStack,
        DeployStacks,
        ExportStackOutputs,
        ExportClusterAttributes,
        RenderTemplate,
        VerifyCluster,
    )
}


#: fields added after version 1 of runbook.json: written only when set, so that the
#: steps of earlier plans read (and fingerprint) as before
_LATER_FIELDS = frozenset({"s3_bucket"})


def action_json(a: Action) -> dict[str, Any]:
    """One action as runbook.json holds it (also what ``edgewise apply`` fingerprints)."""
    out: dict[str, Any] = {"action": type(a).__name__}
    if isinstance(a, DeployStacks):
        out["stacks"] = [action_json(d) for d in a.stacks]
        return out
    for f in fields(a):
        v = getattr(a, f.name)
        if f.name in _LATER_FIELDS and v == f.default:
            continue
        out[f.name] = [list(x) if isinstance(x, tuple) else x for x in v] if isinstance(v, tuple) else v
    return out


def _action_from_json(d: dict[str, Any]) -> Action:
    cls = _ACTIONS[d["action"]]
    if cls is DeployStacks:
        wave: list[DeployStack] = []
        for x in d["stacks"]:
            one = _action_from_json(x)
            if not isinstance(one, DeployStack):
                raise TypeError(f"DeployStacks holds DeployStack actions, not {type(one).__name__}")
            wave.append(one)
        return DeployStacks(tuple(wave))
    kwargs = {}
    for f in fields(cls):
        if f.name not in d and f.default is not MISSING:
            continue  # a field this version added, with its default
        v = d[f.name]
        kwargs[f.name] = tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
    action: Action = cls(**kwargs)
    return action


def _blocks_json(blocks: list[Block]) -> list[dict[str, Any]]:
    return [
        {"prose": b.text} if isinstance(b, Prose) else {"code": [action_json(a) for a in b.actions]}
        for b in blocks
    ]


def _blocks_from_json(items: list[dict[str, Any]]) -> list[Block]:
    return [
        Prose(i["prose"]) if "prose" in i else Code(tuple(_action_from_json(a) for a in i["code"]))
        for i in items
    ]


def runbook_to_json(rb: Runbook) -> str:
    """``runbook.json``: the same steps as ``RUNBOOK.md``, for ``edgewise apply``."""
    doc = {
        "version": RUNBOOK_JSON_VERSION,
        "title": rb.title,
        "region": rb.region,
        "cluster": rb.cluster,
        "preamble": _blocks_json(rb.preamble),
        "steps": [
            {"key": s.key, "title": s.title, "apply": s.apply, "blocks": _blocks_json(s.blocks)} for s in rb.steps
        ],
    }
    return json.dumps(doc, indent=1) + "\n"


def runbook_from_json(text: str) -> Runbook:
    """Parse ``runbook.json``; ``ValueError`` when it is not one this version wrote."""
    try:
        doc = json.loads(text)
        if doc.get("version") not in _READ_VERSIONS:
            raise ValueError(f"runbook.json version {doc.get('version')!r}, expected {RUNBOOK_JSON_VERSION}")
        return Runbook(
            doc["title"],
            _blocks_from_json(doc["preamble"]),
            [Step(s["key"], s["title"], _blocks_from_json(s["blocks"]), s["apply"]) for s in doc["steps"]],
            doc["region"],
            doc["cluster"],
        )
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"runbook.json is malformed: {exc!r}") from exc
