"""The bad-input corpus: every file in tests/data/bad/ holds exactly one problem.

Each file carries its own expectation in a header comment (or, for files that cannot hold
a comment, in ``<file>.expect`` beside it)::

    # expect: line=12 field=spec.zones[2].name text="did you mean 'us-east-1-wl1-bos-wlz-1'"

``field=-`` means the problem concerns the whole file (syntax, encoding, empty file). The
test runs the real ``validate`` command on the file and checks the contract for bad input:
exit code 2, ``FILE:LINE`` with the right line, the field path, the text, exactly one
problem, no traceback, nothing written.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from edgewise.cli import cli

BAD_DIR = Path(__file__).resolve().parent / "data" / "bad"
EXPECT_SUFFIX = ".expect"


@dataclass(frozen=True)
class Expectation:
    line: int
    field: str  # "" when the problem concerns the whole file
    texts: tuple[str, ...]
    why: str


def parse_expectation(source: Path) -> Expectation:
    """Read the ``# expect:`` header (first line) and the ``# why`` line after it."""
    lines = source.read_bytes().decode("utf-8", errors="replace").splitlines()
    head = lines[0] if lines else ""
    if not head.startswith("# expect:"):
        raise ValueError(f"{source}: first line must be '# expect: line=N field=PATH text=\"...\"'")
    values: dict[str, list[str]] = {}
    for token in shlex.split(head.removeprefix("# expect:")):
        key, sep, value = token.partition("=")
        if not sep or key not in ("line", "field", "text"):
            raise ValueError(f"{source}: bad expectation token {token!r}")
        values.setdefault(key, []).append(value)
    counts = (len(values.get("line", [])), len(values.get("field", [])))
    if counts != (1, 1) or not values.get("text"):
        raise ValueError(f"{source}: need exactly one line=, one field= and at least one text=")
    field = values["field"][0]
    why = lines[1].removeprefix("#").strip() if len(lines) > 1 and lines[1].startswith("#") else ""
    return Expectation(int(values["line"][0]), "" if field == "-" else field,
                       tuple(values["text"]), why)


def corpus() -> list[Path]:
    return sorted(p for p in BAD_DIR.iterdir() if p.is_file() and p.suffix != EXPECT_SUFFIX)


def expectation_for(path: Path) -> Expectation:
    sidecar = path.with_name(path.name + EXPECT_SUFFIX)
    return parse_expectation(sidecar if sidecar.exists() else path)


def run_validate(*args: str) -> Result:
    return CliRunner().invoke(cli, ["validate", *args])


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*"))}


