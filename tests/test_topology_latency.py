"""The latency model on hand-computed cases.

Reference numbers were computed by hand (spherical law of cosines, a different formula
from the haversine the code uses) for the catalog coordinates:
Boston (42.36, -71.06) to Ashburn, the us-east-1 metro (39.04, -77.49): 655.52 km.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from edgewise.spec import Document, Spec, Topology
from edgewise.spec.semantic import validate_semantics
from edgewise.topology import LatencyParams, build_topology, great_circle_km
from edgewise.topology import Topology as Net
from edgewise.topology.latency import EARTH_RADIUS_KM, path_rtt_ms

BOSTON = (42.36, -71.06)
ASHBURN = (39.04, -77.49)
BOS_ASH_KM = 655.52  # hand-computed, see module docstring

BOS_WLZ = "us-east-1-wl1-bos-wlz-1"
NYC_LZ = "us-east-1-nyc-1a"
AZ_A = "us-east-1a"


def net(**extra: Any) -> Net:
    zones = [{"name": AZ_A}, {"name": "us-east-1b"}, {"name": BOS_WLZ}, {"name": NYC_LZ},
             {"name": "us-east-1-wl1-nyc-wlz-1"}]
    data = {"apiVersion": "edgewise.dev/v1alpha1", "kind": "Topology", "metadata": {"name": "lat"},
            "spec": {"region": "us-east-1", "zones": zones, **extra}}
    spec = Spec(topology=Topology.model_validate(data), topology_doc=Document("<t>", 0, 1, data),
                applications=())
    validate_semantics(spec)
    return build_topology(spec)


# -- distance ------------------------------------------------------------------------

def test_haversine_boston_ashburn() -> None:
    assert great_circle_km(*BOSTON, *ASHBURN) == pytest.approx(BOS_ASH_KM, abs=0.05)
    assert great_circle_km(*ASHBURN, *BOSTON) == pytest.approx(BOS_ASH_KM, abs=0.05)


def test_haversine_quarter_meridian_and_zero() -> None:
    # equator to pole along a meridian is a quarter of the circumference
    assert great_circle_km(0, 0, 90, 0) == pytest.approx(math.pi / 2 * EARTH_RADIUS_KM, rel=1e-12)
    # half way round the equator; antipodes must not blow up (asin argument clamped)
    assert great_circle_km(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_KM, rel=1e-12)
    assert great_circle_km(*BOSTON, *BOSTON) == 0.0


# -- the formula ----------------------------------------------------------------------

def test_path_rtt_formula() -> None:
    p = LatencyParams()
    # 2 * 100 km * 1.5 / 200 km/ms + 3 ms = 1.5 + 3
    assert path_rtt_ms(100.0, 3.0, p, physical=False) == pytest.approx(4.5)
    # physical limit: route factor 1, no overhead: 2 * 100 / 200 = 1 ms
    assert path_rtt_ms(100.0, 3.0, p, physical=True) == pytest.approx(1.0)
    custom = LatencyParams(fibre_km_per_ms=100.0, route_factor=2.0)
    assert path_rtt_ms(100.0, 0.5, custom, physical=False) == pytest.approx(4.5)


def test_wavelength_to_region_modelled_and_physical() -> None:
    t = net()
    p = t.params
    assert (p.route_factor, p.fibre_km_per_ms) == (1.5, 200.0)
    # 2 * 655.52 * 1.5 / 200 + service link 2.0 + intra-Region 0.3 = 12.133 ms
    modelled = 2 * BOS_ASH_KM * 1.5 / 200 + 2.0 + 0.3
    assert modelled == pytest.approx(12.133, abs=1e-3)
    assert t.rtt_ms(BOS_WLZ, AZ_A) == pytest.approx(modelled, abs=1e-3)
    assert t.rtt_ms(AZ_A, BOS_WLZ) == pytest.approx(modelled, abs=1e-3)
    # physical limit: 2 * 655.52 / 200 = 6.555 ms
    assert t.rtt_ms(BOS_WLZ, AZ_A, physical=True) == pytest.approx(6.555, abs=1e-3)


def test_physical_limit_is_the_model_with_factor_one_and_no_overhead() -> None:
    t = net()
    bare = dataclasses.replace(t, params=LatencyParams(
        route_factor=1.0, intra_zone_ms=0.0, inter_az_ms=0.0, service_link_ms=0.0,
        outpost_link_ms=0.0, outpost_lgw_ms=0.0))
    for a in t.zones:
        for b in t.zones:
            phys = t.rtt_ms(a, b, physical=True)
            model = t.rtt_ms(a, b)
            assert (phys is None) == (model is None)
            if phys is not None and model is not None:
                assert phys <= model
                assert bare.rtt_ms(a.name, b.name) == pytest.approx(phys, abs=1e-9)


def test_region_azs_share_a_metro_and_get_the_inter_az_floor() -> None:
    t = net()
    assert t.rtt_ms(AZ_A, "us-east-1b") == t.params.inter_az_ms == 1.0
    assert t.rtt_ms(AZ_A, "us-east-1b", physical=True) == 0.0
    assert t.rtt_ms(BOS_WLZ, BOS_WLZ) == t.params.intra_zone_ms
    assert t.rtt_ms(BOS_WLZ, BOS_WLZ, physical=True) == 0.0


def test_edge_to_edge_has_no_latency() -> None:
    t = net()
    assert t.rtt_ms(BOS_WLZ, NYC_LZ) is None
    assert t.rtt_ms(BOS_WLZ, NYC_LZ, physical=True) is None


# -- users --------------------------------------------------------------------------------

def test_wavelength_entry_is_unreachable_for_internet_users() -> None:
    t = net()
    assert t.user_rtt_ms(NYC_LZ, BOS_WLZ) is None  # Local Zone users are on the internet
    assert t.user_rtt_ms(AZ_A, BOS_WLZ) is None
    assert t.user_rtt_ms(AZ_A, BOS_WLZ, physical=True) is None


def test_5g_users_in_their_own_wavelength_zone() -> None:
    t = net()
    assert t.user_rtt_ms(BOS_WLZ, BOS_WLZ) == pytest.approx(t.params.access_5g_ms) == 8.0
    assert t.user_rtt_ms(BOS_WLZ, BOS_WLZ, physical=True) == 0.0


def test_5g_users_entering_in_the_region_leave_the_carrier_network() -> None:
    t = net()
    # 2 * 655.52 * 1.5 / 200 + 5G access 8 + carrier egress 4 = 21.833 ms
    assert t.user_rtt_ms(BOS_WLZ, AZ_A) == pytest.approx(21.833, abs=1e-3)


def test_internet_users_entering_in_the_region() -> None:
    t = net()
    d = great_circle_km(40.71, -74.01, *ASHBURN)  # New York City to Ashburn
    assert t.user_rtt_ms(NYC_LZ, AZ_A) == pytest.approx(2 * d * 1.5 / 200 + 6.0)
    assert t.user_rtt_ms(NYC_LZ, NYC_LZ) == pytest.approx(6.0)


# -- latencyMs overrides --------------------------------------------------------------------

def test_latency_overrides_replace_the_model() -> None:
    t = net(latencyMs={BOS_WLZ: {"region": 14, "users": 5}})
    assert t.rtt_ms(BOS_WLZ, AZ_A) == 14.0
    assert t.rtt_ms(AZ_A, BOS_WLZ) == 14.0
    assert t.user_rtt_ms(BOS_WLZ, BOS_WLZ) == 5.0
    # the physical limit is physics, not a measurement
    assert t.rtt_ms(BOS_WLZ, AZ_A, physical=True) == pytest.approx(6.555, abs=1e-3)
    assert t.user_rtt_ms(BOS_WLZ, BOS_WLZ, physical=True) == 0.0
    # other zones keep the modelled figure
    assert t.rtt_ms(NYC_LZ, AZ_A) == net().rtt_ms(NYC_LZ, AZ_A)


def test_partial_override_keeps_the_other_figure_modelled() -> None:
    t = net(latencyMs={BOS_WLZ: {"users": 3}})
    assert t.user_rtt_ms(BOS_WLZ, BOS_WLZ) == 3.0
    assert t.rtt_ms(BOS_WLZ, AZ_A) == pytest.approx(12.133, abs=1e-3)
