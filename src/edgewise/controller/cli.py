"""``edgewise controller run``: the in-cluster controller (thin; see :mod:`.operator`)."""

from __future__ import annotations

import click

__all__ = ["controller_command"]


@click.group("controller")
def controller_command() -> None:
    """The in-cluster controller for routing 'kubernetes' (edge failover without a mesh)."""


@controller_command.command("run")
@click.option("--namespace", default="edgewise-system", show_default=True,
              help="Namespace of the leader-election Lease.")
@click.option("--lease", default="edgewise-controller", show_default=True,
              help="Lease name for leader election; '' runs without election (one replica only).")
@click.option("--outpost-intra-vpc", is_flag=True,
              help="Outposts reach each other over their local gateways (topology outpostIntraVpc).")
@click.option("--grace", "grace_seconds", type=click.FloatRange(0), default=600.0, show_default=True,
              help="Seconds a zone whose nodes are gone keeps its copies.")
@click.option("--write-workers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="EndpointSlice writes in flight at once (a zone going unready changes one Service per service).")
def run_command(namespace: str, lease: str, outpost_intra_vpc: bool, grace_seconds: float,
                write_workers: int) -> None:
    """Watch nodes, pods, Services and EdgeApplications; keep edge endpoints and copies."""
    try:
        from .operator import run
    except ImportError as exc:  # kopf / kubernetes are the 'controller' extra
        raise click.ClickException(
            f"{exc}; install the controller extra: pip install 'edgewise[controller]'") from None
    run(namespace=namespace, lease=lease or None, outpost_intra_vpc=outpost_intra_vpc,
        grace_seconds=grace_seconds, write_workers=write_workers)
