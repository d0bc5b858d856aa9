"""check's rules on both CPUs: the rules that do not resolve routes run in a forked child
beside the routing rules, and the report is the one every rule run in one process gives.

``check_paths`` forks only where a second CPU can help and no other thread runs (under
pytest-xdist a worker has threads), so these tests ask for it (``fork=True``) and compare
with ``fork=False``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from edgewise import forked
from edgewise.check import engine
from edgewise.check.engine import Report, check_paths, run_rules_forked
from edgewise.check.model import CheckContext, Finding, Rule
from edgewise.cli import cli
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
LZ_SPEC = ROOT / "examples" / "local-zones-hashicups" / "topology.yaml"

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork here")


def everything(report: Report) -> tuple[Any, ...]:
    return (report.findings, report.suppressed, report.notes, report.objects, report.routes_verified,
            report.assumptions, [r.id for r in report.rules])


@pytest.fixture(scope="module")
def lz() -> Topology:
    return build_topology(load_spec(LZ_SPEC))


def inputs() -> list[list[Path]]:
    rules = sorted((DATA / "rules").glob("*/*.yaml"))
    checks = sorted(p for p in (DATA / "check").glob("*.yaml") if p.name != "bad.yaml")
    return [[p] for p in rules] + [[p] for p in checks] + [checks]


def test_the_rules_forked_report_what_they_report_in_one_process(lz: Topology) -> None:
    compared = 0
    for paths in inputs():
        for topology in (None, lz):
            one = check_paths(paths, topology, fork=False)
            both = check_paths(paths, topology, fork=True)
            assert everything(both) == everything(one), paths
            compared += bool(one.findings)
    assert compared > 50


def test_plans_checked_with_the_rules_forked(tmp_path: Path) -> None:
    runner = CliRunner()
    specs = [p for p in sorted((ROOT / "examples").iterdir()) if p.is_dir()]
    for i, spec in enumerate(specs):
        out = tmp_path / f"plan{i}"
        res = runner.invoke(cli, ["plan", str(spec), "-o", str(out), "--simulate", "never", "--quiet"])
        assert res.exit_code in (0, 1), res.output
        one = check_paths([out], None, fork=False)
        both = check_paths([out], None, fork=True)
        assert one.findings and one.routes_verified
        assert everything(both) == everything(one), spec
        picked = check_paths([out], None, select=["EW2", "EW301"], ignore=["EW204"], fork=True)
        assert everything(picked) == everything(check_paths([out], None, select=["EW2", "EW301"], ignore=["EW204"],
                                                            fork=False))


def _pids(rules: Iterable[Rule], monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Each rule also writes the pid of the process it ran in to ``log``."""
    for rule in rules:
        real = type(rule).check

        def check(self: Rule, ctx: CheckContext, real: Any = real) -> Iterable[Finding]:
            with open(log, "a") as f:
                f.write(f"{self.id} {os.getpid()}\n")
            return list(real(self, ctx))

        monkeypatch.setattr(type(rule), "check", check)


def _ran(log: Path) -> list[tuple[str, str]]:
    return [(rule, pid) for rule, pid in (line.split() for line in log.read_text().splitlines())]


