"""edgewise apply against the emulated account: CloudFormation change sets run in moto,
eksctl/helm/kubectl are FakeTools (see fake_tools.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from fake_tools import FakeTools

from edgewise.aws.apply import STATE_FILE, ApplyFailed, apply_plan
from edgewise.aws.session import Aws
from edgewise.cli import cli
from edgewise.plan.cluster.names import network_stack, wavelength_stack
from edgewise.spec import load_spec
from edgewise.topology import build_topology
from edgewise.workflow import run_plan

ROOT = Path(__file__).resolve().parents[2]
_PLANS: dict[str, Path] = {}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("plans")
    for name in ("wavelength", "local-zones-hashicups"):
        out = base / name
        run_plan([ROOT / "examples" / name], out, with_simulation=False)
        _PLANS[name] = out
    return _PLANS


def fresh(plans: dict[str, Path], name: str, tmp_path: Path) -> Path:
    out = tmp_path / name
    shutil.copytree(plans[name], out)
    return out


def run(plan: Path, tools: FakeTools, region: str, log: list[str] | None = None) -> Any:
    return apply_plan(plan, Aws(region), tools, poll=0.01, timeout=30,
                      log=(log.append if log is not None else lambda _m: None))


def test_smoke(aws: Any, plans: dict[str, Path], tmp_path: Path) -> None:
    plan = fresh(plans, "wavelength", tmp_path)
    tools = FakeTools("us-east-1")
    log: list[str] = []
    try:
        run(plan, tools, "us-east-1", log)
    finally:
        print("\n".join(log))
