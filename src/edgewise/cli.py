"""The command line: thin wrappers that call the layers and print their results.

Exit codes: 0 success / clean, 1 findings at or above --fail-on, 2 usage or input error.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from . import _codecache

# before the modules that make dataclasses and forward references (click, this module's
# own imports): their code is read from the last run's cache, not compiled (_codecache.py)
_codecache.install()

import click  # noqa: E402

from . import __version__, forked, gcpause  # noqa: E402
from .errors import InputError  # noqa: E402

if TYPE_CHECKING:  # rich is imported where it draws: plain lines never need it
    from rich.console import Console

__all__ = ["main"]

EXIT_INPUT = 2

#: environment variables with which rich treats a stream as a terminal although it is not
_RICH_TERMINAL_ENV = ("FORCE_COLOR", "TTY_INTERACTIVE", "TTY_COMPATIBLE")


class _Out(Protocol):
    """Where a command prints: a rich ``Console`` or, for a stream that is no terminal,
    :class:`_Lines`."""

    @property
    def is_terminal(self) -> bool: ...

    def print(self, *objects: Any, markup: bool | None = None) -> None: ...


class _Lines:
    """Plain lines for a stream that is no terminal (a pipe, a file, a CI log): text
    printed without markup goes out through ``click.echo``, and rich (~20 ms to import)
    is loaded only to draw something else, a table. Rich prints the same lines there (no
    colour, and no wrapping with ``soft_wrap``), except that it also turns ``:name:``
    into an emoji, which a path may contain."""

    is_terminal = False

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self._kwargs = kwargs
        self._err = bool(kwargs.get("stderr"))

    def print(self, *objects: Any, markup: bool | None = None) -> None:
        if markup is False and all(isinstance(o, str) for o in objects):
            click.echo(" ".join(objects), err=self._err)
        else:
            _rich_console(self._kwargs).print(*objects, markup=markup)


def _rich_console(kwargs: dict[str, Any]) -> Console:
    from rich.console import Console

    return Console(**kwargs)


def _console(**kwargs: Any) -> _Out:
    stream = sys.stderr if kwargs.get("stderr") else sys.stdout
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # replaced by something without isatty, or closed
        terminal = False
    if terminal or any(v in os.environ for v in _RICH_TERMINAL_ENV):
        return _rich_console(kwargs)
    return _Lines(kwargs)


def _err_console() -> _Out:
    return _console(stderr=True, highlight=False, soft_wrap=True)


def _fail(exc: InputError) -> None:
    click.echo(exc.report(), err=True)
    sys.exit(EXIT_INPUT)


def _importing(module: str) -> contextlib.AbstractContextManager[None]:
    """Around the first import of a command's ``module``: the cyclic collector paused,
    then what exists frozen (:func:`edgewise.gcpause.paused`). Imports build tens of
    thousands of classes, functions and dicts that live as long as the process, and
    collections during them free nothing. Once imported (a program calling the CLI
    again), nothing is paused or frozen: its own garbage must stay collectable."""
    return contextlib.nullcontext() if module in sys.modules else gcpause.paused(freeze=True)


#: commands defined in their own layers, imported only when run (or listed by --help):
#: `edgewise plan` does not pay for the check, verify, AWS and controller CLIs
_LAZY_COMMANDS = {
    "apply": ("aws.cli", "apply_command"),
    "check": ("check.cli", "check_command"),
    "controller": ("controller.cli", "controller_command"),
    "discover": ("aws.cli", "discover_command"),
    "simulate": ("simulate.cli", "simulate_command"),
    "verify": ("verify.cli", "verify_command"),
}


class _Group(click.Group):
    """Turn InputError anywhere below into the documented exit code 2; load the
    commands of other layers when they are asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = _LAZY_COMMANDS.get(cmd_name)
        if lazy is None:
            return super().get_command(ctx, cmd_name)
        import importlib

        with _importing(f"{__package__}.{lazy[0]}"):
            command = getattr(importlib.import_module(f".{lazy[0]}", __package__), lazy[1])
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            _fail(exc)
        except OSError as exc:
            # the environment refused something no layer turned into an input error
            # (a closed pipe, a vanished file): still the documented exit code, no traceback
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"{where}error: {exc.strerror or exc}", err=True)
            sys.exit(EXIT_INPUT)
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
@click.option("--aws", "against_aws", is_flag=True,
              help="Also check against the AWS account: zone-group opt-in, instance types offered per zone "
                   "and Outpost, subnet ids, existing carrier gateway and endpoints.")
