"""Where the real scheduler puts pods, zone by zone: the ground truth for
:mod:`edgewise.k8s`'s inferred placement.

:func:`zone_probes` turns one pod template into one probe pod per zone: the template's
own constraints AND a required node-affinity expression on ``edgewise.dev/zone`` (added
to every node-selector term, so the template's terms keep their meaning). A probe is
bound iff the template can run in that zone, so the set of zones whose probe the
scheduler binds is exactly the set of zones the model must predict, independent of the
scheduler's scoring. Each probe carries a label of its own so topology-spread
constraints count only the probe itself.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..plan.labels import ZONE_LABEL
from .client import Client

__all__ = ["PROBE_LABEL", "Outcome", "create_pods", "pod_outcomes", "wait_settled", "zone_probes"]

PROBE_LABEL = "edgewise.dev/probe"


@dataclass(frozen=True)
class Outcome:
    """One pod's fate: bound to ``node`` or Pending with the scheduler's ``reason``."""

    name: str
    node: str
    reason: str

    @property
    def bound(self) -> bool:
        return bool(self.node)


def zone_probes(name: str, pod_spec: Mapping[str, Any], zones: Sequence[str], namespace: str) -> list[dict[str, Any]]:
    """One probe pod per zone for ``pod_spec`` (see the module docstring)."""
    out = []
    for i, zone in enumerate(zones):
        spec = copy.deepcopy(dict(pod_spec))
        pin = {"key": ZONE_LABEL, "operator": "In", "values": [zone]}
        affinity = spec.setdefault("affinity", {})
        node_affinity = affinity.setdefault("nodeAffinity", {})
        required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
        terms = required.get("nodeSelectorTerms")
        if terms:
            # an empty term matches no node: keep it empty so the pin does not make it match
            required["nodeSelectorTerms"] = [
                {**t, "matchExpressions": [*(t.get("matchExpressions") or []), pin]}
                if (t.get("matchExpressions") or t.get("matchFields"))
                else t
                for t in terms
            ]
        else:
            required["nodeSelectorTerms"] = [{"matchExpressions": [pin]}]
        probe = f"{name}-{i}"
        for c in spec.get("topologySpreadConstraints") or []:
            c["labelSelector"] = {"matchLabels": {PROBE_LABEL: probe}}
        spec.setdefault("containers", [{"name": "c", "image": "registry.k8s.io/pause:3.10"}])
        spec.setdefault("terminationGracePeriodSeconds", 0)
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": probe,
                    "namespace": namespace,
                    "labels": {PROBE_LABEL: probe, "edgewise.dev/probe-of": name},
                    "annotations": {"edgewise.dev/probe-zone": zone},
                },
                "spec": spec,
            }
        )
    return out


def create_pods(client: Client, pods: Iterable[Mapping[str, Any]], workers: int = 4) -> None:
    """Create many pods concurrently (one connection per worker thread)."""
    items = list(pods)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(client.create, items))


def pod_outcomes(client: Client, namespace: str, label_selector: str = "") -> dict[str, Outcome]:
    """Every pod's node, or its Unschedulable reason ("" while not yet tried)."""
    out: dict[str, Outcome] = {}
    for p in client.list("v1", "Pod", namespace, label_selector=label_selector):
        name = p["metadata"]["name"]
        node = (p.get("spec") or {}).get("nodeName") or ""
        reason = ""
        for c in (p.get("status") or {}).get("conditions") or []:
            if c.get("type") == "PodScheduled" and c.get("status") == "False":
                reason = str(c.get("message") or c.get("reason") or "Unschedulable")
        out[name] = Outcome(name, node, reason)
    return out


def wait_settled(
    client: Client, namespace: str, expected: int, *, label_selector: str = "", timeout: float = 120.0
) -> dict[str, Outcome]:
    """Wait until ``expected`` pods exist and each is bound or marked Unschedulable."""
    deadline = time.monotonic() + timeout
    while True:
        got = pod_outcomes(client, namespace, label_selector)
        settled = [o for o in got.values() if o.bound or o.reason]
        if len(got) >= expected and len(settled) == len(got):
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{len(settled)} of {expected} pods in {namespace} settled after {timeout:.0f}s "
                f"({len(got)} exist)"
            )
        time.sleep(0.2)
