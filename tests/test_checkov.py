"""checkov on generated plans (one per routing backend): every finding is fixed, or
suppressed here with the reason it does not apply.

checkov runs from its own virtual environment (``make scanners``: installed into ours it
would downgrade boto3/botocore and packaging), in an empty network namespace when
``unshare`` can make one, so that it never reaches the network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgewise.workflow import run_plan

ROOT = Path(__file__).resolve().parents[1]
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"

Obj = dict[str, Any]


def _pod(o: Obj) -> Obj:
    spec = o.get("spec", {})
    return spec.get("template", {}).get("spec", {}) if "template" in spec else spec


def _containers(o: Obj) -> list[Obj]:
    return list(_pod(o).get("containers", []))


def _annotations(o: Obj) -> dict[str, str]:
    return dict(o.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {}) or {})


def _coredns_patch(o: Obj, file: str) -> bool:
    return file.endswith("cluster/addons/coredns-patch.yaml")


def _controller(o: Obj, file: str) -> bool:
    return file.endswith("cluster/addons/edgewise-controller.yaml")


def _spec_user(o: Obj) -> bool:
    return "runAsUser" in _pod(o).get("securityContext", {})


def _spec_caps(o: Obj) -> bool:
    return any(c.get("securityContext", {}).get("capabilities", {}).get("add") for c in _containers(o))


def _secret_env(o: Obj) -> bool:
    return any("valueFrom" in e for c in _containers(o) for e in c.get("env", []))


def _token_needed(o: Obj) -> bool:
    # Consul's sidecar logs in to Consul's Kubernetes auth method with the pod's token
    return _annotations(o).get("consul.hashicorp.com/connect-inject") == "true"


def _everywhere(o: Obj, file: str) -> bool:
    return True


#: check id -> (where the suppression applies, why)
SUPPRESSED: dict[str, tuple[Callable[[Obj, str], bool], str]] = {
    "CKV2_K8S_6": (_everywhere, "east-west access control is the mesh's: Consul intentions deny by default and allow "
                   "exactly the planned calls; NetworkPolicies would also need the mesh's own ports and are "
                   "not generated yet"),
    "CKV_K8S_11": (_everywhere, "no CPU limits by design: a CPU limit throttles (CFS quota) even on an idle node; "
                   "requests reserve the share, the memory limit bounds the pod"),
    "CKV_K8S_15": (_everywhere, "images are pinned by tag; imagePullPolicy Always would make every restart of an edge "
                   "pod depend on the registry across the service link"),
    "CKV_K8S_22": (_everywhere, "most images (nginx, postgres, httpd) write to their root filesystem; the spec turns "
                   "it on per service with securityContext.readOnlyRootFilesystem"),
    "CKV_K8S_43": (_everywhere, "images are used as the spec names them; a digest in the spec is kept as written"),
    "CKV_K8S_35": (lambda o, f: _secret_env(o), "the images document their configuration as environment variables "
                   "(POSTGRES_PASSWORD, DB_CONNECTION); the values come from Secrets"),
    "CKV_K8S_38": (lambda o, f: _token_needed(o) or _controller(o, f) or _coredns_patch(o, f),
                   "the token is mounted only where the pod calls an API: the Consul sidecar's login, the "
                   "edgewise controller, CoreDNS (watches Services and EndpointSlices)"),
    "CKV_K8S_23": (lambda o, f: _spec_user(o), "the spec says the image starts as root (runAsUser: 0: nginx, httpd "
                   "bind port 80 and switch to their worker user); every capability but the listed ones is dropped"),
    "CKV_K8S_25": (lambda o, f: _spec_caps(o), "capabilities the spec adds back for that image after dropping ALL"),
    "CKV_K8S_40": (lambda o, f: _spec_user(o) or _coredns_patch(o, f) or _controller(o, f),
                   "the image's own user as the spec names it (postgres: 999, root images: 0); CoreDNS keeps "
                   "the EKS add-on's user; the controller image's user"),
    "CKV_K8S_29": (lambda o, f: _coredns_patch(o, f) or _controller(o, f),
                   "coredns-patch.yaml is a strategic-merge patch of the EKS CoreDNS add-on, which keeps its "
                   "own securityContext; checkov reads it as a whole Deployment"),
    "CKV_K8S_31": (lambda o, f: _coredns_patch(o, f) or _controller(o, f),
                   "as CKV_K8S_29: a patch, not a Deployment"),
    "CKV_K8S_8": (lambda o, f: _coredns_patch(o, f) or _controller(o, f),
                  "as CKV_K8S_29: the add-on's probes stay; the controller has no port to probe"),
    # CloudFormation
    "CKV_AWS_27": (lambda o, f: f.endswith("cluster/network.cfn.yaml"),
                   "the termination queue is encrypted with SQS-managed keys (SqsManagedSseEnabled: true, "
                   "which EventBridge can deliver to without a key policy); the check looks only at "
                   "KmsMasterKeyId -- asserted by test_termination_queue_is_encrypted"),
    "CKV_K8S_9": (lambda o, f: _coredns_patch(o, f) or _controller(o, f),
                  "as CKV_K8S_29; the controller is a leader-elected reconciler with no port to probe"),
}


def _plan(tmp: Path, name: str, routing: str | None = None) -> Path:
    spec_dir = ROOT / "examples" / name
    if routing is not None:
        spec_dir = tmp / f"spec-{name}-{routing}"
        shutil.copytree(ROOT / "examples" / name, spec_dir)
        for f in spec_dir.glob("*.yaml"):
            text = f.read_text(encoding="utf-8")
            f.write_text(text.replace("routing: consul-enterprise", f"routing: {routing}"), encoding="utf-8")
    out = tmp / "plans" / (f"{name}-{routing}" if routing else name)
    run_plan([spec_dir], out, with_simulation=False)
    return out


def _find(root: Path, file: str, resource: str) -> Obj:
    kind, _, rest = resource.partition(".")
    path = root / file.lstrip("/")
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if isinstance(doc, dict) and doc.get("kind") == kind:
            meta = doc.get("metadata", {})
            if rest in (f"{meta.get('namespace', 'default')}.{meta.get('name')}", meta.get("name")):
                return doc
    return {}


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Obj]]:
    if not CHECKOV.exists():
        pytest.fail("checkov is not installed: run `make scanners` (make test does)")
    tmp = tmp_path_factory.mktemp("checkov")
    _plan(tmp, "local-zones-hashicups")  # consul-enterprise
    _plan(tmp, "local-zones-hashicups", "consul")
    _plan(tmp, "outposts")  # istio
    _plan(tmp, "wavelength")  # kubernetes
    root = tmp / "plans"
    cmd = [str(CHECKOV), "-d", str(root), "--framework", "kubernetes", "cloudformation",
           "--skip-download", "--compact", "--quiet", "-o", "json"]
    if shutil.which("unshare") and os.geteuid() == 0:
        cmd = ["unshare", "--net", *cmd]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return root, reports


def test_checkov_scanned_both_frameworks(scan: tuple[Path, list[Obj]]) -> None:
    _, reports = scan
    kinds = {r["check_type"]: r["summary"] for r in reports}
    assert set(kinds) == {"kubernetes", "cloudformation"}
    assert all(s["parsing_errors"] == 0 for s in kinds.values())
    assert kinds["kubernetes"]["resource_count"] > 100 and kinds["cloudformation"]["resource_count"] > 100


def test_every_checkov_finding_is_fixed_or_suppressed_with_a_reason(scan: tuple[Path, list[Obj]]) -> None:
    root, reports = scan
    unexplained = []
    for r in reports:
        for f in r["results"]["failed_checks"]:
            rule = SUPPRESSED.get(f["check_id"])
            obj = _find(root, f["file_path"], f["resource"]) if r["check_type"] == "kubernetes" else {}
            if rule is None or not rule[0](obj, f["file_path"]):
                unexplained.append(f"{f['check_id']} {f['check_name']}: {f['file_path']} {f['resource']}")
    assert unexplained == [], "\n".join(unexplained)


def test_the_pod_settings_checkov_wants_are_generated(scan: tuple[Path, list[Obj]]) -> None:
    """The fixed checks stay fixed: none of these fail on any generated app object."""
    _, reports = scan
    fixed = {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_13", "CKV_K8S_20", "CKV_K8S_28", "CKV_K8S_37"}
    failed = [
        (f["check_id"], f["file_path"]) for r in reports for f in r["results"]["failed_checks"]
        if f["check_id"] in fixed and "/apps/" in f["file_path"]
    ]
    assert failed == []


def test_termination_queue_is_encrypted(scan: tuple[Path, list[Obj]]) -> None:
    """What the CKV_AWS_27 suppression relies on."""
    root, _ = scan
    text = (root / "outposts" / "cluster" / "network.cfn.yaml").read_text(encoding="utf-8")
    tpl = yaml.safe_load(text)
    queues = [r for r in tpl["Resources"].values() if r["Type"] == "AWS::SQS::Queue"]
    assert queues and all(q["Properties"].get("SqsManagedSseEnabled") is True for q in queues)
