"""Quantities and pod requests (edgewise.k8s.resources), instance vCPUs (edgewise.catalog.instances).

The quantity parser is held to the API server (random text as a ResourceQuota, dry run:
the same texts accepted, the same values) and to the kubernetes client's
``parse_quantity`` on the grammar's every suffix (the client reads more than the API:
"1K", "1 k", "0E0E").
"""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from kubernetes.utils.quantity import parse_quantity as client_parse

from edgewise.catalog.instances import instance_arch, instance_vcpus
from edgewise.k8s.resources import parse_quantity, pod_request, round_up_milli
from edgewise.lab import Lab
from edgewise.lab.client import ApiError

SUFFIXES = ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "e3", "E-2", "e+1"]


def _client(text: str) -> Fraction | None:
    try:
        return Fraction(Decimal(client_parse(text)))
    except ValueError:
        return None


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("number", ["0", "1", "100", "1.5", ".5", "5.", "+2", "0.001"])
def test_quantity_matches_the_kubernetes_client(number: str, suffix: str) -> None:
    text = number + suffix
    assert parse_quantity(text) == _client(text), text


def test_what_the_api_server_reads_and_the_client_does_not() -> None:
    # apimachinery's parser lets every part of the number be empty: zero
    assert parse_quantity("e3") == 0
    assert parse_quantity("+.") == 0
    assert parse_quantity("") is None
    assert parse_quantity("1K") is None  # no such suffix: the client reads it as 1000


def _texts(n: int) -> list[str]:
    rnd = random.Random(20261130)
    alphabet = "0123456789.+-eEkKMGTPnumi "
    made = ["0E0E", "0K", "1 k", " 2 ", "1e", "e3", "1.2.3", "", "-1", "1Ki", "1.5Gi", "5E-1", "+.5m"]
    while len(made) < n:
        made.append("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 7))))
    return made


def test_quantities_as_the_api_server_reads_them(lab: Lab) -> None:
    """Random text as a container's CPU request, the pod created with dry run: the API
    server accepts exactly what parse_quantity reads, and its canonical form has the
    same value."""
    for text in _texts(300):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "q", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": text}}}]},
        }
        ours = parse_quantity(text)
        try:
            stored = lab.client.create(pod, dry_run=True)
        except ApiError as e:
            if e.status == 400 or "must match the regular expression" in e.message:  # not a quantity
                assert ours is None, (text, e.message)
            else:  # a quantity the quota refuses: a negative one
                assert "greater than or equal to 0" in e.message, (text, e.message)
                assert ours is not None and ours < 0, (text, e.message)
            continue
        canonical = stored["spec"]["containers"][0]["resources"]["requests"]["cpu"]
        assert ours is not None and round_up_milli(ours) == parse_quantity(canonical), (text, canonical)


def test_numbers_and_junk() -> None:
    assert parse_quantity(2) == 2
    assert parse_quantity(0.5) == Fraction(1, 2)
    assert parse_quantity(True) is None
    assert parse_quantity("lots") is None
    assert parse_quantity(None) is None


def _pod(**spec: Any) -> dict[str, Any]:
    return spec


def _c(cpu: str | None = None, limit: str | None = None, **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if cpu is not None:
        res["requests"] = {"cpu": cpu}
    if limit is not None:
        res["limits"] = {"cpu": limit}
    return {"name": "c", "image": "x", "resources": res, **extra}


def test_pod_request_adds_containers_and_takes_limits_without_requests() -> None:
    assert pod_request(_pod(containers=[_c("100m"), _c("250m")]), "cpu") == Fraction(35, 100)
    assert pod_request(_pod(containers=[_c(limit="2")]), "cpu") == 2
    assert pod_request(_pod(containers=[_c("500m", limit="2")]), "cpu") == Fraction(1, 2)
    assert pod_request(_pod(containers=[{"name": "c", "image": "x"}]), "cpu") == 0
    assert pod_request(_pod(containers=[_c("500u")]), "cpu") == Fraction(1, 1000)  # stored as 1m


def test_pod_request_init_containers_and_sidecars() -> None:
    # a plain init container runs alone: the larger of it and the app containers
    assert pod_request(_pod(initContainers=[_c("3")], containers=[_c("1")]), "cpu") == 3
    assert pod_request(_pod(initContainers=[_c("1")], containers=[_c("2")]), "cpu") == 2
    # a sidecar (restartPolicy Always) keeps running beside the app and later init containers
    sidecar = _c("500m", restartPolicy="Always")
    assert pod_request(_pod(initContainers=[sidecar], containers=[_c("1")]), "cpu") == Fraction(3, 2)
    assert pod_request(_pod(initContainers=[sidecar, _c("2")], containers=[_c("1")]), "cpu") == Fraction(5, 2)
    # an init container before the sidecar starts does not share with it
    assert pod_request(_pod(initContainers=[_c("2"), sidecar], containers=[_c("1")]), "cpu") == 2
    assert pod_request(_pod(containers=[_c("1")], overhead={"cpu": "250m"}), "cpu") == Fraction(5, 4)


@pytest.mark.parametrize(
    ("instance_type", "vcpus"),
    [
        # https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html and co.
        ("m6i.large", 2),
        ("c5d.2xlarge", 8),
        ("m5.24xlarge", 96),
        ("g4dn.2xlarge", 8),
        ("r5.2xlarge", 8),
        ("t3.xlarge", 4),
        ("t3.medium", 2),
        ("m6g.medium", 1),
        ("m5.metal", None),
        ("m5.weird", None),
    ],
)
def test_instance_vcpus(instance_type: str, vcpus: int | None) -> None:
    assert instance_vcpus(instance_type) == vcpus


def test_instance_vcpus_never_under_counts_small_burstables() -> None:
    # t2.micro has 1 vCPU and t3.micro 2: the name alone gives the larger
    assert instance_vcpus("t2.micro") == 2
    assert instance_vcpus("t3.micro") == 2


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [("a1.large", "arm64"), ("m6g.large", "arm64"), ("c7gn.xlarge", "arm64"), ("im4gn.large", "arm64"),
     ("g5g.xlarge", "arm64"), ("g4dn.2xlarge", "amd64"), ("m7i-flex.large", "amd64"), ("t3.xlarge", "amd64")],
)
def test_instance_arch(instance_type: str, arch: str) -> None:
    assert instance_arch(instance_type) == arch
