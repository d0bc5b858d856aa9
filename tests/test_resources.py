"""Quantities and pod requests (edgewise.k8s.resources), instance vCPUs (edgewise.catalog.instances).

The quantity parser is held to the kubernetes client's ``parse_quantity`` (a port of
apimachinery's resource.Quantity) on the grammar's every suffix and on random text.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kubernetes.utils.quantity import parse_quantity as client_parse

from edgewise.catalog.instances import instance_arch, instance_vcpus
from edgewise.k8s.resources import parse_quantity, pod_request

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


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789.+-eEkKMGTPnumi ", max_size=8))
def test_random_text_agrees_with_the_kubernetes_client(text: str) -> None:
    # the API server trims spaces around a quantity before parsing it (apimachinery's
    # Quantity.UnmarshalJSON); the client does not
    ours = parse_quantity(text)
    theirs = _client(text.strip())
    if ours is None:
        # the client also reads "1 k"; the API server refuses a space inside a quantity
        assert theirs is None or " " in text.strip(), text
    else:
        assert ours == theirs, text


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
