"""Linter conventions: .edgewise.yaml, --format github / junit, SARIF within code
scanning's limits, the pre-commit hook definition."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from edgewise.check.engine import Report
from edgewise.check.model import Finding, Severity
from edgewise.check.output import SARIF_MAX_RESULTS, render_github, render_sarif
from edgewise.cli import cli

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "tests" / "data" / "rules"
FLAT = ROOT / "tests" / "data" / "taints" / "flat-lz.yaml"
LZ_SPEC = ROOT / "examples" / "local-zones-hashicups" / "topology.yaml"
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif" / "sarif-2.1.0-rtm.5.json").read_text())


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with the flat Local Zones manifests in k8s/ and legacy/, cwd in a subdirectory."""
    (tmp_path / ".git").mkdir()
    for d in ("k8s", "legacy"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "app.yaml").write_text(FLAT.read_text().replace("name: ", f"name: {d}-"))
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    return tmp_path


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["check", *args])


def rules_in(output: str) -> list[str]:
    return sorted(f["rule"] for f in json.loads(output)["findings"])


def test_config_is_discovered_from_a_parent_directory(repo: Path) -> None:
    args = (str(repo / "k8s"), "--topology", str(LZ_SPEC), "--format", "json")
    before = run(*args)
    assert before.exit_code == 1 and "EW301" in rules_in(before.output)
    (repo / ".edgewise.yaml").write_text("ignore: [EW301]\n")
    after = run(*args)
    assert "EW301" not in rules_in(after.output)
    assert set(rules_in(after.output)) == set(rules_in(before.output)) - {"EW301"}
    assert after.exit_code == 0  # only warnings left
    assert any(str(repo / ".edgewise.yaml") in n for n in json.loads(after.output)["notes"])
    # --no-config ignores it, --select on the command line wins over the file's
    assert "EW301" in rules_in(run(*args, "--no-config").output)


