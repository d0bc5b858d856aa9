"""The built-in zone catalog: internal consistency and look-ups."""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources

import pytest
import yaml

from edgewise.catalog import load_catalog

TYPES = {"availability-zone", "local", "wavelength"}


def raw_catalog() -> dict[str, list[dict[str, object]]]:
    text = resources.files("edgewise.catalog").joinpath("zones.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def test_zone_names_are_unique_in_the_file() -> None:
    """load_catalog() builds a dict, which would hide a duplicate entry: count the raw list."""
    counts = Counter(str(z["name"]) for z in raw_catalog()["zones"])
    assert [n for n, c in counts.items() if c > 1] == []
    assert len(load_catalog().zones) == len(counts)


def test_every_zone_is_consistent() -> None:
    cat = load_catalog()
    for z in cat.zones.values():
        assert z.type in TYPES, z
        assert z.region in cat.regions, z
        assert z.name.startswith(z.region), z
        assert -90 <= z.lat <= 90 and -180 <= z.lon <= 180, z
        if z.type == "availability-zone":
            assert re.fullmatch(re.escape(z.region) + "[a-z]", z.name), z
            assert z.group == z.network_border_group == z.region, z
            assert z.carrier is None
        elif z.type == "local":
            assert re.fullmatch(re.escape(z.region) + r"-[a-z]{3}-\d[a-z]", z.name), z
            assert z.group == z.name[:-1] == z.network_border_group, z
        else:
            assert re.fullmatch(re.escape(z.region) + r"-wl\d-[a-z]{3}-wlz-\d", z.name), z
            assert z.network_border_group == z.name, z
            assert z.group == z.name.rsplit("-", 3)[0], z  # e.g. us-east-1-wl1
            assert z.carrier, z


def test_every_region_has_two_azs_for_eks() -> None:
    cat = load_catalog()
    for region in cat.regions:
        assert len(cat.select(region, "availability-zone")) >= 2, region


def test_us_east_1_has_the_13_verizon_wavelength_zones() -> None:
    wlz = load_catalog().select("us-east-1", "wavelength")
    metros = sorted(z.name.split("-")[4] for z in wlz)
    assert metros == ["atl", "bna", "bos", "chi", "clt", "dfw", "dtw", "iah", "mia", "msp",
                      "nyc", "tpa", "was"]
    assert {z.carrier for z in wlz} == {"Verizon"}


def test_select_filters() -> None:
    cat = load_catalog()
    assert cat.select() == list(cat.zones.values())
    assert all(z.type == "local" for z in cat.select(type_="local"))
    assert all(z.region == "us-west-2" for z in cat.select("us-west-2"))
    assert cat.select("nowhere-1") == []


@pytest.mark.parametrize(("typo", "region", "best"), [
    ("us-east-1-wl1-bos-wlz1", "us-east-1", "us-east-1-wl1-bos-wlz-1"),
    ("us-west-2-lax1a", "us-west-2", "us-west-2-lax-1a"),
    ("us-east-1-nyc-1", None, "us-east-1-nyc-1a"),
])
def test_suggest_zone(typo: str, region: str | None, best: str) -> None:
    assert load_catalog().suggest_zone(typo, region)[0] == best


def test_suggest_zone_prefers_the_region_and_falls_back_to_all() -> None:
    cat = load_catalog()
    near = cat.suggest_zone("us-east-1x", "us-east-1")
    assert near and all(cat.zones[n].region == "us-east-1" for n in near)
    # nothing close in ca-central-1: fall back to the whole catalog
    assert cat.suggest_zone("us-west-2-lax1a", "ca-central-1")[0] == "us-west-2-lax-1a"
    assert cat.suggest_zone("zzzz") == []


def test_suggest_region() -> None:
    cat = load_catalog()
    assert cat.suggest_region("us-eats-1")[0] == "us-east-1"
    assert cat.suggest_region("bogus") == []
