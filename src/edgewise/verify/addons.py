"""The plan's Helm add-ons, installed in the lab as the RUNBOOK installs them.

The commands come from the plan itself (one source): every ``helm upgrade --install``
line of ``runbook.json``, in the RUNBOOK's order, run with the lab's helm against the
lab, changed only where the lab must differ:

* the chart reference (``--repo`` URL, ``oci://`` name) becomes the same chart unpacked
  locally (``.tools/charts``, written by ``make lab``: the upstream charts at the versions
  the RUNBOOK pins, see ``tools/charts/README.md``); a ``--version`` pin that differs from
  the local chart's version (:func:`chart_version`) is reported as a note;
* ``$VARIABLES`` the RUNBOOK exports from AWS (VPC id, SQS queue URL) get lab values;
* ``--wait``/``--timeout`` are dropped: verify waits for everything itself, and the
  volumes of a chart's StatefulSets are provisioned only while verify waits.

The EBS CSI driver is an EKS add-on (``addons`` of ``cluster/eksctl.yaml``), which EKS
builds from the driver's Helm chart; it is installed from that chart with its defaults.

kwok runs no container, so no admission webhook the charts register is ever served;
the API server would refuse (``failurePolicy: Fail``) or delay every object they match.
The webhook configurations the releases installed are removed after the charts and
named in a note: sidecar injection and the charts' own admission checks are not
verified in the lab.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError
from ..lab.client import ApiError, Client
from ..lab.control_plane import Lab, LabError, find_program
from ..plan.cluster.steps import Command, runbook_from_json

__all__ = [
    "AddonRelease",
    "chart_dir",
    "chart_version",
    "cluster_service_accounts",
    "find_charts",
    "helm_releases",
    "install_releases",
    "uninstall_releases",
]

RUNBOOK_JSON = "runbook.json"
EKSCTL_CONFIG = "cluster/eksctl.yaml"
#: the RUNBOOK's chart reference (the chart argument, or the last part of an oci:// URL)
#: -> the local chart directory of the same chart
CHART_DIRS = {
    "aws-load-balancer-controller": "aws-load-balancer-controller",
    "aws-node-termination-handler": "aws-node-termination-handler",
    "base": "istio-base",
    "istiod": "istiod",
    "consul": "consul",
    "aws-ebs-csi-driver": "aws-ebs-csi-driver",
}
#: values the lab gives the variables the RUNBOOK exports from AWS
LAB_VARIABLES = {
    "VPC_ID": "vpc-0123456789abcdef0",
    "NTH_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/111122223333/lab-node-termination",
}
#: RUNBOOK steps whose releases are independent of each other (installed side by side)
PARALLEL_STEPS = frozenset({"cluster", "addons"})
_DROPPED_FLAGS = {"--wait": 0, "--timeout": 1, "--repo": 1, "--version": 1}


@dataclass
class AddonRelease:
    """One ``helm upgrade --install`` as the lab runs it."""

    release: str
    chart: str  # local chart directory name
    namespace: str
    args: list[str]  # the remaining helm arguments (values files, --set, ...)
    pinned: str = ""  # the RUNBOOK's --version
    source: str = ""  # the RUNBOOK line (or "cluster/eksctl.yaml addons")
    step: str = ""  # the RUNBOOK step that installs it
    version: str = ""  # the local chart's version, once installed
    manifest: list[dict[str, Any]] = field(default_factory=list)  # the rendered objects, once installed


def find_charts() -> Path | None:
    """``$EDGEWISE_LAB_CHARTS``, else ``.tools/charts`` beside the lab programs."""
    env = os.environ.get("EDGEWISE_LAB_CHARTS")
    if env:
        return Path(env)
    try:
        helm = find_program("helm")
    except LabError:
        return None
    for d in (helm.parent.parent / "charts", Path(os.path.realpath(helm)).parent.parent / "charts"):
        if d.is_dir():
            return d
    return None


def chart_dir(charts: Path, name: str) -> Path:
    return charts / CHART_DIRS[name]


#: the version Istio's development charts give themselves; its release build replaces it
#: with the release's (see the comment in
#: https://github.com/istio/istio/blob/1.29.1/manifests/charts/istio-control/istio-discovery/Chart.yaml)
DEV_CHART_VERSION = "1.0.0"


def chart_version(chart: Path) -> str:
    """The chart's version: its ``Chart.yaml``'s, except for a development chart taken
    from a release commit's module (Istio's say 1.0.0), whose ``.release`` file
    (written by ``make lab``) names the release that commit is."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8")) or {}
    version = str(meta.get("version", ""))
    release = chart / ".release"
    if version == DEV_CHART_VERSION and release.is_file():
        return release.read_text(encoding="utf-8").strip() or version
    return version


def _substitute(word: str) -> str:
    for var, value in LAB_VARIABLES.items():
        word = word.replace("${" + var + "}", value).replace("$" + var, value)
    return word


