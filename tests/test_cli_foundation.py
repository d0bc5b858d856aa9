"""The foundation commands: ``validate``, ``zones`` and ``schema``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from click.testing import CliRunner

from edgewise.cli import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE_DIRS = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())


def example_documents() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for f in sorted(EXAMPLES.rglob("*.yaml")):
        for i, doc in enumerate(yaml.safe_load_all(f.read_text(encoding="utf-8"))):
            if doc is not None:
                out.append((f"{f.relative_to(EXAMPLES)}#{i}", doc))
    return out


# -- validate -------------------------------------------------------------------------------

@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=lambda p: p.name)
def test_validate_accepts_every_example(example: Path, cli_runner: CliRunner) -> None:
    result = cli_runner.invoke(cli, ["validate", str(example)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("valid: topology")
    assert len(result.stdout.splitlines()) == 1, "one summary line, never wrapped mid-sentence"
    assert result.stderr == ""


def test_validate_accepts_files_as_well_as_directories(cli_runner: CliRunner) -> None:
    files = [str(p) for p in sorted((EXAMPLES / "local-zones-hashicups").glob("*.yaml"))]
    result = cli_runner.invoke(cli, ["validate", *files])
    assert result.exit_code == 0, result.output
    assert "hashicups" in result.stdout


def test_validate_needs_an_argument(cli_runner: CliRunner) -> None:
    result = cli_runner.invoke(cli, ["validate"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_python_dash_m_edgewise_validate(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "edgewise", "validate", str(EXAMPLES / "wavelength")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "wavelength" in proc.stdout
    assert list(tmp_path.iterdir()) == []


# -- zones ------------------------------------------------------------------------------------

VERIZON_US_EAST_1 = sorted(f"us-east-1-wl1-{m}-wlz-1" for m in (
    "atl", "bna", "bos", "chi", "clt", "dfw", "dtw", "iah", "mia", "msp", "nyc", "tpa", "was"))


def test_zones_json_lists_the_13_verizon_zones(cli_runner: CliRunner) -> None:
    result = cli_runner.invoke(
        cli, ["zones", "--region", "us-east-1", "--type", "wavelength", "--format", "json"])
    assert result.exit_code == 0, result.output
    zones = json.loads(result.stdout)
    assert sorted(z["name"] for z in zones) == VERIZON_US_EAST_1
    for z in zones:
        assert (z["type"], z["region"], z["carrier"]) == ("wavelength", "us-east-1", "Verizon")
        assert z["networkBorderGroup"] == z["name"]
        assert z["group"] == "us-east-1-wl1"
        assert set(z["location"]) == {"lat", "lon"}


def test_zones_json_is_sorted_and_deterministic(cli_runner: CliRunner) -> None:
    first = cli_runner.invoke(cli, ["zones", "--format", "json"]).stdout
    second = cli_runner.invoke(cli, ["zones", "--format", "json"]).stdout
    assert first == second
    rows = json.loads(first)
    keys = [(z["region"], z["type"] != "availability-zone", z["type"], z["name"]) for z in rows]
    assert keys == sorted(keys)
    assert len({z["region"] for z in rows}) > 1


def test_zones_table(cli_runner: CliRunner) -> None:
    result = cli_runner.invoke(cli, ["zones", "--region", "us-west-2", "--type", "local"])
    assert result.exit_code == 0, result.output
    assert "us-west-2-lax-1a" in result.stdout
    assert "us-east-1" not in result.stdout


@pytest.mark.parametrize(("region", "hint"), [
    ("bogus", "known: af-south-1, ap-east-1"),
    ("us-eats-1", "did you mean 'us-east-1'?"),
])
def test_zones_unknown_region_exits_2_with_a_suggestion(region: str, hint: str,
                                                        cli_runner: CliRunner) -> None:
    result = cli_runner.invoke(cli, ["zones", "--region", region])
    assert result.exit_code == 2
    assert f"unknown Region '{region}'" in result.stderr
    assert hint in result.stderr
    assert "us-east-1" in result.stderr  # the list of known Regions is there to pick from
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_zones_unknown_type_is_a_usage_error(cli_runner: CliRunner) -> None:
    result = cli_runner.invoke(cli, ["zones", "--type", "metro"])
    assert result.exit_code == 2
    assert "wavelength" in result.output


# -- schema ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_deterministic(schema: dict[str, Any]) -> None:
    again = CliRunner().invoke(cli, ["schema"]).stdout
    assert json.loads(again) == schema
    assert again == json.dumps(schema, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize(("name", "doc"), example_documents(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_schema_accepts_every_example_document(name: str, doc: dict[str, Any],
                                              validator: jsonschema.Draft202012Validator) -> None:
    errors = [e.message for e in validator.iter_errors(doc)]
    assert errors == [], name


def test_examples_hold_both_kinds() -> None:
    kinds = {doc["kind"] for _, doc in example_documents()}
    assert kinds == {"Topology", "Application"}


@pytest.mark.parametrize(("where", "key"), [
    ((), "extra"),
    (("spec",), "zone"),
    (("spec", "zones", 0), "nodegroup"),
    (("spec", "vpc"), "cidrBlock"),
])
def test_schema_rejects_unknown_fields_in_a_topology(
        where: tuple[str | int, ...], key: str, validator: jsonschema.Draft202012Validator) -> None:
    doc = next(d for _, d in example_documents() if d["kind"] == "Topology")
    doc = json.loads(json.dumps(doc))  # deep copy
    node: Any = doc
    for part in where:
        node = node[part]
    node[key] = "x"
    assert not validator.is_valid(doc)


def test_schema_rejects_unknown_fields_in_an_application(
        validator: jsonschema.Draft202012Validator) -> None:
    doc = next(d for _, d in example_documents() if d["kind"] == "Application")
    doc = json.loads(json.dumps(doc))
    doc["spec"]["services"][0]["replica"] = 2
    assert not validator.is_valid(doc)


def test_schema_rejects_wrong_kind_and_values(validator: jsonschema.Draft202012Validator) -> None:
    topo = next(d for _, d in example_documents() if d["kind"] == "Topology")
    for path, value in ((("kind",), "Topolgy"), (("apiVersion",), "edgewise.dev/v1"),
                        (("spec", "endpointAccess"), "internal")):
        doc = json.loads(json.dumps(topo))
        node: Any = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        assert not validator.is_valid(doc), path


def test_zones_type_outpost_explains_that_outposts_are_declared_in_the_spec() -> None:
    from click.testing import CliRunner

    from edgewise.cli import cli

    res = CliRunner().invoke(cli, ["zones", "--type", "outpost", "--format", "json"])
    assert res.exit_code == 0
    assert res.stdout.strip() == "[]"
    assert "type: outpost" in res.stderr


# -- start-up ---------------------------------------------------------------------------------

_GC_PROBE = """
import gc, sys
from edgewise.cli import cli
def run(args):
    try:
        cli(args, prog_name="edgewise")
    except SystemExit as exc:
        assert exc.code in (0, 1, None), exc.code  # 1: findings
