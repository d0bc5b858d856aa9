"""The command line: thin wrappers that call the layers and print their results.

Exit codes: 0 success / clean, 1 findings at or above --fail-on, 2 usage or input error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import InputError

__all__ = ["main"]

EXIT_INPUT = 2


def _err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(exc: InputError) -> None:
    console = _err_console()
    n = len(exc.problems)
    for p in exc.problems:
        console.print(p.render(), markup=False)
    console.print(f"error: {n} problem{'s' if n != 1 else ''} found", markup=False)
    sys.exit(EXIT_INPUT)


class _Group(click.Group):
    """Turn InputError anywhere below into the documented exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            _fail(exc)
        return None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgewise")
def cli() -> None:
    """Plan and verify Amazon EKS across a Region and its edge zones
    (Wavelength Zones, Local Zones, Outposts)."""


SPEC_ARG = click.argument(
    "spec", nargs=-1, required=True, type=click.Path(path_type=Path, exists=False)
)


@cli.command()
@SPEC_ARG
def validate(spec: tuple[Path, ...]) -> None:
    """Load and validate SPEC (files or directories); list every problem. Exit 0/2."""
    from .spec import load_spec
    from .topology import build_topology

    loaded = load_spec(list(spec))
    topo = build_topology(loaded)
    console = Console(highlight=False, soft_wrap=True)
    apps = ", ".join(a.metadata.name for a, _ in loaded.applications) or "none"
    kinds: dict[str, int] = {}
    for z in topo.zones:
        kinds[z.kind.value] = kinds.get(z.kind.value, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    console.print(f"valid: topology {topo.name!r} in {topo.region} ({summary}); applications: {apps}",
                  markup=False)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the spec (Topology and Application documents)."""
    from .spec.schema import spec_json_schema

    click.echo(json.dumps(spec_json_schema(), indent=2, sort_keys=True))


@cli.command()
@click.option("--region", help="Only zones of this Region.")
@click.option("--type", "type_", type=click.Choice(["availability-zone", "local", "wavelength"]),
              help="Only zones of this type.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def zones(region: str | None, type_: str | None, fmt: str) -> None:
    """List the built-in zone catalog."""
    from .catalog import load_catalog

    cat = load_catalog()
    if region is not None and region not in cat.regions:
        near = cat.suggest_region(region)
        raise InputError.single("--region", f"unknown Region {region!r}",
                                hint=(f"did you mean '{near[0]}'? " if near else "")
                                + "known: " + ", ".join(sorted(cat.regions)))
    rows = sorted(cat.select(region, type_), key=lambda z: (z.region, z.type != "availability-zone", z.type, z.name))
    if fmt == "json":
        out = [
            {"name": z.name, "type": z.type, "region": z.region, "group": z.group,
             "networkBorderGroup": z.network_border_group, "metro": z.metro,
             "location": {"lat": z.lat, "lon": z.lon}, "carrier": z.carrier, "note": z.note}
            for z in rows
        ]
        click.echo(json.dumps(out, indent=2))
        return
    table = Table(title=f"{len(rows)} zones", show_lines=False)
    for col in ("zone", "type", "region", "opt-in group", "metro", "carrier"):
        table.add_column(col, no_wrap=col in ("zone", "opt-in group", "type"))
    for z in rows:
        carrier = (z.carrier or "") + (f" ({z.note})" if z.note else "")
        table.add_row(z.name, z.type, z.region, z.group, z.metro, carrier)
    Console(highlight=False, width=None if sys.stdout.isatty() else 140).print(table)


def main() -> None:
    cli(prog_name="edgewise")