def _parse_helm(line: str, plan_dir: Path, step: str) -> AddonRelease | None:
    words = shlex.split(line)
    if words[:3] != ["helm", "upgrade", "--install"] or len(words) < 5:
        return None
    release, ref = words[3], words[4]
    name = ref.rstrip("/").rsplit("/", 1)[-1]
    if name not in CHART_DIRS:
        raise InputError.single(f"{plan_dir / RUNBOOK_JSON}", f"the RUNBOOK installs chart {ref!r}, which the lab "
                                "does not have", hint="plan again with this edgewise, or report it as a bug")
    rest, pinned, namespace, i = [], "", "default", 5
    while i < len(words):
        w = words[i]
        if w in _DROPPED_FLAGS:
            if w == "--version":
                pinned = words[i + 1]
            i += 1 + _DROPPED_FLAGS[w]
            continue
        if w == "--namespace":
            namespace = words[i + 1]
            i += 2
            continue
        if w in ("-f", "--values"):
            rest += [w, str(plan_dir / words[i + 1])]
            i += 2
            continue
        rest.append(_substitute(w))
        i += 1
    return AddonRelease(release, CHART_DIRS[name], namespace, rest, pinned, line, step)


def helm_releases(plan_dir: Path) -> list[AddonRelease]:
    """The releases the plan installs, in the RUNBOOK's order: the EKS EBS CSI add-on
    (cluster step) when eksctl.yaml asks for it, then every helm line of runbook.json."""
    out: list[AddonRelease] = []
    eksctl = plan_dir / EKSCTL_CONFIG
    if eksctl.is_file():
        try:
            cfg = yaml.safe_load(eksctl.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InputError.single(str(eksctl), f"cannot read: {exc}", hint="plan again") from None
        if any(isinstance(a, Mapping) and a.get("name") == "aws-ebs-csi-driver" for a in cfg.get("addons") or []):
            out.append(AddonRelease("aws-ebs-csi-driver", "aws-ebs-csi-driver", "kube-system", [],
                                    source=f"{EKSCTL_CONFIG} addons: aws-ebs-csi-driver (EKS add-on)",
                                    step="cluster"))
    rb_file = plan_dir / RUNBOOK_JSON
    try:
        rb = runbook_from_json(rb_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError.single(str(rb_file), f"cannot read the plan's runbook: {exc}",
                                hint="pass a directory `edgewise plan` wrote (runbook.json), or plan again") from None
    for step in rb.steps:
        for action in step.actions:
            if isinstance(action, Command):
                rel = _parse_helm(action.line, plan_dir, step.key)
                if rel is not None:
                    out.append(rel)
    return out


def cluster_service_accounts(plan_dir: Path) -> list[dict[str, Any]]:
    """The ServiceAccounts eksctl creates for ``iam.serviceAccounts`` (IAM roles for
    service accounts), which the charts' values use with ``serviceAccount.create: false``;
    the role ARN is a placeholder (no AWS in the lab)."""
    eksctl = plan_dir / EKSCTL_CONFIG
    if not eksctl.is_file():
        return []
    cfg = yaml.safe_load(eksctl.read_text(encoding="utf-8")) or {}
    out = []
    for sa in ((cfg.get("iam") or {}).get("serviceAccounts") or []):
        meta = sa.get("metadata") or {}
        out.append({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {
                "name": meta.get("name"), "namespace": meta.get("namespace", "default"),
                "labels": {"app.kubernetes.io/managed-by": "eksctl"},
                "annotations": {"eks.amazonaws.com/role-arn": f"arn:aws:iam::111122223333:role/lab-{meta.get('name')}"},
            },
        })
    return out


def _helm(lab: Lab, home: Path, args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "KUBECONFIG": str(lab.kubeconfig),
    }
    return subprocess.run([str(find_program("helm")), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)


def install_releases(
    lab: Lab,
    releases: Sequence[AddonRelease],
    charts: Path,
    progress: Callable[[str], None],
    timeout: float,
) -> tuple[list[str], list[str], list[str]]:
    """Install ``releases`` in the RUNBOOK's order. Returns (errors, notes, webhooks
    removed): an error is a release helm refused (the chart's objects rejected by the
    API server, say). The add-ons (EBS CSI, load balancer controller, termination
    handler) and the meshes depend on nothing of each other and are installed side by
    side; within a mesh step the releases follow one another as the RUNBOOK runs them."""
    errors: list[str] = []
    notes: list[str] = []
    for r in releases:
        r.version = chart_version(charts / r.chart)
        if r.pinned and r.pinned != r.version:
            notes.append(f"{r.release}: the RUNBOOK pins chart version {r.pinned}; the lab has {r.version}")
    with tempfile.TemporaryDirectory(prefix="edgewise-helm-") as tmp:
        home = Path(tmp)
        dropped = home / "webhooks-dropped"
        renderer = home / "post-render"
        renderer.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m edgewise.verify.postrender "
                            f"{shlex.quote(str(dropped))}\n", encoding="utf-8")
        renderer.chmod(0o755)

        def one(r: AddonRelease) -> str | None:
            client = Client(lab.server, lab.token)  # its own connection: one per thread
            _prepare_namespace(lab, client, r, timeout)
            progress(f"helm install {r.release} ({r.chart} {r.version}) into {r.namespace}")
            try:
                res = _helm(lab, home, ["upgrade", "--install", r.release, str(charts / r.chart), "--namespace",
                                        r.namespace, "--create-namespace", "--post-renderer", str(renderer),
                                        *r.args], timeout)
            except subprocess.TimeoutExpired:
                return f"{r.release}: helm did not finish in {timeout:.0f}s (a hook Job that never completes?)"
            if res.returncode != 0:
                return f"{r.release}: helm failed: {res.stderr.strip() or res.stdout.strip()}"
            got = _helm(lab, home, ["get", "manifest", r.release, "--namespace", r.namespace], timeout)
            if got.returncode == 0:
                r.manifest = [d for d in yaml.safe_load_all(got.stdout) if isinstance(d, dict)]
            # a webhook left (a chart hook, which helm does not post-render) goes now,
            # before the next release's objects could be sent to it
            _remove_webhooks(client, [r])
            return None

        # side by side: every release of the cluster and add-on steps and the first of each
        # mesh step; then, in order, the releases a mesh step installs after its first
        # (istiod after base, whose CRDs it relies on)
        first_of_step: dict[str, AddonRelease] = {}
        for r in releases:
            first_of_step.setdefault(r.step, r)
        first = [r for r in releases if r.step in PARALLEL_STEPS or first_of_step[r.step] is r]
        with ThreadPoolExecutor(max_workers=max(1, len(first))) as pool:
            results = list(pool.map(one, first))
        results += [one(r) for r in releases if r not in first]
        errors = [e for e in results if e]
        removed = sorted(set(dropped.read_text(encoding="utf-8").split()) if dropped.exists() else set())
    removed = sorted({*removed, *_remove_webhooks(lab.client, releases)})
    if removed:
        notes.append(
            f"{len(removed)} admission webhook configurations of the charts were removed ({', '.join(removed)}): "
            "the lab runs no container to serve them, so sidecar injection and the charts' own admission "
            "checks are not verified here"
        )
    return errors, notes, removed


def _prepare_namespace(lab: Lab, client: Client, r: AddonRelease, timeout: float) -> None:
    """What the RUNBOOK does with kubectl before a chart: the namespace (once a previous
    verification's copy is gone), and for Consul Enterprise the licence Secret (a
    placeholder: no Consul runs in the lab)."""
    lab.wait_namespaces_gone([r.namespace], timeout=timeout)
    if client.get("v1", "Namespace", r.namespace) is None:
        client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": r.namespace}})
    for i, a in enumerate(r.args):
        if a in ("-f", "--values") and i + 1 < len(r.args):
            values = yaml.safe_load(Path(r.args[i + 1]).read_text(encoding="utf-8")) or {}
            lic = ((values.get("global") or {}).get("enterpriseLicense") or {}) if isinstance(values, dict) else {}
            if lic.get("secretName"):
                client.apply({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": lic["secretName"], "namespace": r.namespace},
                    "stringData": {str(lic.get("secretKey") or "key"): "lab placeholder licence"},
                })


def _remove_webhooks(client: Client, releases: Sequence[AddonRelease]) -> list[str]:
    names = []
    for r in releases:
        for o in r.manifest:
            if o.get("kind") in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
                names.append((str(o["kind"]), str(o["metadata"]["name"])))
    # istiod and the LBC also create webhook configurations at run time, never here (no
    # container runs); a chart may still label its own: collect those too
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        for o in client.list("admissionregistration.k8s.io/v1", kind):
            rel = ((o.get("metadata") or {}).get("annotations") or {}).get("meta.helm.sh/release-name")
            if rel and any(r.release == rel for r in releases) and (kind, o["metadata"]["name"]) not in names:
                names.append((kind, str(o["metadata"]["name"])))
    for kind, name in names:
        client.delete("admissionregistration.k8s.io/v1", kind, name)
    return sorted(f"{k.replace('WebhookConfiguration', '')}/{n}" for k, n in names)


def uninstall_releases(lab: Lab, releases: Sequence[AddonRelease], timeout: float) -> None:
    """Remove the releases (a shared lab is emptied between verifications), all but
    their CRDs: those are marked ``helm.sh/resource-policy: keep`` first, so that a CRD
    is never being deleted (its custom resources with it) while the next verification
    installs the same chart, which adopts it (same release name and namespace)."""
    for r in releases:
        for o in r.manifest:
            if o.get("kind") == "CustomResourceDefinition":
                with contextlib.suppress(ApiError):
                    lab.client.request(
                        "PATCH",
                        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{o['metadata']['name']}",
                        {"metadata": {"annotations": {"helm.sh/resource-policy": "keep"}}},
                        content_type="application/merge-patch+json",
                    )
    with tempfile.TemporaryDirectory(prefix="edgewise-helm-") as tmp:

        def one(r: AddonRelease) -> None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                _helm(lab, Path(tmp), ["uninstall", r.release, "--namespace", r.namespace, "--no-hooks"], timeout)

        with ThreadPoolExecutor(max_workers=max(1, len(releases))) as pool:
            list(pool.map(one, releases))
