"""``edgewise discover`` and ``edgewise apply`` (thin: the work is in this package)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

__all__ = ["apply_command", "discover_command"]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


@click.command()
@click.option("--region", required=True, help="Parent Region to read.")
@click.option("--profile", help="Named profile of the standard AWS configuration.")
@click.option("--vpc-id", help="Also read this VPC's subnets, route tables, carrier gateway and endpoints.")
@click.option("--name", default="discovered", show_default=True, help="metadata.name of the spec.")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path, dir_okay=False),
              help="Write here instead of stdout (replaced atomically).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="yaml: an editable Topology spec with comments; json: everything discovered.")
def discover_command(region: str, profile: str | None, vpc_id: str | None, name: str, out: Path | None,
                     fmt: str) -> None:
    """Read the account's zones, opt-in status, instance types per zone, Outposts (and a VPC)
    in REGION, and write a topology spec to edit. Exit 0, or 2 on bad input / AWS errors."""
    from .discover import discover
    from .session import Aws
    from .specgen import discovery_spec

    d = discover(Aws(region, profile), vpc_id)
    text = json.dumps(d.to_json(), indent=2) + "\n" if fmt == "json" else discovery_spec(d, name)
    if out is None:
        click.echo(text, nl=False)
    else:
        _write_atomic(out, text)
        click.echo(f"wrote {out}: {len(d.zones)} zones, {len(d.outposts)} Outposts", err=True)


@click.command()
@click.argument("plan_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--dry-run", is_flag=True, help="Print every action; change nothing.")
@click.option("--yes", is_flag=True, help="Execute change sets without asking.")
@click.option("--profile", help="Named profile of the standard AWS configuration.")
@click.option("--s3-bucket", help="S3 bucket (in the plan's Region) for CloudFormation templates over 51,200 bytes; "
              "needed when the plan has one (the RUNBOOK's $CFN_BUCKET).")
@click.option("--hosted-zone-id", envvar="HOSTED_ZONE_ID", show_envvar=True,
              help="Route 53 hosted zone for the DNS records over the applications' load balancers; needed "
              "when the plan has them (the RUNBOOK's $HOSTED_ZONE_ID).")
@click.option("--poll-interval", type=click.FloatRange(0.01, 300), default=5.0, show_default=True, hidden=True)
def apply_command(plan_dir: Path, dry_run: bool, yes: bool, profile: str | None, s3_bucket: str | None,
                  hosted_zone_id: str | None, poll_interval: float) -> None:
    """Carry out PLAN_DIR's RUNBOOK: zone-group opt-in, CloudFormation change sets, eksctl,
    helm and kubectl, then verify. A rerun continues where a failed run stopped.

    Exit 0 applied, 1 a step failed (what ran is reported), 2 bad input / AWS errors."""
    from .apply import ApplyFailed, ShellRunner, apply_plan, load_runbook
    from .session import Aws

    def log(msg: str) -> None:
        click.echo(msg, err=True)

    def confirm(question: str) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty() and not os.environ.get("EDGEWISE_ASSUME_TTY"):
            log(f"{question} not confirmed: stdin is not a terminal (pass --yes)")
            return False
        return click.confirm(question, default=False, err=True)

    rb = load_runbook(plan_dir)
    aws = None if dry_run else Aws(rb.region, profile)
    if aws is not None:
        aws.check_credentials()
    try:
        result = apply_plan(plan_dir, aws, ShellRunner(), dry_run=dry_run, confirm=confirm, log=log,
                            poll=poll_interval, s3_bucket=s3_bucket,
                            hosted_zone_id=hosted_zone_id)
    except ApplyFailed as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if not dry_run:
        log(f"applied: {len(result.done)} steps run, {len(result.skipped)} already done")