@click.option("--profile", help="Named AWS profile (with --aws).")
def validate(spec: tuple[Path, ...], against_aws: bool, profile: str | None) -> None:
    """Load and validate SPEC (files or directories); list every problem. Exit 0/2."""
    from .spec import load_spec
    from .topology import build_topology

    loaded = load_spec(list(spec))
    topo = build_topology(loaded)
    if against_aws:
        from .aws.session import Aws
        from .aws.validate import account_problems

        problems = account_problems(loaded, topo, Aws(topo.region, profile))
        if problems:
            raise InputError(problems)
    console = _console(highlight=False, soft_wrap=True)
    apps = ", ".join(a.metadata.name for a, _ in loaded.applications) or "none"
    kinds: dict[str, int] = {}
    for z in topo.zones:
        kinds[z.kind.value] = kinds.get(z.kind.value, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    console.print(f"valid: topology {topo.name!r} in {topo.region} ({summary}); applications: {apps}"
                  + ("; matches the AWS account" if against_aws else ""), markup=False)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the spec (Topology and Application documents)."""
    import json

    from .spec.schema import spec_json_schema

    click.echo(json.dumps(spec_json_schema(), indent=2, sort_keys=True))


@cli.command()
@click.option("--region", help="Only zones of this Region.")
@click.option("--type", "type_", type=click.Choice(["availability-zone", "local", "wavelength", "outpost"]),
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
    if type_ == "outpost":
        # Outposts are racks a customer owns: no public list exists, so none is built in
        click.echo("Outposts are not in the catalog: declare each one in the spec with type: outpost, "
                   "outpostArn and parentZone (list yours with `aws outposts list-outposts`).", err=True)
    rows = sorted(cat.select(region, type_), key=lambda z: (z.region, z.type != "availability-zone", z.type, z.name))
    if fmt == "json":
        out = [
            {"name": z.name, "type": z.type, "region": z.region, "group": z.group,
             "networkBorderGroup": z.network_border_group, "metro": z.metro,
             "location": {"lat": z.lat, "lon": z.lon}, "carrier": z.carrier, "note": z.note}
            for z in rows
        ]
        import json

        click.echo(json.dumps(out, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} zones", show_lines=False)
    for col in ("zone", "type", "region", "opt-in group", "metro", "carrier"):
        table.add_column(col, no_wrap=col in ("zone", "opt-in group", "type"))
    for z in rows:
        carrier = (z.carrier or "") + (f" ({z.note})" if z.note else "")
        table.add_row(z.name, z.type, z.region, z.group, z.metro, carrier)
    _console(highlight=False, width=None if sys.stdout.isatty() else 140).print(table)


@cli.command()
@SPEC_ARG
@click.option("-o", "--output", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Directory to write (replaced atomically: all or nothing).")
@click.option("--requests", type=click.IntRange(1, 100000), default=500, show_default=True,
              help="Simulated requests per user zone and scenario for the report.")
@click.option("--seed", type=int, default=0, show_default=True, help="Simulation seed.")
@click.option("--simulate", "sim", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True,
              help="Simulate routing strategies for the report (auto: topologies of at most 40 zones).")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
def plan(spec: tuple[Path, ...], out: Path, requests: int, seed: int, sim: str, quiet: bool) -> None:
    """Compile SPEC into a deployment in OUTPUT: eksctl config, CloudFormation, add-ons,
    per-zone apps and mesh routing, RUNBOOK.md and a report; check it; write atomically.

    Exit 0 when written, 1 when check found errors in the generated plan (nothing
    written), 2 on bad input."""
    with _importing(f"{__package__}.workflow"):
        from .workflow import PlanRefused, run_plan

    err = None if quiet else _err_console()
    status = None
    if err is not None and err.is_terminal:
        from rich.console import Console

        assert isinstance(err, Console)
        status = err.status("planning", spinner="dots")

    def progress(msg: str) -> None:
        if status is not None:
            status.update(msg)
        elif err is not None:
            err.print(f"- {msg}", markup=False)

    try:
        if status is not None:
            status.start()
        result = run_plan(list(spec), out, progress=progress, simulate_requests=requests, seed=seed,
                          with_simulation={"auto": None, "always": True, "never": False}[sim])
    except PlanRefused as exc:
        if status is not None:
            status.stop()
        err = err or _err_console()
        for f in exc.result.findings:
            if f.severity.value == "error":
                err.print(f"{f.file}:{f.line}: {f.rule} {f.name}: {f.object}: {f.message}", markup=False)
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    finally:
        if status is not None:
            status.stop()
    gcpause.keep(result)  # the program ends soon: its exit drops the plan (gcpause.keep)
    if quiet:
        return
    _print_plan_summary(_console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160),
                        result, out)


#: above this many zones the plan summary is compact (the full tables are in report.md)
SUMMARY_MAX_ZONES = 20


def _print_plan_summary(console: _Out, result: object, out: Path) -> None:
    from .workflow import PlanResult

    assert isinstance(result, PlanResult)
    topo = result.topology
    title = (f"plan {topo.name!r}: {topo.region}, Kubernetes {topo.kubernetes_version}, "
             f"{topo.endpoint_access.value} endpoint")
    compact = len(topo.zones) > SUMMARY_MAX_ZONES
    if compact:
        kinds: dict[str, int] = {}
        for z in topo.zones:
            kinds[z.kind.value] = kinds.get(z.kind.value, 0) + 1
        groups = sum(1 for z in topo.zones if z.node_group is not None)
        console.print(f"{title}: {len(topo.zones)} zones ("
                      + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + f"), {groups} node groups",
                      markup=False)
    else:
        from rich.table import Table

        table = Table(title=title)
        for col in ("zone", "type", "subnet", "node group"):
            table.add_column(col, no_wrap=True)
        for z in topo.zones:
            ng = z.node_group
            nodes = "" if ng is None else (
                f"{ng.instance_type} x {ng.desired} ({ng.min_size}-{ng.max_size}), {z.volume_type}")
            table.add_row(z.name, z.kind.value, z.subnet_id or z.subnet_cidr or "", nodes)
        console.print(table)
    per_ns = result.objects_per_namespace()
    if per_ns and compact:
        # counted by the plan's directories, one per site: apps/<app>/<dir>/ (the site's
        # namespace, except with routing istio, whose sites share the namespace <app>)
        console.print(f"objects: {sum(per_ns.values())} in {len(per_ns)} site directories "
                      f"({min(per_ns.values())}-{max(per_ns.values())} each)", markup=False)
    elif per_ns:
        console.print("objects per site directory: " + ", ".join(f"{ns} {n}" for ns, n in per_ns.items()),
                      markup=False)
    for ap in result.app_plans:
        console.print(f"application {ap.app} ({ap.routing}):", markup=False)
        for site in ap.sites[: 3 if compact else None]:
            svcs = ", ".join(f"{c.service}x{c.replicas}" for c in site.services)
            console.print(f"  {site.site} [{site.namespace}]: {svcs}", markup=False)
            for c in site.calls:
                target = f"{c.target}.{c.target_namespace}" if c.target else "UNRESOLVED"
                fo = f", failover {c.failover}.{c.failover_namespace}" if c.failover else ", no failover"
                console.print(f"    {c.caller} -> {c.callee}: {target}{fo} ({c.mechanism})", markup=False)
        if compact and len(ap.sites) > 3:
            console.print(f"  ... and {len(ap.sites) - 3} more sites (see report.md)", markup=False)
        for note in ap.notes:
            console.print(f"  note: {note}", markup=False)
    counts = {s: sum(1 for f in result.findings if f.severity.value == s) for s in ("error", "warning", "info")}
    console.print(f"check: {counts['error']} errors, {counts['warning']} warnings, {counts['info']} notices; "
                  f"{result.routes_verified} routes verified", markup=False)
    if result.simulation is None and len(topo.zones) > 40 and result.app_plans:
        console.print("simulation: skipped for a topology this large (run `edgewise simulate`)", markup=False)
    if result.simulation is not None:
        from .simulate import headline  # rich: only where there is a simulation to sum up

        console.print("simulation (steady state and worst single failure):", markup=False)
        for line in headline(result.simulation).splitlines():
            console.print(f"  {line}", markup=False)
    console.print(f"wrote {len(result.files)} files to {out} (see {out}/RUNBOOK.md and {out}/report.md)",
                  markup=False)


#: commands that do bounded work, after which the program ends: the cyclic collector stays
#: off for them (:func:`edgewise.gcpause.hold`; their data is dropped by exiting), and a
#: forked child that has sent its result is waited for at the exit
#: (:func:`edgewise.forked.reap_at_exit`). The others keep both: the controller runs for
#: as long as the cluster does.
_HOLD_COLLECTOR = frozenset({"plan", "check"})


#: pydantic looks for its plugins (the ``pydantic`` entry-point group) when it first builds
#: a model's validator, as loading a spec does: it imports importlib.metadata and reads
#: every installed distribution's entry points (~4 ms of a 50 x 20 plan; importing it is
#: ~10 ms more, :func:`_no_plugin_loader`). The program validates only its own spec
#: models, which no plugin is for, so it turns the search off
#: with pydantic's own switch (the PYDANTIC_DISABLE_PLUGINS environment variable,
#: pydantic/pydantic#8767; read in pydantic/plugin/_loader.py get_plugins). A value the
#: user sets is kept: an empty one loads every plugin again.
_PYDANTIC_PLUGINS = ("PYDANTIC_DISABLE_PLUGINS", "__all__")
#: the values of PYDANTIC_DISABLE_PLUGINS that turn every plugin off (get_plugins then
#: returns no plugins without looking: pydantic/plugin/_loader.py)
_ALL_PLUGINS_OFF = ("__all__", "1", "true")


def _no_plugin_loader() -> None:
    """With every pydantic plugin turned off, stand in for pydantic's plugin loader
    (``pydantic.plugin._loader``) with a module whose ``get_plugins`` returns no plugins,
    as the real one does for those values. The real module imports
    ``importlib.metadata`` (email, zipfile, csv, ...) before it can say so: ~10 ms on
    the way to loading every spec, for entry points it would not read. pydantic asks
    its loader for nothing else (``create_schema_validator`` in
    pydantic/plugin/_schema_validator.py, 2.7 to 2.14: ``from ._loader import
    get_plugins``); ``tests/test_cli_exit.py`` holds the stand-in to the real loader."""
    name = "pydantic.plugin._loader"
    if os.environ.get(_PYDANTIC_PLUGINS[0]) not in _ALL_PLUGINS_OFF or name in sys.modules:
        return
    import types

    loader = types.ModuleType(name, "edgewise: pydantic's plugin loader with every plugin off")

    def get_plugins() -> tuple[()]:
        return ()

    loader.get_plugins = get_plugins  # type: ignore[attr-defined]
    sys.modules[name] = loader


def main() -> None:
    """The ``edgewise`` program."""
    os.environ.setdefault(*_PYDANTIC_PLUGINS)
    _no_plugin_loader()
    # the group has no options of its own but --version and --help: the first argument
    # is the command
    if sys.argv[1:2] and sys.argv[1] in _HOLD_COLLECTOR:
        gcpause.hold()
        forked.reap_at_exit()
    # the whole command runs in one chunk of the interpreter's frame stack (_framestack.py)
    from ._framestack import run

    try:
        run(lambda: cli(prog_name="edgewise"))
    except SystemExit as exc:
        if isinstance(exc.code, int):  # click always ends this way; a str or None: as Python does
            _leave(exc.code)
        raise


def _leave(code: int) -> NoReturn:
    """End the program with ``code`` as the interpreter's own exit would, less the
    teardown: the ``atexit`` handlers run and the standard streams are flushed, then the
    process exits without deallocating what it built. A plan holds hundreds of thousands
    of objects until the end, and freeing them one by one, then every module, took
    ~25 ms of a 50 x 20 plan (measured: 37 ms from the command's end to the process's
    end, 12 ms with this). Where another thread still runs, or a stream cannot be
    flushed (a closed pipe), the interpreter's exit does it all, as before: it joins
    the threads and reports the stream (exit code 120)."""
    import atexit
    import threading

    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()  # then cleared: the fallback below does not run them twice
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)
