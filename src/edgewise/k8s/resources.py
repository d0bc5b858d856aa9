"""Resource quantities and what a pod requests, as the scheduler counts them.

:func:`parse_quantity` reads a quantity as the API server does
(https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/):
a signed decimal number, then a binary suffix (``Ki`` ... ``Ei``), a decimal SI suffix
(``n``, ``u``, ``m``, ``k``, ``M`` ... ``E``) or a decimal exponent (``e3``, ``E-2``).
It gives an exact :class:`~fractions.Fraction`, and None for text the API server
refuses; ``tests/test_resources.py`` holds it to the API server itself.

:func:`pod_request` is the pod's effective request for one resource: the larger of the
app containers plus the restartable init containers (sidecars) and, for each other init
container, its own request plus the sidecars started before it, plus the pod's
``overhead`` (https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/#resource-sharing-within-containers,
https://kubernetes.io/docs/concepts/workloads/pods/init-containers/#resource-sharing-within-containers).
A container that sets a limit but no request requests its limit
(https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#requests-and-limits).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

__all__ = ["parse_quantity", "pod_request", "round_up_milli"]

# apimachinery's parseQuantityString: a sign, digits, a fraction (each part may be empty:
# "e3" and "." are zero), then a suffix of "eEinumkKMGTP" letters, a sign and digits,
# which the suffixer must know (https://github.com/kubernetes/apimachinery/blob/master/pkg/api/resource/quantity.go)
_QUANTITY = re.compile(r"^([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[+-]?[0-9]*)$")
_EXPONENT = re.compile(r"^[eE][+-]?[0-9]+$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(value: Any) -> Fraction | None:
    """The value of a quantity as the API server reads it (``"100m"`` -> 1/10,
    ``"128Mi"`` -> 134217728); None for what it refuses."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(Decimal(repr(value)))
    if not isinstance(value, str):
        return None
    return _parse_text(value)


@functools.lru_cache(maxsize=4096)
def _parse_text(value: str) -> Fraction | None:
    # a plan's pods repeat a handful of quantities thousands of times; a Fraction is
    # immutable, so one parse serves them all
    text = value.strip()  # Quantity.UnmarshalJSON trims spaces
    found = _QUANTITY.match(text) if text else None
    if not found:
        return None
    sign, whole, frac, suffix = found.groups()
    base = Fraction(Decimal(f"{whole or 0}.{frac or 0}"))
    if sign == "-":
        base = -base
    if suffix in _BINARY:
        return base * Fraction(1024) ** _BINARY[suffix]
    if suffix in _DECIMAL:
        return base * Fraction(10) ** _DECIMAL[suffix]
    if _EXPONENT.match(suffix):
        return base * Fraction(10) ** int(suffix[1:])
    return None


def round_up_milli(q: Fraction) -> Fraction:
    """``q`` rounded up to a thousandth, as the API server stores every resource list
    (SetDefaults_ResourceList rounds to milli scale: a request of ``0.5m`` is ``1m``)."""
    return Fraction(-(-q * 1000 // 1), 1000)


_ZERO = Fraction(0)


@functools.lru_cache(maxsize=4096)
def _stored(value: str | int | float) -> Fraction:
    """A container's request as the API server stores it: rounded up to a thousandth,
    and zero for what is not a positive quantity (cached: a plan's containers repeat a
    handful of values thousands of times, and Fraction arithmetic is slow)."""
    q = parse_quantity(value)
    return round_up_milli(q) if q is not None and q > 0 else _ZERO


def _container_request(container: Mapping[str, Any], resource: str) -> Fraction:
    # a plain dict is tested first (here and below): isinstance with an ABC runs a Python
    # frame (ABCMeta.__instancecheck__), ~10x the cost
    res = container.get("resources")
    res = res if type(res) is dict or isinstance(res, Mapping) else {}
    for part in ("requests", "limits"):  # no request: the limit is the request
        values = res.get(part)
        if (type(values) is dict or isinstance(values, Mapping)) and resource in values:
            value = values[resource]
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                return _ZERO  # refused by parse_quantity (and unhashable values, uncached)
            return _stored(value)
    return _ZERO


def _containers(pod_spec: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = pod_spec.get(key)
    return [c for c in items if type(c) is dict or isinstance(c, Mapping)] if isinstance(items, list) else []


def pod_request(pod_spec: Mapping[str, Any], resource: str) -> Fraction:
    """What the scheduler reserves for one pod of ``pod_spec`` (``resource``: ``cpu``, ``memory``)."""
    sidecars = init_peak = _ZERO
    for c in _containers(pod_spec, "initContainers"):
        request = _container_request(c, resource)
        if c.get("restartPolicy") == "Always":
            sidecars += request
            init_peak = max(init_peak, sidecars)
        else:
            init_peak = max(init_peak, sidecars + request)
    app = _ZERO
    for c in _containers(pod_spec, "containers"):
        request = _container_request(c, resource)
        if request:  # zero requests add nothing: skip the (slow) Fraction addition
            app = app + request if app else request
    if sidecars:
        app += sidecars
    # no init container: app (never below zero) is the need, without comparing Fractions
    need = app if init_peak is _ZERO or app >= init_peak else init_peak
    overhead = pod_spec.get("overhead")
    extra = (parse_quantity(overhead.get(resource))
             if overhead is not None and isinstance(overhead, Mapping) else None)
    return need + extra if extra else need