first = gc.get_freeze_count()
run(sys.argv[1:])
second = gc.get_freeze_count()
run(sys.argv[1:])
print(first, second, gc.get_freeze_count(), gc.isenabled())
"""


@pytest.mark.parametrize("command", [["plan", "--quiet", "--simulate", "never"], ["check"]])
def test_a_commands_first_import_is_frozen_and_later_calls_freeze_nothing(command: list[str],
                                                                          tmp_path: Path) -> None:
    """The first run of a command imports its modules with the collector paused and
    freezes them; a program that runs the CLI again (a test, a wrapper) must keep its
    garbage collectable: nothing more is frozen by the import, and the collector is on
    afterwards. (check's reading of manifests freezes what it read on every run, by
    design, :func:`edgewise.check.inputs.gc_paused`; plan freezes nothing of its own.)"""
    out = tmp_path / "out"
    args = ([*command[:1], str(EXAMPLES / "wavelength"), "-o", str(out), *command[1:]] if command[0] == "plan"
            else ["check", str(tmp_path / "app.yaml")])
    (tmp_path / "app.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
                                       "spec: {selector: {app: web}, ports: [{port: 80}]}\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", _GC_PROBE, *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    first, second, third, enabled = proc.stdout.split()[-4:]
    assert int(first) == 0
    assert int(second) > 1000, "the command's modules were not frozen"
    if command[0] == "plan":
        assert int(third) == int(second), "a second run froze the caller's objects"
    assert enabled == "True"
