"""`edgewise simulate` as users run it: options, JSON output, errors (exit 2), the plot."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgewise.simulate.cli import simulate_command

LZ = "us-west-2-lax-1a"


@pytest.fixture
def spec_dir(examples_dir: Path) -> str:
    return str(examples_dir / "local-zones-hashicups")


def test_json_layout_and_fail_scenario(cli_runner: CliRunner, spec_dir: str) -> None:
    result = cli_runner.invoke(
        simulate_command,
        [
            spec_dir,
            "--format",
            "json",
            "--requests",
            "50",
            "--seed",
            "3",
            "--strategy",
            "flat",
            "--strategy",
            "edgewise",
            "--scenario",
            "steady",
            "--fail",
            LZ,
            "--fail",
            "us-west-2a/postgres",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [s["name"] for s in data["strategies"]] == ["flat", "edgewise"]
    for s in data["strategies"]:
        assert [sc["name"] for sc in s["scenarios"]] == ["steady", f"fail:{LZ}+us-west-2a/postgres"]
    edgewise = data["strategies"][1]["scenarios"][1]
    assert edgewise["success_rate"] == 1.0  # lost-zone users move ingress, postgres has a 2nd AZ
    assert edgewise["per_zone"][LZ]["success_rate"] == 1.0
    assert data["strategies"][0]["scenarios"][1]["per_zone"][LZ]["success_rate"] == 0.0


def test_table_output(cli_runner: CliRunner, spec_dir: str) -> None:
    result = cli_runner.invoke(simulate_command, [spec_dir, "--requests", "30", "--scenario", "steady"])
    assert result.exit_code == 0, result.output
    for name in ("flat", "prefer-close", "namespace-per-zone", "edgewise", "worst scenario"):
        assert name in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--fail", "us-west-2-lax-1b"], "did you mean 'us-west-2-lax-1a'"),
        (["--fail", f"{LZ}/product-apl"], "did you mean 'product-api'"),
        (["--fail", f"{LZ}/postgres"], "has no copy in"),
        (["--strategy", "flatt"], "did you mean 'flat'"),
        (["--scenario", "zone-lost:us-west-2a"], "unknown scenario"),
    ],
)
def test_bad_input_exits_2_with_suggestion(
    cli_runner: CliRunner, spec_dir: str, args: list[str], fragment: str
) -> None:
    result = cli_runner.invoke(simulate_command, [spec_dir, "--requests", "10", *args])
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert result.stdout == ""


def test_plot_is_written_and_deterministic(cli_runner: CliRunner, spec_dir: str, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    args = [
        spec_dir,
        "--format",
        "json",
        "--requests",
        "30",
        "--strategy",
        "flat",
        "--strategy",
        "edgewise",
        "--scenario",
        "steady",
        "--scenario",
        f"zone-lost:{LZ}",
    ]
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    assert cli_runner.invoke(simulate_command, [*args, "--plot", str(first)]).exit_code == 0
    assert cli_runner.invoke(simulate_command, [*args, "--plot", str(second)]).exit_code == 0
    text = first.read_text()
    assert text.startswith("<?xml") and "<svg" in text
    assert "dc:date" not in text
    assert first.read_bytes() == second.read_bytes()
    bad = cli_runner.invoke(simulate_command, [*args, "--plot", str(tmp_path / "x.gif")])
    assert bad.exit_code == 2 and ".svg or .png" in bad.stderr


def test_plot_without_matplotlib(
    cli_runner: CliRunner, spec_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """matplotlib is optional: plot() raises ImportError (the plan report skips the plot),
    the CLI turns it into an input error naming the fix."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    args = [spec_dir, "--requests", "10", "--scenario", "steady", "--strategy", "flat"]
    result = cli_runner.invoke(simulate_command, [*args, "--plot", str(tmp_path / "p.svg")])
    assert result.exit_code == 2
    assert "matplotlib" in result.stderr
    assert not (tmp_path / "p.svg").exists()
