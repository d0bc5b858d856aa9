"""``edgewise apply PLAN_DIR``: carry out the plan's RUNBOOK, step by step.

The steps come from ``runbook.json`` (the same steps ``RUNBOOK.md`` renders). Structured
actions go through the AWS APIs (zone-group opt-in, Outpost instance types, CloudFormation
change sets, stack outputs, cluster attributes); the template rendering is done in
process; every other line (eksctl, helm, kubectl) goes to a :class:`StepRunner`.

Idempotent: each finished step is recorded in ``PLAN_DIR/.edgewise-apply.json`` with a
fingerprint of its actions, and a rerun skips it; within a step the AWS actions check
first (a group already opted in, a change set with no changes, a cluster that exists).
CloudFormation changes go through change sets: the change set is shown, then executed
with rollback disabled so that a failed stack is kept for inspection; the failed
resources' reasons are printed with the command that rolls back.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..cfnlimits import MAX_INLINE_TEMPLATE_BYTES
from ..errors import InputError
from ..plan.apps.ingress import HOSTED_ZONE_VAR
from ..plan.cluster.runbook import RUNBOOK_JSON_PATH
from ..plan.cluster.stacks import CFN_BUCKET_VAR
from ..plan.cluster.steps import (
    Action,
    Capture,
    CheckOutpostType,
    Command,
    DeployStack,
    DeployStacks,
    ExportClusterAttributes,
    ExportStackOutputs,
    OptIn,
    RenderTemplate,
    Runbook,
    Step,
    VerifyCluster,
    action_json,
    runbook_from_json,
    stack_deploys,
)
from .session import ACCESS_DENIED, CREDENTIAL_ERRORS, THROTTLING, Aws, aws_errors

__all__ = ["ApplyFailed", "ApplyResult", "RunResult", "ShellRunner", "StepRunner", "apply_plan", "load_runbook"]

STATE_FILE = ".edgewise-apply.json"
#: stack states a new change set cannot start from: the stack must be deleted first
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-describing-stacks.html
DEAD_STATES = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"}
IN_PROGRESS = re.compile(r"_IN_PROGRESS$")


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: str
    stderr: str


class StepRunner(Protocol):
    """Runs one bash script (eksctl, helm, kubectl lines) and returns its result."""

    def run(self, script: str, *, env: Mapping[str, str], cwd: Path) -> RunResult: ...


class ShellRunner:
    """The real runner: ``bash -euo pipefail -c SCRIPT`` in the plan directory."""

    def run(self, script: str, *, env: Mapping[str, str], cwd: Path) -> RunResult:
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=cwd,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        return RunResult(proc.returncode, proc.stdout, proc.stderr)


class ApplyFailed(Exception):
    """A step failed (exit 1): what failed, why, and what to do."""


@dataclass
class ApplyResult:
    done: list[str] = field(default_factory=list)  # steps finished in this run
    skipped: list[str] = field(default_factory=list)  # finished in an earlier run
    changes: list[str] = field(default_factory=list)  # what this run changed


def load_runbook(plan_dir: Path) -> Runbook:
    path = plan_dir / RUNBOOK_JSON_PATH
    if not plan_dir.is_dir():
        raise InputError.single(str(plan_dir), "not a directory", hint="give the directory `edgewise plan -o` wrote")
    if not path.is_file():
        raise InputError.single(str(path), "the plan directory has no runbook.json",
                                hint="write the plan again with this version: `edgewise plan SPEC -o DIR`")
    try:
        return runbook_from_json(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError.single(str(path), str(exc), hint="write the plan again with `edgewise plan`") from None


def fingerprint(step: Step) -> str:
    text = json.dumps([action_json(a) for a in step.actions], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_state(plan_dir: Path) -> dict[str, Any]:
    path = plan_dir / STATE_FILE
    if not path.exists():
        return {"done": {}}
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(state.get("done"), dict):
            raise ValueError("no 'done' map")
        return state
    except (ValueError, AttributeError) as exc:
        raise InputError.single(str(path), f"unreadable apply state: {exc}",
                                hint="delete the file to start over (every AWS action checks before it acts)") from None


def _write_state(plan_dir: Path, state: dict[str, Any]) -> None:
    path = plan_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def _expand(value: str, env: Mapping[str, str]) -> str:
    """A parameter value as bash would see it: quotes removed, ``$VAR`` filled."""
    words = shlex.split(value)
    text = " ".join(words)

    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in env:
            raise ApplyFailed(f"{value}: ${m.group(1)} is not set by an earlier action")
        return env[m.group(1)]

    return _VAR.sub(sub, text)


@dataclass(frozen=True)
class _ChangeSet:
    """A change set made, shown and confirmed, not yet executed."""

    a: DeployStack
    name: str  # its ARN
    kind: str  # CREATE or UPDATE
    removes: bool  # it deletes resources of the stack

    @property
    def undo(self) -> str:
        """The command that takes the stack back if this change set fails it."""
        verb = "delete-stack" if self.kind == "CREATE" else "rollback-stack"
        return f"aws cloudformation {verb} --stack-name {self.a.stack} --region {self.a.region}"


@dataclass
class _Applier:
    plan_dir: Path
    rb: Runbook
    aws: Aws | None
    runner: StepRunner
    log: Callable[[str], None]
    confirm: Callable[[str], bool]
    poll: float
    timeout: float
    result: ApplyResult = field(default_factory=ApplyResult)
    env: dict[str, str] = field(default_factory=dict)

    # -- helpers -------------------------------------------------------------------

    def client(self, service: str) -> Any:
        assert self.aws is not None
        return self.aws.client(service)

    def shell(self, script: str, what: str, *, echo: bool = True) -> RunResult:
        res = self.runner.run(script, env={"AWS_REGION": self.rb.region, **self.env}, cwd=self.plan_dir)
        for line in res.stdout.splitlines() if echo else ():
            self.log(f"    {line}")
        if res.returncode != 0:
            tail = "\n".join(res.stderr.strip().splitlines()[-20:])
            raise ApplyFailed(f"{what} failed (exit {res.returncode}):\n{tail}")
        return res

    # -- actions -------------------------------------------------------------------

    def opt_in(self, a: OptIn) -> None:
        ec2 = self.client("ec2")
        with aws_errors(f"reading the opt-in status of {a.group}"):
            zones = ec2.describe_availability_zones(
                AllAvailabilityZones=True, Filters=[{"Name": "group-name", "Values": [a.group]}]
            )["AvailabilityZones"]
        if not zones:
            raise ApplyFailed(f"the account has no zone group {a.group} in {a.region}; "
                              "list the groups with `edgewise discover`")
        if all(z.get("OptInStatus") == "opted-in" for z in zones):
            self.log(f"  zone group {a.group}: already opted in")
            return
        with aws_errors(f"opting in to {a.group}"):
            ec2.modify_availability_zone_group(GroupName=a.group, OptInStatus="opted-in")
        self.result.changes.append(f"opted in to zone group {a.group}")
        self.log(f"  zone group {a.group}: opted in")

    def outpost_type(self, a: CheckOutpostType) -> None:
        with aws_errors(f"reading the instance types of Outpost {a.outpost_id}"):
            types = self.aws.pages("outposts", "get_outpost_instance_types", "InstanceTypes",  # type: ignore[union-attr]
                                   OutpostId=a.outpost_id)
        have = sorted({t["InstanceType"] for t in types})
        if a.instance_type not in have:
            raise ApplyFailed(f"{a.zone}: Outpost {a.outpost_id} has no {a.instance_type} "
                              f"(installed: {', '.join(have) or 'none'}); change the node group's instance type "
                              "in the spec and plan again")
        self.log(f"  {a.zone}: Outpost {a.outpost_id} has {a.instance_type}")

    def _stack(self, name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        cfn = self.client("cloudformation")
        with aws_errors(f"reading stack {name}"):
            try:
                stacks = cfn.describe_stacks(StackName=name)["Stacks"]
            except ClientError as exc:
                if "does not exist" in str(exc.response.get("Error", {}).get("Message", "")):
                    return None
                raise
        return stacks[0] if stacks else None

    def deploy(self, a: DeployStack) -> None:
        """One stack: its change set shown, confirmed, executed and waited for."""
        cs = self._prepare(a)
        if cs is None:
            return
        failure = self._execute(cs)
        if failure is None:
            final = self._wait_all([a.stack])[a.stack]
            failure = self._finish(cs, final)
        if failure is not None:
            raise ApplyFailed(failure)

    def deploy_wave(self, w: DeployStacks) -> None:
        """A wave of stacks none of which needs another (their imports and alias records
        are of earlier waves' stacks, :func:`~..plan.cluster.cfnsplit.stack_waves`): each
        stack's change set is made, shown and confirmed as for one stack, then all are
        executed and waited for together (change sets of different stacks are independent:
        https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html).
        A stack that fails does not stop the others: every stack's end is reported, then
        the failed ones with their reasons and undo commands.

        An update that removes resources runs before the rest of its wave: a resource that
        moves between stacks (an edge zone's Route 53 records when a DNS template first
        splits) must be deleted from the one before the other can create it."""
        self.log(f"  {len(w.stacks)} stacks that need nothing of one another: "
                 + ", ".join(d.stack for d in w.stacks))
        ready: list[_ChangeSet] = []
        try:
            for a in w.stacks:
                cs = self._prepare(a)
                if cs is not None:
                    ready.append(cs)
        except (ApplyFailed, InputError):
            # nothing of the wave has run: the change sets made so far are not left behind
            for cs in ready:
                self._discard(cs)
            raise
        removing = [cs for cs in ready if cs.removes]
        batches = [removing, [cs for cs in ready if not cs.removes]] if removing else [ready]
        failures: list[str] = []
        completed: list[str] = []
        for batch in batches:
            if failures:
                # the removals failed: the stacks that would create what they remove wait
                for cs in batch:
                    self._discard(cs)
                failures.append("not executed, after the failed updates: " + ", ".join(cs.a.stack for cs in batch))
                break
            if batch is removing and len(ready) > len(removing):
                self.log("  first the updates that remove resources: " + ", ".join(cs.a.stack for cs in batch))
            running: list[_ChangeSet] = []
            try:
                for cs in batch:
                    failure = self._execute(cs)
                    if failure is None:
                        running.append(cs)
                    else:
                        failures.append(failure)
                finals = self._wait_all([cs.a.stack for cs in running])
            except (ApplyFailed, InputError):
                if running:
                    self.log("  still running when apply stopped (a rerun waits for them): "
                             + ", ".join(cs.a.stack for cs in running))
                raise
            for cs in running:
                failure = self._finish(cs, finals[cs.a.stack])
                if failure is None:
                    completed.append(cs.a.stack)
                else:
                    failures.append(failure)
        if failures:
            raise ApplyFailed(f"stacks of a wave failed; completed: {', '.join(completed) or 'none'}; "
                              f"without changes: {len(w.stacks) - len(ready)}\n" + "\n".join(failures))

    def _prepare(self, a: DeployStack) -> _ChangeSet | None:
        """Everything before executing: the stack's state (a dead one refused, one in
        progress waited for), the change set made and shown, the user asked. None when
        there is nothing to change."""
        cfn = self.client("cloudformation")
        stack = self._stack(a.stack)
        status = stack["StackStatus"] if stack else None
        if status == "REVIEW_IN_PROGRESS":
            status = None  # created by a change set that never ran: create again
        if status in DEAD_STATES:
            raise ApplyFailed(
                f"stack {a.stack} is {status} from an earlier attempt and cannot be updated.\n"
                + self._failure_report(a.stack)
                + f"\n  inspect it, then delete it and rerun apply:\n"
                f"    aws cloudformation delete-stack --stack-name {a.stack} --region {a.region}"
            )
        if status and IN_PROGRESS.search(status):
            self.log(f"  stack {a.stack} is {status}: waiting")
            status = self._wait_all([a.stack])[a.stack]
        body = (self.plan_dir / a.template).read_text(encoding="utf-8")
        params = [{"ParameterKey": k, "ParameterValue": _expand(v, self.env)} for k, v in a.parameters]
        kind = "CREATE" if status is None else "UPDATE"
        cs_name = f"edgewise-{int(time.time())}"
        source = {"TemplateURL": self._upload(a, body)} if a.s3_bucket else {"TemplateBody": body}
        from botocore.exceptions import ClientError

        with aws_errors(f"creating a change set for {a.stack}"):
            try:
                made = cfn.create_change_set(
                    StackName=a.stack, ChangeSetName=cs_name, ChangeSetType=kind, **source,
                    Parameters=params, Capabilities=list(a.capabilities),
                )
            except ClientError as exc:
                # an update with the same template and parameters may be refused at once
                # (as UpdateStack is) instead of giving a FAILED change set
                if "No updates are to be performed" not in str(exc.response.get("Error", {}).get("Message", "")):
                    raise
                self.log(f"  stack {a.stack}: no changes")
                return None
        # the change set is named by its ARN from here on: a name is unique only among the
        # change sets of one stack, and a wave makes one of the same name for each stack
        cs_id = str(made.get("Id") or cs_name)
        desc = self._wait_change_set(a.stack, cs_id)
        if desc is None:
            self.log(f"  stack {a.stack}: no changes")
            return None
        changes = desc.get("Changes", [])
        self.log(f"  change set {cs_name} for stack {a.stack} ({kind.lower()}, {len(changes)} changes):")
        for c in changes:
            rc = c.get("ResourceChange", {})
            repl = rc.get("Replacement")
            self.log(f"    {rc.get('Action', '?'):<7} {rc.get('LogicalResourceId', '?')} "
                     f"({rc.get('ResourceType', '?')})"
                     + (f" replacement: {repl}" if repl and repl != "False" else ""))
        cs = _ChangeSet(a, cs_id, kind,
                        any(c.get("ResourceChange", {}).get("Action") == "Remove" for c in changes))
        if not self.confirm(f"execute change set {cs_name} on stack {a.stack}?"):
            self._discard(cs)
            raise ApplyFailed(f"change set for {a.stack} not executed (declined); nothing changed")
        return cs

    def _discard(self, cs: _ChangeSet) -> None:
        with aws_errors("deleting the change set"):
            self.client("cloudformation").delete_change_set(StackName=cs.a.stack, ChangeSetName=cs.name)

    def _execute(self, cs: _ChangeSet) -> str | None:
        """Start the change set; what failed (with the report and the undo) if it was refused."""
        from botocore.exceptions import ClientError

        a = cs.a
        with aws_errors(f"executing the change set of {a.stack}"):
            try:
                # rollback disabled: a failed stack is kept so its resources can be inspected
                self.client("cloudformation").execute_change_set(StackName=a.stack, ChangeSetName=cs.name,
                                                                 DisableRollback=True)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in THROTTLING | CREDENTIAL_ERRORS | ACCESS_DENIED:
                    raise
                msg = exc.response.get("Error", {}).get("Message", "")
                return (f"executing the change set of stack {a.stack} failed: {code}: {msg}\n"
                        + self._failure_report(a.stack)
                        + f"\n  the stack is kept for inspection; roll back with:\n    {cs.undo}\n"
                        "  then fix the cause and rerun apply")
        return None

    def _finish(self, cs: _ChangeSet, final: str) -> str | None:
        """The stack's end, logged; what failed (with the report and the undo) if it did."""
        a = cs.a
        if not final.endswith("_COMPLETE") or "ROLLBACK" in final:
            self.log(f"  stack {a.stack}: {final}")
            return (f"stack {a.stack} is {final}; it is kept for inspection.\n"
                    + self._failure_report(a.stack)
                    + f"\n  roll back with:\n    {cs.undo}\n  then fix the cause and rerun apply")
        self.result.changes.append(f"stack {a.stack}: {final}")
        self.log(f"  stack {a.stack}: {final}")
        return None

    def _upload(self, a: DeployStack, body: str) -> str:
        """Put a template too large for the request into the bucket (as ``aws cloudformation
        deploy --s3-bucket`` does) and return the URL CloudFormation reads it from. The key
        is the content's hash: an unchanged template is the same object."""
        bucket = _expand(a.s3_bucket, self.env)
        data = body.encode("utf-8")
        key = f"edgewise/{a.stack}/{hashlib.sha256(data).hexdigest()[:32]}.template"
        with aws_errors(f"uploading {a.template} to s3://{bucket}/{key}"):
            self.client("s3").put_object(Bucket=bucket, Key=key, Body=data)
        self.log(f"  uploaded {a.template} ({len(data):,} bytes) to s3://{bucket}/{key}")
        return f"https://{bucket}.s3.{a.region}.amazonaws.com/{key}"

    def _wait_change_set(self, stack: str, name: str) -> dict[str, Any] | None:
        cfn = self.client("cloudformation")
        deadline = time.monotonic() + self.timeout
        while True:
            with aws_errors(f"reading change set {name}"):
                cs: dict[str, Any] = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
            status = cs.get("Status", "")
            if status == "CREATE_COMPLETE":
                return cs
            if status == "FAILED":
                reason = str(cs.get("StatusReason", ""))
                if "didn't contain changes" in reason or "No updates" in reason:
                    with aws_errors("deleting the empty change set"):
                        cfn.delete_change_set(StackName=stack, ChangeSetName=name)
                    return None
                raise ApplyFailed(f"change set for {stack} failed: {reason}")
            if time.monotonic() > deadline:
                raise ApplyFailed(f"change set for {stack} still {status} after {self.timeout:.0f} s")
            time.sleep(self.poll)

    def _wait_all(self, stacks: list[str]) -> dict[str, str]:
        """Wait until every stack has left *_IN_PROGRESS, printing their new events (named
        by stack when there are several), in one loop with one deadline; the final states."""
        cfn = self.client("cloudformation")
        seen: set[str] = set()
        final: dict[str, str] = {}
        deadline = time.monotonic() + self.timeout
        while True:
            status: dict[str, str] = {}
            for stack in stacks:
                if stack in final:
                    continue
                with aws_errors(f"waiting for stack {stack}"):
                    status[stack] = str(cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"])
                    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
                who = f"{stack}: " if len(stacks) > 1 else ""
                for e in reversed(events):
                    eid = e.get("EventId", "")
                    if eid in seen:
                        continue
                    seen.add(eid)
                    reason = e.get("ResourceStatusReason")
                    self.log(f"    {who}{e.get('LogicalResourceId', '?')}: {e.get('ResourceStatus', '?')}"
                             + (f" ({reason})" if reason and "FAILED" in str(e.get("ResourceStatus")) else ""))
                if not IN_PROGRESS.search(status[stack]):
                    final[stack] = status[stack]
            if len(final) == len(stacks):
                return final
            if time.monotonic() > deadline:
                late = ", ".join(f"{s} {status[s]}" for s in stacks if s not in final)
                raise ApplyFailed(f"stack{'s' if len(stacks) - len(final) > 1 else ''} {late} after "
                                  f"{self.timeout:.0f} s; rerun apply to keep waiting")
            time.sleep(self.poll)

    def _failure_report(self, stack: str) -> str:
        cfn = self.client("cloudformation")
        with aws_errors(f"reading the events of {stack}"):
            events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        failed = [e for e in events if "FAILED" in str(e.get("ResourceStatus", ""))]
        lines = ["  failed resources:"] + [
            f"    {e.get('LogicalResourceId')} ({e.get('ResourceType')}): {e.get('ResourceStatus')}: "
            f"{e.get('ResourceStatusReason', 'no reason given')}"
            for e in reversed(failed)
        ]
        return "\n".join(lines if failed else ["  (no failed resource events)"])

    def export_outputs(self, a: ExportStackOutputs) -> None:
        stack = self._stack(a.stack)
        outputs = {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}
        for var, key in a.exports:
            if key not in outputs:
                raise ApplyFailed(f"stack {a.stack} has no output {key} (needed for ${var}); "
                                  "is the stack deployed from this plan?")
            self.env[var] = str(outputs[key])
        self.log(f"  exported {', '.join(v for v, _ in a.exports)} from stack {a.stack}")

    def export_cluster(self, a: ExportClusterAttributes) -> None:
        with aws_errors(f"reading EKS cluster {a.cluster}"):
            desc = self.client("eks").describe_cluster(name=a.cluster)
        for var, path in a.exports:
            value: Any = desc
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value in (None, ""):
                raise ApplyFailed(f"EKS cluster {a.cluster} has no {path} (needed for ${var})")
            self.env[var] = str(value)
        self.log(f"  exported {', '.join(v for v, _ in a.exports)} from EKS cluster {a.cluster}")

    def render_template(self, a: RenderTemplate) -> None:
        text = (self.plan_dir / a.source).read_text(encoding="utf-8")
        for var in a.variables:
            if var not in self.env:
                raise ApplyFailed(f"{a.source}: ${{{var}}} is not set by an earlier action")
            text = text.replace("${" + var + "}", self.env[var])
        left = sorted(set(re.findall(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", text)))
        if left:
            raise ApplyFailed(f"{a.target}: placeholders left unfilled: {', '.join(left)}")
        target = self.plan_dir / a.target
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        self.log(f"  rendered {a.target}")

    def capture(self, a: Capture) -> None:
        res = self.shell(a.command, f"${a.var}", echo=False)
        self.env[a.var] = res.stdout.strip()

    def commands(self, lines: list[str], step: Step) -> None:
        todo = [ln for ln in lines if not self._cluster_exists_skip(ln)]
        if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in todo):
            return
        for ln in todo:
            self.log(f"  $ {ln}")
        self.shell("\n".join(todo), f"step {step.key!r}")

    def _cluster_exists_skip(self, line: str) -> bool:
        """``eksctl create cluster`` of a cluster that already exists is skipped (rerun)."""
        if not line.startswith("eksctl create cluster") or self.aws is None:
            return False
        from botocore.exceptions import ClientError

        with aws_errors(f"looking for EKS cluster {self.rb.cluster}"):
            try:
                status = self.client("eks").describe_cluster(name=self.rb.cluster)["cluster"]["status"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return False
                raise
        if status == "ACTIVE":
            self.log(f"  EKS cluster {self.rb.cluster} exists (ACTIVE): skipping `{line}`")
            return True
        return False

    def verify(self, a: VerifyCluster) -> None:
        nodes = json.loads(self.shell("kubectl get nodes -o json", "kubectl get nodes", echo=False).stdout or "{}")
        per_zone: dict[str, int] = {}
        by_name: dict[str, dict[str, str]] = {}
        for n in nodes.get("items", []):
            labels = n.get("metadata", {}).get("labels", {}) or {}
            by_name[n["metadata"]["name"]] = labels
            ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in n.get("status", {}).get("conditions", []))
            if ready and a.zone_label in labels:
                per_zone[labels[a.zone_label]] = per_zone.get(labels[a.zone_label], 0) + 1
        problems = [f"{zone}: {per_zone.get(zone, 0)} Ready nodes, expected {want}"
                    for zone, want in a.nodes if per_zone.get(zone, 0) < want]
        pods = json.loads(self.shell("kubectl -n kube-system get pods -l k8s-app=kube-dns -o json",
                                     "kubectl get pods", echo=False).stdout or "{}")
        placed = [p.get("spec", {}).get("nodeName") for p in pods.get("items", [])]
        if not placed:
            problems.append("no CoreDNS pod found")
        for node in placed:
            if node is None:
                problems.append("a CoreDNS pod is not scheduled")
            elif by_name.get(node, {}).get(a.region_node_label) != "true":
                problems.append(f"CoreDNS runs on {node}, which is not a Region node ({a.region_node_label})")
        if len(set(placed)) < len(placed):
            problems.append("two CoreDNS pods share a node")
        if problems:
            raise ApplyFailed("verify: " + "; ".join(problems))
        self.log(f"  verified: {', '.join(f'{z}: {per_zone.get(z, 0)}' for z, _ in a.nodes)} Ready nodes; "
                 f"CoreDNS on {len(placed)} Region nodes")

    # -- steps ---------------------------------------------------------------------

    def replay_reads(self, step: Step) -> None:
        """A step an earlier run finished: redo only its reads, so that the variables it
        exported (stack outputs, cluster attributes) are there for the steps after it."""
        for a in step.actions:
            if isinstance(a, ExportStackOutputs | ExportClusterAttributes | Capture):
                self.act(a)

    def run_step(self, step: Step) -> None:
        pending: list[str] = []

        def flush() -> None:
            if pending:
                self.commands(list(pending), step)
                pending.clear()

        for a in step.actions:
            if isinstance(a, Command):
                pending.append(a.line)
                continue
            flush()
            self.act(a)
        flush()

    def act(self, a: Action) -> None:
        if isinstance(a, OptIn):
            self.opt_in(a)
        elif isinstance(a, CheckOutpostType):
            self.outpost_type(a)
        elif isinstance(a, DeployStack):
            self.deploy(a)
        elif isinstance(a, DeployStacks):
            self.deploy_wave(a)
        elif isinstance(a, ExportStackOutputs):
            self.export_outputs(a)
        elif isinstance(a, ExportClusterAttributes):
            self.export_cluster(a)
        elif isinstance(a, RenderTemplate):
            self.render_template(a)
        elif isinstance(a, Capture):
            self.capture(a)
        elif isinstance(a, VerifyCluster):
            self.verify(a)
        else:  # pragma: no cover - Command is batched by run_step
            raise AssertionError(a)


def apply_plan(
    plan_dir: Path,
    aws: Aws | None,
    runner: StepRunner,
    *,
    dry_run: bool = False,
    confirm: Callable[[str], bool] = lambda _q: True,
    log: Callable[[str], None] = lambda _m: None,
    poll: float = 5.0,
    timeout: float = 3600.0,
    s3_bucket: str | None = None,
    hosted_zone_id: str | None = None,
) -> ApplyResult:
    """Run the plan's steps in order, skipping those an earlier run finished.

    ``aws`` may be None only with ``dry_run``. ``s3_bucket``: where templates too large to
    pass in a request go (the RUNBOOK's ``$CFN_BUCKET``); needed when the plan has one.
    Raises :class:`ApplyFailed` (a step failed; what ran is reported) or
    :class:`InputError` (bad input, credentials, throttling, no bucket for a large
    template). ``hosted_zone_id``: the Route 53 hosted zone of the DNS records over the
    applications' ALBs (the RUNBOOK's ``$HOSTED_ZONE_ID``); needed when the plan has them."""
    rb = load_runbook(plan_dir)
    state = _read_state(plan_dir)
    if state.get("cluster") not in (None, rb.cluster) or state.get("region") not in (None, rb.region):
        raise InputError.single(str(plan_dir / STATE_FILE),
                                f"the apply state is for cluster {state.get('cluster')} in {state.get('region')}, "
                                f"the plan for {rb.cluster} in {rb.region}",
                                hint="delete the state file if the plan directory was reused on purpose")
    ap = _Applier(plan_dir, rb, aws, runner, log, confirm, poll, timeout)
    steps = [s for s in rb.steps if s.apply]
    if s3_bucket:
        ap.env[CFN_BUCKET_VAR] = s3_bucket
    via_s3 = [a.template for s in steps if state["done"].get(s.key) != fingerprint(s)
              for a in stack_deploys(s.actions) if a.s3_bucket]
    if via_s3 and not s3_bucket and not dry_run:
        raise InputError.single(
            "--s3-bucket",
            f"{len(via_s3)} template(s) of this plan are over the {MAX_INLINE_TEMPLATE_BYTES:,} bytes CloudFormation "
            f"takes in a request ({', '.join(via_s3[:3])}{', ...' if len(via_s3) > 3 else ''}); they are "
            "deployed from an S3 bucket",
            hint=f"pass --s3-bucket BUCKET, a bucket in {rb.region} that you can write to",
        )
    if hosted_zone_id:
        ap.env[HOSTED_ZONE_VAR] = hosted_zone_id
    ref = re.compile(r"\$\{?" + HOSTED_ZONE_VAR + r"\b")
    needs_zone = [s.key for s in steps if state["done"].get(s.key) != fingerprint(s)
                  and any(any(ref.search(v) for _k, v in a.parameters) for a in stack_deploys(s.actions))]
    if needs_zone and not hosted_zone_id and not dry_run:
        raise InputError.single(
            "--hosted-zone-id",
            f"the plan puts Route 53 records over its load balancers (steps {', '.join(needs_zone)}) and no "
            "hosted zone is given",
            hint=f"pass --hosted-zone-id ZONE_ID (or set {HOSTED_ZONE_VAR}), the id of the public hosted zone "
            "that holds the records (aws route53 list-hosted-zones)",
        )
    if dry_run:
        log(f"dry run: apply {len(steps)} steps of {plan_dir} to cluster {rb.cluster} in {rb.region}; nothing changes")
        for n, s in enumerate(steps, start=1):
            done = state["done"].get(s.key) == fingerprint(s)
            log(f"{n}. {s.title}" + ("  [done in an earlier run: skipped]" if done else ""))
            for a in s.actions:
                for line in a.render():
                    log(f"    {line}")
        return ap.result
    assert aws is not None
    state.update(cluster=rb.cluster, region=rb.region)
    for n, s in enumerate(steps, start=1):
        fp = fingerprint(s)
        if state["done"].get(s.key) == fp:
            log(f"{n}/{len(steps)} {s.title}: done in an earlier run, skipped")
            ap.result.skipped.append(s.key)
            try:
                ap.replay_reads(s)
            except (ApplyFailed, InputError) as exc:
                raise _stopped(exc, ap.result, state, s, steps, n) from None
            continue
        if s.key in state["done"]:
            log(f"{n}/{len(steps)} {s.title}: the plan changed since it ran; running it again")
        log(f"{n}/{len(steps)} {s.title}")
        try:
            ap.run_step(s)
        except (ApplyFailed, InputError) as exc:
            _write_state(plan_dir, state)
            raise _stopped(exc, ap.result, state, s, steps, n) from None
        state["done"][s.key] = fp
        _write_state(plan_dir, state)
        ap.result.done.append(s.key)
    return ap.result


def _stopped(exc: ApplyFailed | InputError, result: ApplyResult, state: dict[str, Any], step: Step,
             steps: list[Step], n: int) -> ApplyFailed | InputError:
    """The error, with what this and earlier runs applied and where to continue."""
    note = _progress_note(result, state, step, steps)
    if isinstance(exc, InputError):
        return InputError([*exc.problems, *InputError.single("apply", note).problems])
    return ApplyFailed(f"{n}/{len(steps)} {step.title}: {exc}\n{note}")


def _progress_note(result: ApplyResult, state: dict[str, Any], failed: Step, steps: list[Step]) -> str:
    finished = [s.key for s in steps if s.key in state["done"]]
    parts = [f"stopped in step {failed.key!r}"]
    parts.append("finished steps: " + (", ".join(finished) if finished else "none"))
    if result.changes:
        parts.append("changed in this run: " + "; ".join(result.changes))
    parts.append("rerun `edgewise apply` to continue from this step")
    return "; ".join(parts)
