"""The RUNBOOK as data: RUNBOOK.md and runbook.json come from the same steps."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from edgewise.plan.artifacts import render_tree
from edgewise.plan.cluster import plan_cluster
from edgewise.plan.cluster.runbook import runbook
from edgewise.plan.cluster.steps import (
    Code,
    Command,
    DeployStack,
    DeployStacks,
    ExportStackOutputs,
    OptIn,
    RenderTemplate,
    Runbook,
    Step,
    runbook_from_json,
    runbook_to_json,
    stack_deploys,
)
from edgewise.spec import load_spec
from edgewise.topology import build_topology

ROOT = Path(__file__).resolve().parents[1]
SPECS = [
    ROOT / "examples" / "outposts",
    ROOT / "examples" / "wavelength",
    ROOT / "examples" / "local-zones-hashicups",
    ROOT / "tests" / "data" / "cluster" / "mixed-public.yaml",
    ROOT / "tests" / "data" / "cluster" / "existing-vpc.yaml",
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_runbook_json_round_trips_to_the_same_markdown(spec: Path) -> None:
    topo = build_topology(load_spec(spec))
    tree = render_tree(plan_cluster(topo, ("shop",)))
    parsed = runbook_from_json(tree["runbook.json"])
    assert parsed.render() == tree["RUNBOOK.md"]
    assert parsed == runbook(topo, ("shop",))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_stack_template_and_rendered_file_is_in_the_plan(spec: Path) -> None:
    topo = build_topology(load_spec(spec))
    tree = render_tree(plan_cluster(topo, ("shop",)))
    rb = runbook(topo, ("shop",))
    for step in rb.steps:
        for a in step.actions:
            for d in stack_deploys([a]):
                assert d.template in tree, f"{step.key}: {d.template} is not written by plan"
            if isinstance(a, RenderTemplate):
                assert a.source in tree
                for var in a.variables:
                    assert "${" + var + "}" in tree[a.source]
    groups = [a.group for s in rb.steps for a in s.actions if isinstance(a, OptIn)]
    assert groups == sorted({z.group for z in topo.zones if z.kind.value in ("local", "wavelength") and z.group})
    # only clean-up is left out of apply, and it comes last
    assert [s.key for s in rb.steps if not s.apply] == ["cleanup"] == [rb.steps[-1].key]


def test_stack_output_exports_name_outputs_of_the_network_stack() -> None:
    topo = build_topology(load_spec(ROOT / "examples" / "wavelength"))
    tree = render_tree(plan_cluster(topo))
    import yaml

    outputs = set(yaml.safe_load(tree["cluster/network.cfn.yaml"])["Outputs"])
    exports = [a for s in runbook(topo).steps for a in s.actions if isinstance(a, ExportStackOutputs)]
    assert exports
    for e in exports:
        assert {o for _, o in e.exports} <= outputs


def test_malformed_runbook_json_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="version"):
        runbook_from_json('{"version": 99}')
    with pytest.raises(ValueError, match="malformed"):
        runbook_from_json('{"version": 1, "title": "x"}')


# -- a wave of stacks ------------------------------------------------------------------


def _wave(*stacks: str) -> DeployStacks:
    return DeployStacks(tuple(DeployStack(s, f"cluster/{s}.cfn.yaml", "us-east-1", ("CAPABILITY_IAM",),
                                          (("NetworkStackName", "demo-network"),), '"$CFN_BUCKET"' if s == "b" else "")
                              for s in stacks))


def test_a_wave_round_trips_through_runbook_json() -> None:
    rb = Runbook("t", [], [Step("network", "Deploy", [Code((_wave("a", "b"), Command("echo done")))])], "r", "c")
    text = runbook_to_json(rb)
    assert json.loads(text)["version"] == 2
    back = runbook_from_json(text)
    assert back == rb and back.render() == rb.render()
    assert stack_deploys(back.steps[0].actions) == list(_wave("a", "b").stacks)
    # version 1 (written before waves) holds nothing version 2 lacks: still read
    assert runbook_from_json(text.replace('"version": 2', '"version": 1')).steps == rb.steps
    # a wave holds stack deployments only
    bad = json.loads(text)
    bad["steps"][0]["blocks"][0]["code"][0]["stacks"][0] = {"action": "Command", "line": "true"}
    with pytest.raises(ValueError, match=r"malformed.*DeployStack actions"):
        runbook_from_json(json.dumps(bad))


@pytest.fixture
def fake_aws(tmp_path: Path) -> Path:
    """An ``aws`` on PATH that takes 1 s per deploy, fails the stacks listed in
    ``FAIL_STACKS`` at once, and records each deploy's start and end in ``$AWS_LOG``
    (``start STACK``, ``end STACK``)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "aws"
    script.write_text(
        "#!/bin/bash\n"
        'stack=""; while [ $# -gt 0 ]; do [ "$1" = --stack-name ] && stack=$2; shift; done\n'
        'case " $FAIL_STACKS " in *" $stack "*) echo "fake aws: $stack failed" >&2; exit 255;; esac\n'
        'echo "start $stack" >> "$AWS_LOG"; sleep 1; echo "end $stack" >> "$AWS_LOG"\n'
    )
    script.chmod(0o755)
    return bindir


