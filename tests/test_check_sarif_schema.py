"""`edgewise check --format sarif` validates against the official SARIF 2.1.0 schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from edgewise.cli import cli

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif" / "sarif-2.1.0-rtm.5.json").read_text())
RULES = Path(__file__).parent / "data" / "rules"
FAIL_FIXTURES = sorted(RULES.glob("EW*/fail.yaml"))


def test_schema_rejects_a_broken_log() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SCHEMA).validate({"version": "2.1.0", "runs": [{"results": []}]})


@pytest.mark.parametrize("fixture", FAIL_FIXTURES[::5], ids=lambda p: p.parent.name)
def test_sarif_output_is_valid_sarif_2_1_0(fixture: Path) -> None:
    res = CliRunner().invoke(cli, ["check", str(fixture), "--format", "sarif"])
    assert res.exit_code in (0, 1), res.output
    log = json.loads(res.stdout)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    results = log["runs"][0]["results"]
    assert any(r["ruleId"] == fixture.parent.name for r in results), "the fixture's own rule is reported"
