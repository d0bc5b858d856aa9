"""The README's "From an AWS account to a running cluster" block, run line by line as
written against the emulated account (tests/test_readme.py runs the other blocks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from edgewise.aws.apply import ShellRunner
from edgewise.cli import cli
from readme_blocks import fenced_blocks, is_aws_block, shell_lines

from .fake_tools import FakeTools


def test_the_aws_block_runs_as_written(aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = [b for b in fenced_blocks("sh") if is_aws_block(b)]
    lines = shell_lines(block)
    assert [argv[1] for _, argv in lines] == ["discover", "validate", "plan", "apply", "apply"], (
        "the README's AWS block changed: run its new lines here")
    monkeypatch.chdir(tmp_path)
    tools = FakeTools("us-west-2")  # the RUNBOOK's aws/eksctl/helm/kubectl lines, against the emulator
    monkeypatch.setattr(ShellRunner, "run", lambda _self, script, **kw: tools.run(script, **kw))
    # `apply out/` "shows each change set and asks first": answered no at a terminal
    monkeypatch.setenv("EDGEWISE_ASSUME_TTY", "1")
    outputs: dict[str, str] = {}
    for no, argv in lines:
        where = f"README.md:{no}: {' '.join(argv)}"
        r = CliRunner().invoke(cli, argv[1:], input="n\n")
        outputs[" ".join(argv[1:])] = r.stderr
        if argv[1:] == ["apply", "out/"]:
            assert r.exit_code == 1, f"{where}\n{r.output}"
        else:
            assert r.exit_code == 0, f"{where}\n{r.output}"
        assert r.exception is None or isinstance(r.exception, SystemExit), where

    discovered = yaml.safe_load(Path("topology.yaml").read_text())
    assert discovered["spec"]["region"] == "us-west-2"
    assert Path("out/runbook.json").is_file()
    # --dry-run: every action, nothing changed
    assert "modify-availability-zone-group" in outputs["apply out/ --dry-run"]
    # the last line shows the change set, asks, and changes nothing when declined
    last = outputs["apply out/"]
    assert "change set" in last and "changes):" in last
    assert "execute change set" in last
    assert "not executed (declined); nothing changed" in last
    cfn = aws.client("cloudformation")
    stacks = cfn.list_stacks()["StackSummaries"]  # type: ignore[attr-defined]
    assert all(s["StackStatus"] in ("REVIEW_IN_PROGRESS", "DELETE_COMPLETE") for s in stacks), stacks
