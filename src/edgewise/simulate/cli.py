"""``edgewise simulate SPEC``: the click command (registered by the top-level CLI)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import InputError

__all__ = ["simulate_command"]

EXIT_INPUT = 2


def _fail(exc: InputError) -> None:
    click.echo(exc.report(), err=True)
    sys.exit(EXIT_INPUT)


@click.command("simulate")
@click.argument("spec", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--fail",
    "fail",
    multiple=True,
    metavar="ZONE|ZONE/SERVICE",
    help="Add a scenario where these fail together (a zone lost, or one service's copy in a zone down). Repeatable.",
)
@click.option(
    "--requests",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Requests sampled per user zone, strategy and scenario.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (output is deterministic).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a plot (.svg or .png).",
)
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    help="Only these strategies (flat, prefer-close, namespace-per-zone, edgewise). Repeatable.",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    help="Only these scenarios (steady, copy-down:ZONE/SERVICE, zone-lost:ZONE, az-lost:AZ). Repeatable.",
)
@click.option("--app", "application", help="The Application to simulate (default: the spec's first).")
def simulate_command(
    spec: tuple[Path, ...],
    fail: tuple[str, ...],
    requests: int,
    seed: int,
    fmt: str,
    plot_path: Path | None,
    strategies: tuple[str, ...],
    scenarios: tuple[str, ...],
    application: str | None,
) -> None:
    """Compare routing strategies on SPEC's topology under failures.

    \b
    Strategies (same copies, different routing):
      flat                one namespace, one Service over every copy (kube-proxy)
      prefer-close        trafficDistribution: PreferClose (falls back cluster-wide)
      namespace-per-zone  a namespace per zone, short names (shared services not found)
      edgewise            what `edgewise plan` generates for the routing backend

    \b
    Scenarios: steady; copy-down:ZONE/SERVICE for every copy; zone-lost:ZONE for every
    edge zone; az-lost:AZ for every Region AZ; and fail:A+B for the --fail values.

    Users of each zone enter through their zone's ingress (edgewise: Route 53 moves them
    to the next-best healthy ingress when it is down; Wavelength ingresses serve 5G users
    only). Each request follows the Application's call graph; every call is routed by
    the same route resolver `check` uses and fails if it lands on an endpoint the
    caller's zone cannot reach or resolves to nothing.

    Reported per strategy, scenario and user zone: success rate and the share of calls
    sent to unreachable endpoints (fractions in [0, 1]); p50/p95/p99 end-to-end latency
    in ms over SUCCESSFUL requests only (failed requests are excluded; null when none
    succeeded); optimum_ratio, mean latency over that of the best reachable healthy
    copies (1.00 = perfect routing); physical_ratio, the same against fibre at the speed
    of light with no overhead (null when that limit is 0 ms, all in one metro).
    """
    from ..spec import load_spec
    from ..topology import build_topology
    from .api import simulate
    from .plot import plot
    from .render import render

    try:
        loaded = load_spec(list(spec))
        topo = build_topology(loaded)
        result = simulate(
            loaded,
            topo,
            fail=list(fail),
            requests=requests,
            seed=seed,
            strategies=list(strategies) or None,
            scenarios=list(scenarios) or None,
            application=application,
        )
        if plot_path is not None:
            try:
                plot(result, plot_path)
            except ImportError as exc:
                raise InputError.single("--plot", str(exc), hint="install matplotlib, or drop --plot") from None
    except InputError as exc:
        _fail(exc)
        return
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    from rich.console import Console

    render(result, Console(highlight=False, width=None if sys.stdout.isatty() else 160))
    if plot_path is not None:
        click.echo(f"plot written to {plot_path}")
