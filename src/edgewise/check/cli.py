"""``edgewise check``: the click command (registered by the top-level CLI)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import InputError
from .finding import FORMATS, Severity

# The rules, the inventory, the route resolver and the spec models (~85 ms to import)
# are imported in the command, while the files to check are parsed ahead
# (edgewise.yamlread.warming): the parse is what reading a large tree waits for.

__all__ = ["check_command"]


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@click.command("check")
@click.argument("paths", nargs=-1, required=False, type=click.Path(path_type=Path))
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Check the live cluster this kubeconfig points at (read with kubectl): real nodes, "
    "pod bindings, EndpointSlices and mesh resources. PATHS, if any, are read as well.",
)
@click.option("--context", "kube_context", default=None, help="kubeconfig context (default: the current one).")
@click.option(
    "--topology",
    "topology_spec",
    type=click.Path(path_type=Path),
    multiple=True,
    help="Spec file(s) with the Topology; default: a Topology document among PATHS, "
    "else zones named in the manifests looked up in the catalog.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default="text",
    show_default=True,
    help="github: workflow annotations; junit: JUnit XML; sarif: for code scanning.",
)
@click.option(
    "--fail-on",
    type=click.Choice([s.value for s in Severity]),
    default=None,
    help="Exit 1 when a finding reaches this severity (default: error, or the config's fail-on).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Settings file (default: .edgewise.yaml in this directory or a parent, up to the repository root).",
)
@click.option("--no-config", is_flag=True, help="Ignore any .edgewise.yaml.")
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
@click.option(
    "--helm-values",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    multiple=True,
    help="Values file for the Helm charts among PATHS (directories with Chart.yaml, rendered with "
    "`helm template`); repeatable, later files win.",
)
@click.option("--helm-set", multiple=True, metavar="KEY=VALUE", help="A value for those charts, as `helm --set`.")
@click.option("-v", "--verbose", is_flag=True, help="Also print notes and suppressed findings.")
def check_command(
    paths: tuple[Path, ...],
    kubeconfig: Path | None,
    kube_context: str | None,
    topology_spec: tuple[Path, ...],
    fmt: str,
    fail_on: str | None,
    config_path: Path | None,
    no_config: bool,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    untainted_edge: bool,
    consul_edition: str | None,
    helm_values: tuple[Path, ...],
    helm_set: tuple[str, ...],
    verbose: bool,
) -> None:
    """Check manifests, eksctl configs and CloudFormation against the edge rules.

    Exit 0 when nothing reaches --fail-on, 1 when something does, 2 on bad input.
    """
    from ..yamlread import warming

    with warming(paths):  # the files are parsed while the rules are imported
        from .config import CheckConfig, discover_config, load_config
        from .engine import check_cluster, check_paths
        from .inputs import HelmOptions
        from .output import render

        try:
            config = CheckConfig()
            if config_path is not None and not no_config:
                if not config_path.is_file():
                    raise InputError.single(str(config_path), "no such file", hint="pass an existing .edgewise.yaml")
                config = load_config(config_path)
            elif not no_config:
                found = discover_config(Path.cwd())
                if found is not None:
                    config = load_config(found)
            topology = None
            if topology_spec:
                from ..spec import load_spec
                from ..topology import build_topology

                topology = build_topology(load_spec(list(topology_spec)))
            untainted = untainted_edge or bool(config.untainted_edge)
            # the settings file's Helm values first, the command line's after them (later wins)
            helm = HelmOptions(values=(*config.helm_values, *helm_values), set_values=(*config.helm_set, *helm_set))
            if kubeconfig is not None:
                report = check_cluster(
                    kubeconfig,
                    kube_context,
                    topology,
                    list(paths),
                    select=_split(select) or list(config.select),
                    ignore=[*config.ignore, *_split(ignore)],
                    consul_edition=consul_edition or config.consul_edition,
                    helm=helm,
                )
            elif not paths:
                raise InputError.single("edgewise check", "nothing to check", hint="pass PATH... or --kubeconfig FILE")
            else:
                report = check_paths(
                    list(paths),
                    topology,
                    select=_split(select) or list(config.select),
                    ignore=[*config.ignore, *_split(ignore)],
                    edge_taints=False if untainted else None,
                    consul_edition=consul_edition or config.consul_edition,
                    helm=helm,
                )
        except InputError as exc:
            click.echo(exc.report(), err=True)
            sys.exit(2)
        report.findings = config.apply(report.findings)
        report.suppressed = [(f, r) for f, r in report.suppressed if not config.excluded(f.file)]
        if config.file:
            report.notes.insert(0, f"settings read from {config.file}")
        click.echo(render(report, fmt, verbose=verbose), nl=False)
        sys.exit(report.exit_code(fail_on or (config.fail_on.value if config.fail_on else "error")))