def test_discovery_stops_at_the_repository_root(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    (repo.parent / ".edgewise.yaml").write_text("ignore: [EW3]\n")  # above the repository
    try:
        res = run(str(repo / "k8s"), "--topology", str(LZ_SPEC), "--format", "json")
        assert "EW301" in rules_in(res.output)
    finally:
        (repo.parent / ".edgewise.yaml").unlink()


def test_severity_overrides_fail_on_and_excludes(repo: Path) -> None:
    (repo / ".edgewise.yaml").write_text(
        "severity:\n  EW301: info\n  EW2: error\nexclude: [legacy/**]\nfail-on: warning\n"
    )
    res = run(str(repo / "k8s"), str(repo / "legacy"), "--topology", str(LZ_SPEC), "--format", "json")
    data = json.loads(res.output)
    files = {Path(f["file"]).parent.name for f in data["findings"]}
    assert files == {"k8s"}, "findings in legacy/ are excluded"
    sev = {f["rule"]: f["severity"] for f in data["findings"]}
    assert sev["EW301"] == "info" and sev["EW204"] == "error"  # exact id and prefix
    assert res.exit_code == 1  # EW204 is now an error
    everything = ", ".join(f"EW{i}: info" for i in range(1, 6))  # every rule family, by prefix
    (repo / ".edgewise.yaml").write_text(f"severity: {{{everything}}}\nfail-on: warning\n")
    assert run(str(repo / "k8s"), "--topology", str(LZ_SPEC)).exit_code == 0
    # the command line's --fail-on wins over the file
    assert run(str(repo / "k8s"), "--topology", str(LZ_SPEC), "--fail-on", "info").exit_code == 1


@pytest.mark.parametrize(
    ("text", "where", "wants"),
    [
        ("ignroe: [EW301]\n", ":1:1", "did you mean 'ignore'?"),
        ("select: [X301]\n", ":1:10", "not a rule id"),
        ("severity:\n  EW301: fatal\n", ":2:3", "one of: error, warning, info"),
        ("fail-on: sometimes\n", ":1:1", "unknown severity"),
        ("exclude: 3\n", ":1:1", "list of strings"),
        ("- a\n- b\n", ":1:1", "mapping of settings"),
        ("ignore: [EW301\n", ".edgewise.yaml:", ""),  # YAML syntax error
    ],
)
def test_bad_config_is_an_input_error(repo: Path, text: str, where: str, wants: str) -> None:
    (repo / ".edgewise.yaml").write_text(text)
    res = run(str(repo / "k8s"), "--topology", str(LZ_SPEC))
    assert res.exit_code == 2
    assert f".edgewise.yaml{where}" in res.stderr or where in res.stderr
    assert wants in res.stderr
    assert "fix:" in res.stderr or "error" in res.stderr


def test_missing_explicit_config(repo: Path) -> None:
    res = run(str(repo / "k8s"), "--config", str(repo / "nope.yaml"))
    assert res.exit_code == 2 and "nope.yaml" in res.stderr


def test_github_annotations(repo: Path) -> None:
    res = run(str(repo / "k8s"), "--topology", str(LZ_SPEC), "--format", "github")
    assert res.exit_code == 1
    lines = res.output.splitlines()
    errors = [ln for ln in lines if ln.startswith("::error ")]
    warnings = [ln for ln in lines if ln.startswith("::warning ")]
    assert errors and warnings
    assert lines.index(errors[-1]) < lines.index(warnings[0]), "most severe first"
    # paths relative to the working directory when under it, with line numbers
    head, _, msg = errors[0].partition("::")[2].partition("::")
    props = dict(p.split("=", 1) for p in head.split(" ", 1)[1].split(","))
    assert props["file"].endswith("k8s/app.yaml") and int(props["line"]) > 0
    assert props["title"].startswith("EW301")
    assert "\n" not in msg and "%0Afix%3A" not in msg and "%0Afix: " in msg  # newline escaped in the data


def test_github_escaping() -> None:
    f = Finding("a,b:c.yaml", 3, "EW301", "x", Severity.WARNING, "obj", "100% bad\nreally")
    out = render_github(Report([f]))
    assert out.splitlines()[0] == "::warning file=a%2Cb%3Ac.yaml,line=3,title=EW301 x::obj: 100%25 bad%0Areally"


def test_junit_report(repo: Path) -> None:
    res = run(str(repo / "k8s"), "--topology", str(LZ_SPEC), "--format", "junit")
    assert res.exit_code == 1
    root = ET.fromstring(res.output)
    assert root.tag == "testsuites"
    failures = root.findall(".//testcase/failure")
    data = json.loads(run(str(repo / "k8s"), "--topology", str(LZ_SPEC), "--format", "json").output)
    assert len(failures) == len(data["findings"]) == int(root.get("failures", "-1"))
    suites = {s.get("name", "").split()[0]: s for s in root.findall("testsuite")}
    assert "EW301" in suites and suites["EW301"].get("failures") == "1"
    assert suites["EW101"].find("testcase/failure") is None  # a rule with nothing found passes
    case = suites["EW301"].find("testcase")
    assert case is not None and case.get("file", "").endswith("k8s/app.yaml") and int(case.get("line", "0")) > 0


def test_sarif_stays_within_code_scanning_limits() -> None:
    findings = [
        Finding(f"f{i % 7}.yaml", i + 1, "EW204", "w", Severity.WARNING, f"Deployment d/{i}", "m" * 50)
        for i in range(SARIF_MAX_RESULTS)
    ]
    findings += [
        Finding("e.yaml", i + 1, "EW301", "e", Severity.ERROR, f"Service s/{i}", "x" * 5000) for i in range(10)
    ]
    log = json.loads(render_sarif(Report(findings)))
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    run_ = log["runs"][0]
    assert len(log["runs"]) == 1 and len(run_["results"]) == SARIF_MAX_RESULTS
    assert [r["level"] for r in run_["results"][:10]] == ["error"] * 10, "the most severe are kept"
    assert run_["properties"]["resultsLeftOut"] == 10
    assert all(len(r["message"]["text"]) <= 2000 and len(r["locations"]) == 1 for r in run_["results"])
    assert len(json.dumps(log)) < 10 * 1024 * 1024
    prints = {r["partialFingerprints"]["edgewiseFinding/v1"] for r in run_["results"]}
    assert len(prints) == SARIF_MAX_RESULTS  # distinct findings, distinct fingerprints


def test_sarif_uris_are_repository_relative(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)  # code scanning runs at the checkout root
    res = run(str(repo / "k8s"), "--topology", str(LZ_SPEC), "--format", "sarif")
    log = json.loads(res.output)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert uris == {"k8s/app.yaml"}
    monkeypatch.chdir(repo / "sub")  # outside the working directory: absolute file URIs
    log = json.loads(run(str(repo / "k8s"), "--topology", str(LZ_SPEC), "--format", "sarif").output)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert uris == {(repo / "k8s" / "app.yaml").resolve().as_uri()}


def test_pre_commit_hook_definition_is_valid() -> None:
    from pre_commit.clientlib import load_manifest

    hooks = {h["id"]: h for h in load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))}
    assert hooks["edgewise-check"]["entry"] == "edgewise check"
    assert hooks["edgewise-check"]["pass_filenames"] is False  # the whole deployment, not a diff
    assert hooks["edgewise-check-changed"]["pass_filenames"] is True
