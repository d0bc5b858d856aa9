"""The controller's packaging and leader election against the lab's real API server."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from edgewise.controller.operator import LeaseElector
from edgewise.lab import ApiError, Lab
from edgewise.lab.failover import wait_namespaces_gone
from edgewise.plan.cluster.controller import controller_objects
from edgewise.spec import load_spec
from edgewise.topology import build_topology

ROOT = Path(__file__).resolve().parents[1]
CRD = "edgeapplications.edgewise.dev"


@pytest.fixture(scope="module")
def installed(lab: Lab) -> Iterator[Lab]:
    topology = build_topology(load_spec(ROOT / "examples" / "wavelength"))
    wait_namespaces_gone(lab, ["edgewise-system"])
    lab.apply(controller_objects(topology))  # the whole file, as the RUNBOOK applies it (CRD established)
    yield lab
    with contextlib.suppress(ApiError):
        lab.client.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD)
    lab.reset(["edgewise-system"])


def _api_client(lab: Lab) -> k8s.ApiClient:
    return k8s_config.new_client_from_config(config_file=str(lab.kubeconfig))


def test_the_api_server_accepts_the_packaging_and_validates_edge_applications(installed: Lab) -> None:
    lab = installed
    crd = lab.client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD)
    assert crd is not None
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions.get("Established") == "True"
    assert conditions.get("NonStructuralSchema") is None  # the generated schema is structural
    app = load_spec(ROOT / "examples" / "wavelength").applications[0][0]
    spec = app.spec.model_dump(by_alias=True, mode="json", exclude_none=True)
    body = {"apiVersion": "edgewise.dev/v1alpha1", "kind": "EdgeApplication", "metadata": {"name": "two-tier"},
            "spec": spec}
    lab.client.create(body, dry_run=True)
    bad = {**body, "spec": {**spec, "services": [{**spec["services"][0], "port": 70000}]}}
    with pytest.raises(ApiError) as exc:
        lab.client.create(bad, dry_run=True)
    assert exc.value.status == 422 and "port" in str(exc.value)
    # the Deployment and PDB were accepted as planned
    d = lab.client.get("apps/v1", "Deployment", "edgewise-controller", "edgewise-system")
    assert d is not None and d["spec"]["replicas"] == 2
    assert lab.client.get("policy/v1", "PodDisruptionBudget", "edgewise-controller", "edgewise-system") is not None


def test_one_leader_and_a_takeover_when_it_stops_renewing(installed: Lab) -> None:
    api = _api_client(installed)
    a = LeaseElector("edgewise-system", "election-test", "replica-a", lease_seconds=2, api_client=api)
    b = LeaseElector("edgewise-system", "election-test", "replica-b", lease_seconds=2, api_client=api)
    assert a.try_acquire()
    assert not b.try_acquire()  # held and fresh
    assert a.try_acquire()  # the holder renews
    time.sleep(2.5)  # a stops renewing: the lease expires
    assert b.try_acquire()
    assert not a.try_acquire()
    lease = k8s.CoordinationV1Api(api).read_namespaced_lease("election-test", "edgewise-system")
    assert lease.spec.holder_identity == "replica-b"
    assert lease.spec.lease_transitions == 1