def _run_wave(lines: list[str], bindir: Path, tmp_path: Path, fail: str = "",
              flags: str = "") -> tuple[subprocess.CompletedProcess[str], list[str], list[str]]:
    """Run ``lines``: the process, and the fake's log as events (``start a``, ``end a``, ...)
    and the stacks whose deploy ended."""
    log = tmp_path / "aws.log"
    log.write_text("")
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "FAIL_STACKS": fail, "AWS_LOG": str(log),
           "CFN_BUCKET": "bucket"}
    proc = subprocess.run(["bash", *flags.split(), "-c", "\n".join(lines)], env=env, capture_output=True,
                          text=True, check=False)
    events = log.read_text().splitlines()
    return proc, events, [e.split()[1] for e in events if e.startswith("end ")]


def test_the_rendered_wave_is_valid_bash_and_deploys_concurrently(fake_aws: Path, tmp_path: Path) -> None:
    lines = _wave("a", "b", "c").render()
    assert subprocess.run(["bash", "-n", "-c", "\n".join(lines)], check=False).returncode == 0
    proc, events, ended = _run_wave(lines, fake_aws, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(ended) == ["a", "b", "c"]
    # at the same time: every deploy (1 s each) started before the first one ended, which
    # one after the other would never do (the order of events, not the clock, so a busy
    # machine cannot make it pass or fail)
    first_end = next(i for i, e in enumerate(events) if e.startswith("end "))
    assert sorted(e.split()[1] for e in events[:first_end]) == ["a", "b", "c"], events


@pytest.mark.parametrize("flags", ["", "-euo pipefail"])
def test_a_failed_stack_of_a_wave_fails_the_block_once_the_others_ended(fake_aws: Path, tmp_path: Path,
                                                                        flags: str) -> None:
    lines = [*_wave("a", "b", "c").render(), "echo after-the-wave"]
    proc, _events, ended = _run_wave(lines[:-1], fake_aws, tmp_path, fail="b", flags=flags)
    assert proc.returncode != 0
    assert "stacks that failed to deploy: b" in proc.stderr
    assert sorted(ended) == ["a", "c"]  # the block waited for the others: both finished
    # in a script with -e nothing after the wave runs
    if flags:
        proc, _events, _ended = _run_wave(lines, fake_aws, tmp_path, fail="a c", flags=flags)
        assert proc.returncode != 0 and "after-the-wave" not in proc.stdout
        assert "stacks that failed to deploy: a c" in proc.stderr


def test_a_stack_already_as_the_template_says_does_not_fail_the_runbook(tmp_path: Path) -> None:
    """`aws cloudformation deploy` exits 255 ("No changes to deploy") for a stack with
    nothing to change unless told not to: a rerun of the RUNBOOK, or a wave holding one
    unchanged stack, must go on. The fake behaves as the AWS CLI does for such a stack."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "aws").write_text(
        "#!/bin/bash\n"
        'for a in "$@"; do [ "$a" = --no-fail-on-empty-changeset ] && exit 0; done\n'
        'echo "No changes to deploy. Stack unchanged is up to date" >&2; exit 255\n')
    (bindir / "aws").chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    for lines in (_wave("unchanged").stacks[0].render(), _wave("a", "unchanged").render()):
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(lines)], env=env, capture_output=True,
                              text=True, check=False)
        assert proc.returncode == 0, proc.stderr
