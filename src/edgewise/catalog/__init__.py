"""The built-in zone catalog: AWS Regions, Availability Zones, Local Zones, Wavelength Zones.

The data is one file, ``zones.yaml`` beside this module, so that it is easy to update as
AWS adds and retires zones. This module only reads it.
"""

from __future__ import annotations

import pkgutil
from dataclasses import dataclass
from functools import cache

import yaml

from ..errors import suggest
from ..yamlread import load_plain

__all__ = ["Catalog", "CatalogRegion", "CatalogZone", "load_catalog"]


@dataclass(frozen=True)
class CatalogRegion:
    name: str
    metro: str
    lat: float
    lon: float


@dataclass(frozen=True)
class CatalogZone:
    name: str
    type: str  # availability-zone | local | wavelength
    region: str
    group: str
    network_border_group: str
    metro: str
    lat: float
    lon: float
    carrier: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Catalog:
    regions: dict[str, CatalogRegion]
    zones: dict[str, CatalogZone]

    def suggest_zone(self, name: str, region: str | None = None, n: int = 3) -> list[str]:
        """Closest catalog zone names, preferring the given Region."""
        pool = [z for z in self.zones if region is None or self.zones[z].region == region]
        found = suggest(name, pool, n=n)
        # a name of the Region's own form never gets another Region's zone as its suggestion
        if not found and region is not None and not name.startswith(region):
            found = suggest(name, self.zones, n=n)
        return found

    def suggest_region(self, name: str) -> list[str]:
        return suggest(name, self.regions, n=3)

    def select(self, region: str | None = None, type_: str | None = None) -> list[CatalogZone]:
        return [
            z
            for z in self.zones.values()
            if (region is None or z.region == region) and (type_ is None or z.type == type_)
        ]


@cache
def load_catalog() -> Catalog:
    # the package's own loader reads the data file, wherever the package lives (a directory
    # or a zip); importlib.resources would import tempfile and random first (~3.5 ms of
    # every command's start-up)
    data = pkgutil.get_data(__package__, "zones.yaml")
    assert data is not None, "the zone catalog ships with the package"
    text = data.decode("utf-8")
    # the compiled reader: ~0.7 ms for the 35 KB file, where PyYAML's constructor (even
    # over libyaml's parser) takes ~7 ms of every command's start-up
    docs = load_plain(text)
    raw = docs[0] if docs else yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    regions = {
        name: CatalogRegion(name=name, metro=r["metro"], lat=float(r["lat"]), lon=float(r["lon"]))
        for name, r in raw["regions"].items()
    }
    zones: dict[str, CatalogZone] = {}
    for z in raw["zones"]:
        zones[z["name"]] = CatalogZone(
            name=z["name"],
            type=z["type"],
            region=z["region"],
            group=z["group"],
            network_border_group=z["networkBorderGroup"],
            metro=z["metro"],
            lat=float(z["lat"]),
            lon=float(z["lon"]),
            carrier=z.get("carrier"),
            note=z.get("note"),
        )
    return Catalog(regions=regions, zones=zones)