def test_corpus_is_large_and_self_describing() -> None:
    files = corpus()
    assert len(files) >= 35
    for path in files:
        exp = expectation_for(path)  # raises on a malformed header
        assert exp.line >= 1, path
        assert exp.why, f"{path}: say in a second comment line what is wrong with it"
    # sidecars only for files that exist
    for sidecar in BAD_DIR.glob(f"*{EXPECT_SUFFIX}"):
        assert sidecar.with_suffix("").exists(), sidecar


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_bad_file_is_reported_precisely(path: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    exp = expectation_for(path)
    monkeypatch.chdir(tmp_path)
    before = _snapshot(BAD_DIR)
    result = run_validate(str(path))
    output = result.output

    assert result.exit_code == 2, output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in output
    assert result.stdout == "", "problems go to stderr; stdout stays clean"
    # exactly one problem: each corpus file isolates one mistake
    assert "error: 1 problem found" in output, output
    # FILE:LINE with the right line, then the field path
    located = [ln for ln in output.splitlines() if ln.startswith(f"{path}:{exp.line}:")]
    assert located, f"no '{path}:{exp.line}:' in\n{output}"
    problem_line = located[0]
    if exp.field:
        assert re.search(rf":\d+: {re.escape(exp.field)}: ", problem_line), problem_line
    else:
        # whole-file problems name no field: the message follows the location directly
        assert re.match(rf"{re.escape(str(path))}:\d+(:\d+)?: [A-Za-z]", problem_line), problem_line
    for text in exp.texts:
        assert text in output, f"{text!r} not in\n{output}"
    # nothing written, neither beside the input nor in the working directory
    assert _snapshot(BAD_DIR) == before
    assert list(tmp_path.iterdir()) == []


# -- every semantic/topology check is exercised by some corpus file ----------------------

#: fragments of every problem message raised by the spec and topology layers; each must be
#: produced by at least one corpus file, so a new check without a bad example shows up here.
MESSAGES = [
    "is not in the zone catalog", "is listed twice", "unknown zone", "belongs to Region",
    "the catalog says", "does not belong to Region", "needs 'outpostArn'",
    "the Outpost is in Region", "needs 'parentZone'", "applies only to Outpost zones",
    "applies only to Wavelength Zones", "is larger than desired", "is smaller than desired",
    "support only gp2", "every zone needs 'subnet: {id", "'subnet' is empty",
    "is not an Availability Zone of", "needs either 'cidr'", "not both", "is outside /16../28",
    "is outside the VPC", "smaller than AWS allows", "overlaps", "at least two Availability Zones",
    "latencyMs names", "is defined twice", "calls unknown service", "needs a Region copy",
    "runs only in the Region", "needs edge zones", "needs an ingress", "regionReplicas set",
    "VPC too small", "a second Topology", "needs a Topology", "unknown field", "duplicate key",
    "YAML syntax error", "unknown kind", "missing kind", "unsupported apiVersion",
    "missing apiVersion", "must be a mapping", "holds no YAML document", "binary file",
    "not valid UTF-8", "not an Outpost ARN", "quote it", "not a Kubernetes minor version",
    "DNS-1123", "runs only in edge zones", "has host bits set", "invalid IPv4 CIDR", "required field is missing",
    "at most 5,000 nodes", "is not a number", "is not an integer", "is not a boolean", "is not a date",
    "recursive alias", "nested more than 100 levels", "alias bomb", "control character", "kind must be a string",
    "has the name of the copy of service",
]


def test_corpus_covers_every_check() -> None:
    seen = " ".join(run_validate(str(p)).output for p in corpus())
    missing = [m for m in MESSAGES if m not in seen]
    assert not missing, f"no corpus file triggers: {missing}"


# -- several problems are all reported ---------------------------------------------------

SEVERAL_SEMANTIC = """\
apiVersion: edgewise.dev/v1alpha1
kind: Topology
metadata:
  name: several
spec:
  region: us-east-1
  zones:
    - name: us-east-1a
      carrierIp: true
    - name: us-east-1b
      nodeGroup: {instanceType: m6i.large, desired: 2, min: 3}
    - name: us-east-1-wl1-bos-wlz1
  latencyMs:
    us-east-1-wl1-nyc-wlz-1: {region: 12}
"""

SEVERAL_TYPES = """\
apiVersion: edgewise.dev/v1alpha1
kind: Topology
metadata:
  name: Several_Types
spec:
  region: us-east-1
  kubernetesVersion: 1.30
  zones:
    - name: us-east-1a
      nodeGroup: {instanceType: m6i.large, desired: -2}
    - name: us-east-1b
      nodegroup: {instanceType: m6i.large, desired: 2}
"""


def test_validate_reports_every_semantic_problem(tmp_path: Path) -> None:
    spec = tmp_path / "several.yaml"
    spec.write_text(SEVERAL_SEMANTIC)
    result = run_validate(str(spec))
    assert result.exit_code == 2
    expected = {
        9: "spec.zones[0].carrierIp",
        11: "spec.zones[1].nodeGroup.min",
        12: "spec.zones[2].name",
        14: "spec.latencyMs.us-east-1-wl1-nyc-wlz-1",
    }
    for line, field in expected.items():
        assert re.search(rf"^{re.escape(str(spec))}:{line}:\d+: {re.escape(field)}: ",
                         result.output, re.M), f"{line} {field}\n{result.output}"
    assert f"error: {len(expected)} problems found" in result.output
    # reported in file order
    lines = [int(m) for m in re.findall(rf"^{re.escape(str(spec))}:(\d+):", result.output, re.M)]
    assert lines == sorted(lines)


def test_validate_reports_every_type_problem(tmp_path: Path) -> None:
    spec = tmp_path / "types.yaml"
    spec.write_text(SEVERAL_TYPES)
    result = run_validate(str(spec))
    assert result.exit_code == 2
    expected = {4: "metadata.name", 7: "spec.kubernetesVersion",
                10: "spec.zones[0].nodeGroup.desired", 12: "spec.zones[1].nodegroup"}
    for line, field in expected.items():
        assert f"{spec}:{line}:" in result.output and f" {field}: " in result.output, result.output
    assert "error: 4 problems found" in result.output


def test_type_and_semantic_problems_are_reported_together(tmp_path: Path) -> None:
    """A type error in the Application must not hide the Topology's semantic problem."""
    spec = tmp_path / "mixed.yaml"
    spec.write_text(SEVERAL_SEMANTIC.replace("    - name: us-east-1-wl1-bos-wlz1\n", "")
                    .replace("  latencyMs:\n    us-east-1-wl1-nyc-wlz-1: {region: 12}\n", "")
                    + "---\napiVersion: edgewise.dev/v1alpha1\nkind: Application\n"
                    "metadata: {name: app}\nspec:\n  services:\n"
                    "    - {name: web, image: nginx, port: 0}\n")
    result = run_validate(str(spec))
    assert result.exit_code == 2
    assert f"{spec}:9:7: spec.zones[0].carrierIp:" in result.output  # semantic, Topology
    assert f"{spec}:11:" in result.output and "spec.zones[1].nodeGroup.min" in result.output
    assert f"{spec}:18:" in result.output and "spec.services[0].port" in result.output  # type
    assert "error: 3 problems found" in result.output


def test_validate_reports_problems_of_every_file(tmp_path: Path) -> None:
    """A spec directory with problems in two files gets both reported in one run."""
    (tmp_path / "a-topology.yaml").write_text(SEVERAL_TYPES)
    (tmp_path / "b-app.yaml").write_text(
        "apiVersion: edgewise.dev/v1alpha1\nkind: Application\nmetadata: {name: app}\n"
        "spec:\n  routing: linkerd\n  services: []\n")
    result = run_validate(str(tmp_path))
    assert result.exit_code == 2
    assert f"{tmp_path / 'a-topology.yaml'}:4:" in result.output
    assert f"{tmp_path / 'b-app.yaml'}:5:3: spec.routing:" in result.output
    assert f"{tmp_path / 'b-app.yaml'}:6:3: spec.services:" in result.output
    assert "error: 6 problems found" in result.output


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    result = run_validate(str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "no such file or directory" in result.output


# -- the real process, end to end --------------------------------------------------------

@pytest.mark.parametrize("name", ["binary.yaml", "yaml-syntax-error.yaml",
                                  "zone-unknown-suggestion.yaml"])
def test_real_process_exit_code_and_clean_stderr(name: str, tmp_path: Path) -> None:
    path = BAD_DIR / name
    exp = expectation_for(path)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "edgewise", "validate", str(path)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
                          check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert f"{path}:{exp.line}:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []
