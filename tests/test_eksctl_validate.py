"""eksctl's own validation on the cluster config of every example and every test topology.

``tools/go/eksctl`` is a wrapper module around github.com/weaveworks/eksctl v0.215.0 (its
own ``replace`` block, without the misspelled ``k8s.io/cluster-bootstrapv`` line); its
``main.go`` runs what ``eksctl create cluster -f`` runs before it calls AWS:
``eks.ParseConfig`` (strict), ``api.SetClusterConfigDefaults``, ``api.ValidateClusterConfig``,
then ``ValidateNodeGroup`` + ``SetNodeGroupDefaults`` per node group. ``make test`` builds it
with tools/gobuild.sh (cached); this module builds it too when it is missing.

The config is rendered as the RUNBOOK renders it (``envsubst``) with realistic values for
the ids that exist only at deploy time, so the validator sees what eksctl would see.
"""

from __future__ import annotations

import atexit
import hashlib
import re
import shutil
import subprocess
import tempfile
import uuid
from functools import cache
from pathlib import Path

import pytest
import yaml

from edgewise.errors import InputError
from edgewise.plan.artifacts import render_tree
from edgewise.plan.cluster import plan_cluster
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
HELPER = ROOT / ".tools" / "bin" / "eksctl-validate"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def _topology_files() -> list[Path]:
    """Every example and every test topology (spec files with a Topology document)."""
    found = [p for p in sorted((ROOT / "examples").iterdir()) if p.is_dir()]
    for base in ("tests/data/cluster", "tests/data/rules", "tests/data/apps"):
        for path in sorted((ROOT / base).rglob("*.yaml")):
            text = path.read_text(encoding="utf-8", errors="replace")
            if re.search(r"^kind: Topology\s*$", text, re.M):
                found.append(path)
    return found


@cache
def _topologies() -> dict[str, Topology]:
    """Name -> topology; a fixture's Topology document is read alone (rule fixtures pair it
    with manifests and templates that are not spec documents)."""
    out: dict[str, Topology] = {}
    scratch = Path(tempfile.mkdtemp(prefix="edgewise-eksctl-"))
    atexit.register(shutil.rmtree, scratch, True)
    for path in _topology_files():
        if path.is_dir():
            spec_path = path
        else:
            docs = re.split(r"^---\s*$", path.read_text(encoding="utf-8"), flags=re.M)
            (topo,) = [d for d in docs if re.search(r"^kind: Topology\s*$", d, re.M)]
            spec_path = scratch / (re.sub(r"[^A-Za-z0-9]+", "_", str(path.relative_to(ROOT))) + ".yaml")
            spec_path.write_text(topo, encoding="utf-8")
        try:
            spec = load_spec(spec_path)
        except InputError:
            continue  # deliberately bad topologies (tests/data/bad is not scanned) never plan
        out[str(path.relative_to(ROOT))] = build_topology(spec)
    return out


def _value(var: str, t: Topology) -> str:
    """A realistic value for one ``${VAR}`` of eksctl.yaml (what the RUNBOOK exports)."""
    h = hashlib.sha256(f"{t.name}/{var}".encode()).hexdigest()
    if var == "VPC_ID":
        return f"vpc-{h[:17]}"
    if var.startswith("SUBNET_"):
        return f"subnet-{h[:17]}"
    if var == "SHARED_NODE_SG_ID":
        return f"sg-{h[:17]}"
    if var.startswith("PLACEMENT_GROUP_"):
        return f"{t.name}-network-{var.lower().replace('_', '-')}-{h[:12].upper()}"
    if var == "NTH_QUEUE_ARN":
        return f"arn:aws:sqs:{t.region}:111122223333:{t.name}-network-NodeTerminationQueue-{h[:12].upper()}"
    if var == "SECRETS_KEY_ARN":
        return f"arn:aws:kms:{t.region}:111122223333:key/{uuid.UUID(h[:32])}"
    if var == "OPERATOR_CIDR":
        return "203.0.113.10/32"
    raise AssertionError(f"no deploy-time value modelled for ${{{var}}}: add it here")


def render(text: str, t: Topology) -> str:
    return PLACEHOLDER.sub(lambda m: _value(m.group(1), t), text)


@pytest.fixture(scope="module")
def helper() -> Path:
    if not HELPER.exists():
        if shutil.which("go") is None:
            pytest.skip("Go is not installed; `make test` builds the eksctl validator")
        subprocess.run(
            [str(ROOT / "tools" / "gobuild.sh"), "eksctl", "eksctl-validate", "edgewise.dev/eksctlvalidate"],
            check=True, capture_output=True, timeout=5400,
        )
    return HELPER


def run(helper: Path, files: list[Path]) -> dict[str, str]:
    proc = subprocess.run([str(helper), *map(str, files)], capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    results: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        status, _, rest = line.partition(" ")
        path, _, err = rest.partition(": ")
        results[path] = "ok" if status == "ok" else err
    assert len(results) == len(files), proc.stdout + proc.stderr
    return results


def test_every_topology_is_covered() -> None:
    names = set(_topologies())
    assert {"examples/outposts", "examples/wavelength", "examples/local-zones-hashicups"} <= names
    assert any(n.startswith("tests/data/cluster/") for n in names)
    assert any(n.startswith("tests/data/rules/") for n in names)
    assert len(names) >= 30


def test_eksctl_accepts_every_generated_cluster_config(helper: Path, tmp_path: Path) -> None:
    files: dict[Path, str] = {}
    for name, t in _topologies().items():
        text = render(render_tree(plan_cluster(t, ()))["cluster/eksctl.yaml"], t)
        assert "${" not in text
        out = tmp_path / (re.sub(r"[^A-Za-z0-9]+", "_", name) + ".yaml")
        out.write_text(text)
        files[out] = name
    results = run(helper, list(files))
    failed = {files[Path(p)]: err for p, err in results.items() if err != "ok"}
    assert not failed, failed


def test_the_validator_is_eksctls_own(helper: Path, tmp_path: Path) -> None:
    """Guards against a silent no-op: eksctl's own errors come back for configs it refuses."""
    t = _topologies()["examples/outposts"]
    cfg = yaml.safe_load(render(render_tree(plan_cluster(t, ()))["cluster/eksctl.yaml"], t))
    outposts = [z for z in t.zones if z.outpost_arn]
    groups = [ng for ng in cfg["nodeGroups"] if ng["labels"].get("edgewise.dev/zone-type") == "outpost"]
    for ng, z in zip(groups, outposts, strict=True):
        ng["outpostARN"] = z.outpost_arn  # the shape edgewise generated before: one ARN per Outpost
    two = tmp_path / "two-outposts.yaml"
    two.write_text(yaml.safe_dump(cfg))
    unknown = tmp_path / "unknown-field.yaml"
    cfg2 = yaml.safe_load(render(render_tree(plan_cluster(t, ()))["cluster/eksctl.yaml"], t))
    cfg2["vpc"]["publicAccessCIDR"] = cfg2["vpc"].pop("publicAccessCIDRs")  # a field eksctl does not know
    unknown.write_text(yaml.safe_dump(cfg2))
    bad_cidr = tmp_path / "bad-cidr.yaml"
    bad_cidr.write_text(render_tree(plan_cluster(t, ()))["cluster/eksctl.yaml"].replace(
        "${OPERATOR_CIDR}", "my-office").replace("${", "x{"))
    results = run(helper, [two, unknown, bad_cidr])
    assert "cannot create nodegroups in two different Outposts" in results[str(two)]
    assert 'unknown field "publicAccessCIDR"' in results[str(unknown)]
    assert results[str(bad_cidr)] != "ok"