def test_the_routing_rules_run_here_and_every_other_rule_once_where_free(
        tmp_path: Path, lz: Topology, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "pids"
    rules = engine.select_rules()
    _pids(rules, monkeypatch, log)
    check_paths([DATA / "rules" / "EW301" / "fail.yaml"], lz, fork=True)
    ran = _ran(log)
    assert sorted(rule for rule, _ in ran) == sorted(r.id for r in rules)  # each rule once
    here = str(os.getpid())
    assert {rule for rule, pid in ran if rule.startswith("EW3")} == {r.id for r in rules if r.id.startswith("EW3")}
    assert all(pid == here for rule, pid in ran if rule.startswith("EW3"))
    # one child at most: on a small input this process may have taken every other rule
    # before the child asked for one (the next test makes both take some)
    assert len({pid for _, pid in ran if pid != here}) <= 1


def test_the_rules_are_shared_out_to_whichever_process_is_free(
        tmp_path: Path, lz: Topology, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slow routing: the child runs every other rule. Slow other rules: this process
    takes its share of them once its routing rules are done."""
    import time

    rules = engine.select_rules()
    here = str(os.getpid())
    fail = [DATA / "rules" / "EW301" / "fail.yaml", DATA / "rules" / "EW204" / "fail.yaml"]
    one = check_paths(fail, lz, fork=False)
    for slow in ("EW3", "EW2"):
        log = tmp_path / f"pids-{slow}"
        log.unlink(missing_ok=True)
        with monkeypatch.context() as m:
            _pids(rules, m, log)
            for rule in rules:
                if rule.id.startswith(slow):
                    logged = type(rule).check

                    def check(self: Rule, ctx: CheckContext, logged: Any = logged) -> Iterable[Finding]:
                        time.sleep(0.5 if self.id.startswith("EW3") else 0.15)
                        return list(logged(self, ctx))

                    m.setattr(type(rule), "check", check)
            both = check_paths(fail, lz, fork=True)
        assert everything(both) == everything(one)
        ran = _ran(log)
        assert sorted(rule for rule, _ in ran) == sorted(r.id for r in rules)
        others_here = [rule for rule, pid in ran if pid == here and not rule.startswith("EW3")]
        if slow == "EW3":  # 7 x 0.5 s here: the child has run all the others long before
            assert others_here == []
        else:  # 0.15 s each for the child alone: this process took some once free
            shared_slow = [r.id for r in rules if r.id.startswith("EW2")]
            assert set(others_here) & set(shared_slow)
            assert {rule for rule, pid in ran if pid != here} & set(shared_slow)


def test_an_exception_in_the_child_is_raised_here(lz: Topology, monkeypatch: pytest.MonkeyPatch) -> None:
    (victim,) = [r for r in engine.select_rules(["EW204"])]

    def broken(self: Rule, ctx: CheckContext) -> Iterable[Finding]:
        raise KeyError("a bug in a rule")

    monkeypatch.setattr(type(victim), "check", broken)
    for fork in (False, True):
        with pytest.raises(KeyError, match="a bug in a rule"):
            check_paths([DATA / "rules" / "EW204" / "fail.yaml"], lz, fork=fork)


def test_when_to_fork(monkeypatch: pytest.MonkeyPatch, lz: Topology) -> None:
    """Not with other threads running (a forked child has a copy of one thread), not
    where a second CPU cannot help, not when no rule is left to share out."""
    started: list[bool] = []
    real_start = forked.start

    def start(fn: Any, *, fork: bool | None = None) -> Any:
        started.append(bool(fork))
        return real_start(fn, fork=fork)

    monkeypatch.setattr(forked, "start", start)
    ctx_report = check_paths([DATA / "rules" / "EW301" / "fail.yaml"], lz, fork=False)
    assert not started and ctx_report.findings
    monkeypatch.setattr(engine.threading, "active_count", lambda: 2)
    monkeypatch.setattr(forked, "can_fork", lambda: True)
    check_paths([DATA / "rules" / "EW301" / "fail.yaml"], lz)
    assert not started
    monkeypatch.setattr(engine.threading, "active_count", lambda: 1)
    check_paths([DATA / "rules" / "EW301" / "fail.yaml"], lz)
    assert started == [True]
    monkeypatch.setattr(forked, "can_fork", lambda: False)
    check_paths([DATA / "rules" / "EW301" / "fail.yaml"], lz)
    assert started == [True]
    check_paths([DATA / "rules" / "EW301" / "fail.yaml"], lz, select=["EW3"], fork=True)  # nothing for a child to run
    assert started == [True]


def test_run_rules_forked_is_run_rules(lz: Topology) -> None:
    """The function itself, on a context with findings on both sides."""
    from edgewise.check.inputs import load_paths
    from edgewise.k8s.inventory import Inventory

    loaded = load_paths([DATA / "rules" / "EW301" / "fail.yaml", DATA / "rules" / "EW204" / "fail.yaml"])
    ctx = CheckContext(inventory=Inventory.from_objects(loaded.objects, lz), topology=lz,
                       documents=loaded.documents)
    rules = engine.select_rules()
    one = engine.run_rules(ctx, rules)
    assert {f.rule[:3] for f in one[0]} >= {"EW3", "EW2"}
    assert run_rules_forked(ctx, rules, fork=True) == one
