"""``edgewise verify``: the click command (registered by the top-level CLI)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..lab.control_plane import LabError
from .run import lab_error_problem, verify_plan

__all__ = ["verify_command"]


@click.command("verify")
@click.argument("plan_dir", type=click.Path(path_type=Path))
@click.option("--topology", "topology_spec", type=click.Path(path_type=Path), multiple=True,
              help="The spec to verify against. Default: the spec the plan was made from "
                   "(PLAN_DIR/spec/, written by `edgewise plan`); if both exist and differ, verify says so.")
@click.option("--kubeconfig", type=click.Path(path_type=Path), default=None,
              help="Check against your own cluster instead of the lab: server-side dry run, nothing is created.")
@click.option("--crds", type=click.Path(path_type=Path), multiple=True,
              help="Upstream CRD files or directories (Consul, Istio) to install in the lab first.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--timeout", type=float, default=180.0, show_default=True,
              help="Seconds to wait for the lab, the scheduler and the controllers.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def verify_command(
    plan_dir: Path,
    topology_spec: tuple[Path, ...],
    kubeconfig: Path | None,
    crds: tuple[Path, ...],
    fmt: str,
    timeout: float,
    quiet: bool,
) -> None:
    """Deploy PLAN_DIR (written by `edgewise plan`) onto a real Kubernetes control plane
    on loopback and report rejected objects, Pending pods (with the scheduler's reason),
    pods outside the zone the plan meant, CoreDNS placement and each Service's endpoint
    zones against the route resolver's. Exit 0 as planned, 1 with findings, 2 bad input."""

    def progress(msg: str) -> None:
        if not quiet:
            click.echo(f"verify: {msg}", err=True)

    try:
        report = verify_plan(plan_dir, list(topology_spec), kubeconfig=kubeconfig, crds=list(crds),
                             progress=progress, timeout=timeout)
    except LabError as exc:
        raise lab_error_problem(exc) from None
    except KeyboardInterrupt:  # the lab has been stopped on the way out
        click.echo("verify: interrupted; the lab is stopped", err=True)
        sys.exit(130)
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(report.render_text(), nl=False)
    sys.exit(1 if report.findings else 0)
