"""``edgewise check``: the click command (registered by the top-level CLI)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import InputError
from .engine import check_paths
from .model import Severity
from .output import render

__all__ = ["check_command"]


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@click.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--topology",
    "topology_spec",
    type=click.Path(path_type=Path),
    multiple=True,
    help="Spec file(s) with the Topology; default: a Topology document among PATHS, "
    "else zones named in the manifests looked up in the catalog.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option(
    "--fail-on",
    type=click.Choice([s.value for s in Severity]),
    default="error",
    show_default=True,
    help="Exit 1 when a finding reaches this severity.",
)
@click.option("--select", multiple=True, help="Only these rule ids or prefixes (EW3, EW301,...).")
@click.option("--ignore", multiple=True, help="Skip these rule ids or prefixes.")
@click.option(
    "--untainted-edge",
    is_flag=True,
    help="Edge nodes do not carry edgewise's edge taint, whatever the inputs suggest "
    "(taints a topology node group or an eksctl config declares still apply). Default: "
    "decided from the inputs, and stated in the output.",
)
@click.option(
    "--consul-edition",
    type=click.Choice(["ce", "enterprise"]),
    default=None,
    help="Consul edition, when no Helm values are among PATHS.",
)
@click.option("-v", "--verbose", is_flag=True, help="Also print notes and suppressed findings.")
def check_command(
    paths: tuple[Path, ...],
    topology_spec: tuple[Path, ...],
    fmt: str,
    fail_on: str,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    untainted_edge: bool,
    consul_edition: str | None,
    verbose: bool,
) -> None:
    """Check manifests, eksctl configs and CloudFormation against the edge rules.

    Exit 0 when nothing reaches --fail-on, 1 when something does, 2 on bad input.
    """
    try:
        topology = None
        if topology_spec:
            from ..spec import load_spec
            from ..topology import build_topology

            topology = build_topology(load_spec(list(topology_spec)))
        report = check_paths(
            list(paths),
            topology,
            select=_split(select),
            ignore=_split(ignore),
            edge_taints=False if untainted_edge else None,
            consul_edition=consul_edition,
        )
    except InputError as exc:
        click.echo(exc.report(), err=True)
        sys.exit(2)
    click.echo(render(report, fmt, verbose=verbose), nl=False)
    sys.exit(report.exit_code(fail_on))
