"""Print zones.yaml entries for the commercial Regions and Availability Zones the catalog lacks.

Sources (record them in zones.yaml when you rerun this):
* Regions: botocore's endpoints.json, partition ``aws`` (the commercial partition), i.e.
  the Regions the AWS SDKs know, with their names.
* Availability Zone letters: moto's EC2 Region/zone table (RegionsAndZonesBackend), which
  lists the letters of Regions whose zones are not a, b, c; every other Region gets a, b, c
  ("Each Region has at least three Availability Zones",
  https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-availability-zones.html).
  AZ letters are mapped per account in the oldest Regions, so edgewise also accepts any
  ``<region><letter>`` of the spec's own Region as an Availability Zone.
* Metro coordinates: the city of each Region's name (decimal degrees, ~0.01 deg).

Run: python tools/catalog_regions.py  (needs botocore and moto, both in the test extra).
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import botocore
import yaml
from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

CATALOG = Path(__file__).resolve().parents[1] / "src" / "edgewise" / "catalog" / "zones.yaml"

#: Region -> (metro, lat, lon) of the city the Region is named after
METROS: dict[str, tuple[str, float, float]] = {
    "af-south-1": ("Cape Town", -33.92, 18.42),
    "ap-east-1": ("Hong Kong", 22.32, 114.17),
    "ap-east-2": ("Taipei", 25.03, 121.57),
    "ap-northeast-3": ("Osaka", 34.69, 135.50),
    "ap-south-1": ("Mumbai", 19.08, 72.88),
    "ap-south-2": ("Hyderabad", 17.39, 78.49),
    "ap-southeast-1": ("Singapore", 1.35, 103.82),
    "ap-southeast-2": ("Sydney", -33.87, 151.21),
    "ap-southeast-3": ("Jakarta", -6.21, 106.85),
    "ap-southeast-4": ("Melbourne", -37.81, 144.96),
    "ap-southeast-5": ("Kuala Lumpur", 3.14, 101.69),
    "ap-southeast-6": ("Auckland", -36.85, 174.76),
    "ap-southeast-7": ("Bangkok", 13.76, 100.50),
    "ca-west-1": ("Calgary", 51.05, -114.07),
    "eu-central-2": ("Zurich", 47.38, 8.54),
    "eu-north-1": ("Stockholm", 59.33, 18.07),
    "eu-south-1": ("Milan", 45.46, 9.19),
    "eu-south-2": ("Zaragoza (Aragon)", 41.65, -0.89),
    "eu-west-1": ("Dublin", 53.35, -6.26),
    "il-central-1": ("Tel Aviv", 32.09, 34.78),
    "me-central-1": ("Dubai", 25.20, 55.27),
    "me-south-1": ("Manama", 26.23, 50.59),
    "mx-central-1": ("Queretaro", 20.59, -100.39),
    "sa-east-1": ("Sao Paulo", -23.55, -46.63),
}


def main() -> None:
    endpoints = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    (aws,) = [p for p in endpoints["partitions"] if p["partition"] == "aws"]
    catalog = yaml.safe_load(CATALOG.read_text())
    have_regions = set(catalog["regions"])
    have_zones = {z["name"] for z in catalog["zones"]}
    print(f"# Regions: botocore {metadata.version('botocore')} endpoints.json (partition aws);"
          f" AZ letters: moto {metadata.version('moto')}")
    regions: list[str] = []
    for name in sorted(aws["regions"]):
        if name in have_regions:
            continue
        metro, lat, lon = METROS[name]
        regions.append(name)
        print(f"  {name}:\n    metro: {metro}\n    lat: {lat:.2f}\n    lon: {lon:.2f}")
    print("---")
    for name in sorted(aws["regions"]):
        listed = RegionsAndZonesBackend.zones.get(name)
        letters = [z.name[len(name):] for z in listed] if listed else ["a", "b", "c"]
        metro, lat, lon = METROS.get(name) or (catalog["regions"][name]["metro"],
                                               catalog["regions"][name]["lat"], catalog["regions"][name]["lon"])
        for letter in letters:
            if name + letter in have_zones:
                continue
            print(f"  - name: {name}{letter}\n    type: availability-zone\n    region: {name}\n"
                  f"    group: {name}\n    networkBorderGroup: {name}\n    metro: {metro}\n"
                  f"    lat: {lat:.2f}\n    lon: {lon:.2f}")


if __name__ == "__main__":
    main()
