"""edgewise discover against the emulated account (moto + stand-ins, loopback only)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from edgewise.cli import cli


def test_smoke(aws, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["discover", "--region", "us-west-2", "--format", "json"])
    print(r.output, r.stderr if r.stderr_bytes else "")
    assert r.exit_code == 0
    r = CliRunner().invoke(cli, ["discover", "--region", "us-west-2"])
    print(r.output)
