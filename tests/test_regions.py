"""Every commercial Region is accepted (issue 11, item 12).

The catalog lists every Region of the SDKs' commercial partition (botocore's
endpoints.json) with its Availability Zones; a zone named ``<region><letter>`` is an AZ of
that Region even when the catalog does not list the letter (letters are mapped per
account); a Region the catalog does not know yet is accepted with explicit zone types and
one located AZ; and "did you mean" never offers another Region's zone for a name of the
spec's own Region.
"""

from __future__ import annotations

import json
from pathlib import Path

import botocore
import pytest

from edgewise.catalog import load_catalog
from edgewise.errors import InputError
from edgewise.plan.artifacts import render_tree
from edgewise.plan.cluster import plan_cluster
from edgewise.spec import ZoneType, load_spec
from edgewise.topology import build_topology

ROOT = Path(__file__).resolve().parents[1]


def commercial_regions() -> list[str]:
    data = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    (aws,) = [p for p in data["partitions"] if p["partition"] == "aws"]
    return sorted(aws["regions"])


def test_every_commercial_region_is_in_the_catalog_with_its_azs() -> None:
    cat = load_catalog()
    regions = commercial_regions()
    assert len(regions) >= 30
    for region in regions:
        assert region in cat.regions, region
        azs = [z for z in cat.select(region, "availability-zone")]
        assert len(azs) >= 2, region
        assert all(z.name[:-1] == region and z.name[-1].isalpha() for z in azs), region
        r = cat.regions[region]
        assert -90 <= r.lat <= 90 and -180 <= r.lon <= 180 and r.metro


def write(tmp_path: Path, region: str, zones: str) -> Path:
    f = tmp_path / "spec.yaml"
    f.write_text(f"apiVersion: edgewise.dev/v1alpha1\nkind: Topology\nmetadata: {{name: r}}\n"
                 f"spec:\n  region: {region}\n  zones:\n{zones}")
    return f


@pytest.mark.parametrize("region", commercial_regions())
def test_a_two_az_topology_validates_and_plans_in_every_region(region: str, tmp_path: Path) -> None:
    azs = sorted(z.name for z in load_catalog().select(region, "availability-zone"))[:2]
    spec = write(tmp_path, region, "".join(
        f"    - {{name: {a}, nodeGroup: {{instanceType: m6i.large, desired: 1}}}}\n" for a in azs))
    t = build_topology(load_spec(spec))
    assert [z.kind for z in t.zones] == [ZoneType.AVAILABILITY_ZONE] * 2
    files = render_tree(plan_cluster(t, ()))
    assert f"region: {region}" in files["cluster/eksctl.yaml"]


def test_eu_west_1_outposts_plan() -> None:
    t = build_topology(load_spec(ROOT / "tests" / "data" / "cluster" / "eu-west-1-outposts.yaml"))
    assert t.region == "eu-west-1" and t.region_metro == "Dublin"
    assert t.zone("eu-west-1d").kind is ZoneType.AVAILABILITY_ZONE  # an AZ by its name
    assert len(t.of_kind(ZoneType.OUTPOST)) == 2


def test_an_az_letter_of_another_region_is_not_taken_for_an_az(tmp_path: Path) -> None:
    spec = write(tmp_path, "eu-west-1", "    - {name: eu-west-1a}\n    - {name: eu-west-2d}\n")
    with pytest.raises(InputError) as exc:
        load_spec(spec)
    assert "belongs to" in str(exc.value) or "eu-west-2d" in str(exc.value)


def test_did_you_mean_stays_in_the_spec_region(tmp_path: Path) -> None:
    cat = load_catalog()
    # a Local-Zone-shaped name of a Region with no Local Zones in the catalog
    assert all(cat.zones[n].region == "ap-southeast-7" for n in cat.suggest_zone("ap-southeast-7-bkk-1a",
                                                                                 "ap-southeast-7"))
    spec = write(tmp_path, "eu-west-1", "    - {name: eu-west-1a}\n    - {name: eu-west-1b}\n"
                 "    - {name: eu-west-1-dub-1a}\n")
    with pytest.raises(InputError) as exc:
        load_spec(spec)
    text = str(exc.value)
    assert "unknown zone 'eu-west-1-dub-1a'" in text
    other = [z for z in cat.zones if z in text and cat.zones[z].region != "eu-west-1"]
    assert not other, other


def test_a_region_the_catalog_lacks_is_accepted_with_types_and_a_location(tmp_path: Path) -> None:
    zones = ("    - {name: xx-newplace-1a, type: availability-zone, location: {lat: 10.0, lon: 20.0}}\n"
             "    - {name: xx-newplace-1b, type: availability-zone}\n")
    t = build_topology(load_spec(write(tmp_path, "xx-newplace-1", zones)))
    assert (t.region_lat, t.region_lon) == (10.0, 20.0)
    # without a location there is nothing to estimate latency from
    with pytest.raises(InputError) as exc:
        load_spec(write(tmp_path, "xx-newplace-1", zones.replace(", location: {lat: 10.0, lon: 20.0}", "")))
    assert "give one of its Availability Zones a location" in str(exc.value)
    # without types the zones are unknown, and the Region is named as the problem
    with pytest.raises(InputError) as exc:
        load_spec(write(tmp_path, "xx-newplace-1", "    - {name: xx-newplace-1a}\n    - {name: xx-newplace-1b}\n"))
    assert "is not in the zone catalog" in str(exc.value)
