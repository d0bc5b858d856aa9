"""plan checks its objects in a forked child beside rendering and writing; where it cannot
fork (or is told not to) it checks in its own process. Both paths must give the same
bytes, the same findings in the same order, the same report and the same exit codes;
errors in the child are raised in the parent; no child is left behind."""

from __future__ import annotations

import os
import pickle
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from conftest import EXAMPLES_DIR
from edgewise import check as check_pkg
from edgewise import forked, workflow
from edgewise.check import Finding, Report, Severity
from edgewise.cli import cli
from edgewise.errors import InputError
from edgewise.plan import apps as plan_apps_pkg
from edgewise.plan import cluster as plan_cluster_pkg
from edgewise.workflow import PlanRefused, PlanResult, run_plan

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the benchmark's spec generator
from benchmarks.generate import spec_documents  # noqa: E402

BACKENDS = ("consul-enterprise", "consul", "istio", "kubernetes")
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def bench_spec(tmp_path: Path, zones: int, services: int, routing: str) -> Path:
    docs = spec_documents(zones, services)
    docs[1]["spec"]["routing"] = routing
    path = tmp_path / f"bench-{zones}x{services}-{routing}.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[forked.Call[Any]]]:
    """Every forked.Call plan starts, to see whether it forked and that its child is gone."""
    made: list[forked.Call[Any]] = []

    def recording(real: Any) -> Any:
        def start(fn: Any, *, fork: bool | None = None) -> forked.Call[Any]:
            call: forked.Call[Any] = real(fn, fork=fork)
            made.append(call)
            return call
        return start

    monkeypatch.setattr(forked, "start", recording(forked.start))
    monkeypatch.setattr(forked, "start_fed", recording(forked.start_fed))
    yield made
    for call in made:
        if call.pid is not None:
            with pytest.raises(ChildProcessError):  # reaped: not even a zombie is left
                os.waitpid(call.pid, os.WNOHANG)


def both(spec: list[Path], tmp_path: Path, children: list[forked.Call[Any]],
         **kwargs: Any) -> tuple[PlanResult, PlanResult, Path, Path]:
    outs = tmp_path / "forked", tmp_path / "serial"
    forked_result = run_plan(spec, outs[0], fork=True, **kwargs)
    assert children[-1].forked, "fork=True must check in a child"
    serial_result = run_plan(spec, outs[1], fork=False, **kwargs)
    assert not children[-1].forked, "fork=False must check in this process"
    return forked_result, serial_result, *outs


def same(a: PlanResult, b: PlanResult) -> None:
    assert a.files == b.files
    assert a.findings == b.findings  # same findings, same lines, same order
    assert a.routes_verified == b.routes_verified
    assert a.error_count == b.error_count


@needs_fork
@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES_DIR.iterdir() if p.is_dir()))
def test_forked_and_serial_check_write_the_same_plan(example: str, tmp_path: Path,
                                                     children: list[forked.Call[Any]]) -> None:
    a, b, out_a, out_b = both([EXAMPLES_DIR / example], tmp_path, children)
    same(a, b)
    assert a.findings, "the examples have notices: the comparison must cover findings and their lines"
    assert tree(out_a) == tree(out_b)


@needs_fork
@pytest.mark.parametrize("routing", BACKENDS)
def test_forked_and_serial_check_agree_for_every_backend(routing: str, tmp_path: Path,
                                                         children: list[forked.Call[Any]]) -> None:
    spec = bench_spec(tmp_path, 8, 6, routing)
    a, b, out_a, out_b = both([spec], tmp_path, children, with_simulation=False)
    same(a, b)
    assert tree(out_a) == tree(out_b)
    # findings in the apps' files point at the line of their object's first key
    for f in a.findings:
        if f.file.startswith("apps/") and not f.file.endswith(".cfn.yaml"):
            text = a.files[f.file].splitlines()
            assert text[f.line - 2] == "---" and not text[f.line - 1].startswith(" "), (f, text[f.line - 2: f.line])


@needs_fork
def test_lines_of_findings_follow_the_documents_of_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          children: list[forked.Call[Any]]) -> None:
    """A finding on every object check examines (added to the real ones): in both paths,
    each lands on the first key of its own document, also in files of many documents."""
    real = check_pkg.check_objects

    def on_every_object(objects: Any, *args: Any, **kwargs: Any) -> Report:
        objects = list(objects)
        report = real(objects, *args, **kwargs)
        for doc, source in objects:
            if source.file:
                meta = doc.get("metadata", {})
                report.findings.append(Finding(source.file, source.line, "EW999", "probe", Severity.INFO,
                                               f"{doc['kind']} {meta.get('namespace', '')}/{meta['name']}", "probe"))
        return report

    monkeypatch.setattr(check_pkg, "check_objects", on_every_object)
    spec = bench_spec(tmp_path, 4, 6, "consul")
    a, b, _, _ = both([spec], tmp_path, children, with_simulation=False)
    same(a, b)
    probes = [f for f in a.findings if f.rule == "EW999"]
    assert len({f.file for f in probes}) < len(probes), "some files hold several documents"
    for f in probes:
        text = a.files[f.file].splitlines()
        assert text[f.line - 2] == "---", f
        end = next((i for i in range(f.line - 1, len(text)) if text[i] == "---"), len(text))
        document = yaml.safe_load("\n".join(text[f.line - 1: end]))
        kind, _, ref = f.object.partition(" ")
        assert (document["kind"], f"{document['metadata'].get('namespace', '')}/{document['metadata']['name']}") \
            == (kind, ref), f


@needs_fork
def test_check_errors_refuse_the_plan_in_both_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     children: list[forked.Call[Any]]) -> None:
    """An error found by check (injected on the first object of a real file, after the
    findings check really made) refuses the plan the same way in both paths."""
    real = check_pkg.check_objects

    def with_error(objects: Any, *args: Any, **kwargs: Any) -> Report:
        objects = list(objects)
        report = real(objects, *args, **kwargs)
        _doc, source = objects[-1]
        report.findings.append(Finding(source.file, source.line, "EW301", "service-spans-edge-zones",
                                       Severity.ERROR, "Service ns/y", "injected error"))
        return report

    monkeypatch.setattr(check_pkg, "check_objects", with_error)
    refused = []
    for fork in (True, False):
        out = tmp_path / f"out-{fork}"
        with pytest.raises(PlanRefused) as exc:
            run_plan([EXAMPLES_DIR / "local-zones-hashicups"], out, with_simulation=False, fork=fork)
        assert children[-1].forked is fork
        assert not out.exists(), "nothing is written when check finds an error"
        refused.append(exc.value.result)
    same(*refused)
    injected = [f for f in refused[0].findings if f.message == "injected error"]
    assert len(injected) == 1 and injected[0].line > 1, "the injected finding's line is its document's line"
    text = refused[0].files[injected[0].file].splitlines()
    assert text[injected[0].line - 2] == "---"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary directory left behind"


@needs_fork
def test_cli_exit_codes_and_output_are_the_same_without_fork(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where os.fork is missing plan checks in its own process: same output, same exit codes."""
    runner = CliRunner()
    args = ["plan", str(EXAMPLES_DIR / "wavelength"), "--simulate", "never"]
    with_fork = runner.invoke(cli, [*args, "-o", str(tmp_path / "a")])
    monkeypatch.delattr(os, "fork")
    assert not forked.can_fork()
    without = runner.invoke(cli, [*args, "-o", str(tmp_path / "b")])
    assert with_fork.exit_code == without.exit_code == 0, (with_fork.output, without.output)
    assert with_fork.output.replace(str(tmp_path / "a"), "OUT") == without.output.replace(str(tmp_path / "b"), "OUT")
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    bad = runner.invoke(cli, ["plan", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "c")])
    assert bad.exit_code == 2 and not (tmp_path / "c").exists()


@needs_fork
def test_an_exception_in_the_child_is_raised_by_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     children: list[forked.Call[Any]]) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Report:
        raise ValueError("a bug in a rule")

    monkeypatch.setattr(check_pkg, "check_objects", broken)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="a bug in a rule") as exc:
        run_plan([EXAMPLES_DIR / "outposts"], out, with_simulation=False, fork=True)
    assert children[-1].forked
    notes = "".join(getattr(exc.value, "__notes__", []))
    assert "raised in the forked process" in notes and "in broken" in notes, "the child's traceback is kept"
    with pytest.raises(ValueError, match="a bug in a rule"):
        run_plan([EXAMPLES_DIR / "outposts"], out, with_simulation=False, fork=False)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@needs_fork
def test_bad_input_met_while_planning_is_reported_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          children: list[forked.Call[Any]]) -> None:
    # both processes plan the applications; the child meets the bad input first and ends
    # before the parent sends it the cluster's objects (made slow here): the parent still
    # reports the input error, exit code 2, not the pipe the child no longer reads
    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise InputError.single("app.yaml", "zones map to the same namespace", hint="rename one of the zones")

    real_cluster = plan_cluster_pkg.cluster_objects

    def slow_cluster(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)
        return real_cluster(*args, **kwargs)

    monkeypatch.setattr(plan_apps_pkg, "plan_application", refused)
    monkeypatch.setattr(plan_cluster_pkg, "cluster_objects", slow_cluster)
    out = tmp_path / "out"
    with pytest.raises(InputError, match="same namespace"):
        run_plan([EXAMPLES_DIR / "outposts"], out, with_simulation=False, fork=True)
    assert children[-1].forked
    assert not out.exists()


@needs_fork
def test_a_child_killed_without_a_result_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     children: list[forked.Call[Any]]) -> None:
    def killed(*_args: Any, **_kwargs: Any) -> Report:
        os.kill(os.getpid(), signal.SIGKILL)  # the child only: this path runs forked
        raise AssertionError("unreachable")

    monkeypatch.setattr(check_pkg, "check_objects", killed)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="ended without a result: killed by SIGKILL"):
        run_plan([EXAMPLES_DIR / "outposts"], out, with_simulation=False, fork=True)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@needs_fork
def test_a_failure_in_the_parent_kills_and_reaps_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           children: list[forked.Call[Any]]) -> None:
    """When the parent fails while the child checks (here: rendering), the child is killed
    and waited for (the fixture asserts it is reaped), and nothing is written."""
    def slow(*_args: Any, **_kwargs: Any) -> Report:
        signal.pause()  # would never return: only the parent's kill ends it
        raise AssertionError("unreachable")

    def render_fails(*_args: Any) -> tuple[str, list[int]]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(check_pkg, "check_objects", slow)
    monkeypatch.setattr(workflow, "_render_with_lines", render_fails)  # the parent's rendering only
    with pytest.raises(OSError, match="No space left"):
        run_plan([EXAMPLES_DIR / "outposts"], tmp_path / "out", with_simulation=False, fork=True)
    assert children[-1].forked
    assert not (tmp_path / "out").exists()


# -- edgewise.forked on its own ------------------------------------------------------------


class Unpicklable(Exception):
    def __reduce__(self) -> Any:
        raise TypeError("not today")


@needs_fork
def test_forked_call_returns_values_and_raises_exceptions() -> None:
    big = {"k": list(range(200_000))}  # more than a pipe holds at once
    with forked.start(lambda: big, fork=True) as call:
        assert call.forked
        assert call.result() == big

    def input_error() -> None:
        raise InputError.single("spec.yaml", "bad zone", hint="fix it")

    try:
        input_error()
    except InputError as exc:
        expected = exc.report()
    with forked.start(input_error, fork=True) as call, pytest.raises(InputError) as raised:
        call.result()
    assert raised.value.report() == expected

    def unpicklable() -> None:
        raise Unpicklable("odd")

    with pytest.raises(TypeError):
        pickle.dumps(Unpicklable("odd"))
    with forked.start(unpicklable, fork=True) as call, pytest.raises(RuntimeError, match="Unpicklable: odd"):
        call.result()


@needs_fork
def test_forked_call_returns_before_the_child_has_exited(monkeypatch: pytest.MonkeyPatch) -> None:
    # the child's exit is slow here (it unmaps the child's memory; 2 s in this test): the
    # result is taken as soon as the child has sent it and closed its end of the pipe
    real_exit = os._exit

    def slow_exit(code: int) -> None:
        time.sleep(2)
        real_exit(code)

    real_waitpid = os.waitpid
    statuses: dict[int, int] = {}

    def recording_waitpid(pid: int, options: int) -> tuple[int, int]:
        got = real_waitpid(pid, options)
        if got[0]:
            statuses[got[0]] = got[1]
        return got

    monkeypatch.setattr(os, "_exit", slow_exit)
    monkeypatch.setattr(os, "waitpid", recording_waitpid)
    with forked.start(lambda: "done", fork=True) as call:
        assert call.result() == "done"
        assert call.pid is not None
        assert os.waitpid(call.pid, os.WNOHANG) == (0, 0), "the child is still leaving"
    # waited for at the end of the block, and left by itself: not killed
    assert os.WIFEXITED(statuses[call.pid]) and os.WEXITSTATUS(statuses[call.pid]) == 0
    with pytest.raises(ChildProcessError):
        os.waitpid(call.pid, os.WNOHANG)


@needs_fork
def test_a_fed_call_receives_what_is_sent_in_order(tmp_path: Path) -> None:
    big = {"k": list(range(100_000))}  # ~0.5 MB: more than a pipe holds by default
    received = tmp_path / "received"

    def child(receive: forked.Receive) -> tuple[int, str]:
        time.sleep(1)  # the caller sends meanwhile
        first = receive()
        second = receive()
        received.write_text("yes")
        return len(first["k"]), second

    with forked.start_fed(child, fork=True) as call:
        assert call.forked
        call.send(big)
        call.send("second")
        # the pipe was made to hold it all: the sends did not wait for the child to read
        assert not received.exists()
        assert call.result() == (100_000, "second")
    assert received.read_text() == "yes"


@needs_fork
def test_a_fed_child_waiting_for_more_than_was_sent_ends_when_the_result_is_asked_for() -> None:
    def child(receive: forked.Receive) -> object:
        return receive(), receive()

    with forked.start_fed(child, fork=True) as call:
        call.send("only one")
        # result() sends nothing more: the child's second receive() sees the end, no deadlock
        with pytest.raises(EOFError, match="sent nothing"):
            call.result()
        with pytest.raises(RuntimeError, match="cancelled"):
            call.send("too late")


@needs_fork
def test_a_call_in_a_forked_child_does_not_wait_for_its_own_child_to_exit(tmp_path: Path) -> None:
    """A child forked by a forked child is not waited for once its whole result came: its
    exit (slowed to 3 s here) does not hold up the result of the child that forked it,
    which waits for it after sending that result, so neither is left behind."""
    marker = tmp_path / "grandchild"

    def grandchild() -> str:
        real_exit = os._exit

        def slow_exit(code: int) -> None:
            time.sleep(3)
            real_exit(code)

        os._exit = slow_exit  # type: ignore[assignment]  # this process only
        marker.write_text(str(os.getpid()))
        return "from the grandchild"

    def child() -> tuple[str, float]:
        started = time.monotonic()
        with forked.start(grandchild, fork=True) as call:
            got = call.result()
        return got, time.monotonic() - started

    started = time.monotonic()
    with forked.start(child, fork=True) as call:
        got, took = call.result()
        assert time.monotonic() - started < 2.5, "the result waited for the grandchild's exit"
    assert got == "from the grandchild"
    assert took < 2, f"the child waited {took:.1f} s for its own child's exit"
    # the block's end waited for the child, which waited for the grandchild
    assert time.monotonic() - started >= 3
    with pytest.raises(ProcessLookupError):
        os.kill(int(marker.read_text()), 0)


@needs_fork
def test_a_child_does_not_hold_the_pipes_of_another_call() -> None:
    """A child forked while another call runs closes that call's pipes: held open by it,
    the first child would not see the end of its input until the second one ended."""
    def waits_for_more(receive: forked.Receive) -> object:
        return receive()

    with forked.start_fed(waits_for_more, fork=True) as first, \
            forked.start(lambda: time.sleep(5), fork=True) as second:
        assert first.forked and second.forked
        started = time.monotonic()
        with pytest.raises(EOFError, match="sent nothing"):
            first.result()  # sends nothing more: the first child sees the end at once
        assert time.monotonic() - started < 3, "the second child held the first one's input open"
        second.cancel()


@needs_fork
def test_a_program_that_ends_with_its_command_waits_for_its_children_at_the_exit(tmp_path: Path) -> None:
    """forked.reap_at_exit (plan and check run as the program): a child that has sent its
    whole result is not waited for when its call ends, but when the program exits, so
    no child outlives the program; without it, the call's end waits for the child."""
    script = tmp_path / "program.py"
    script.write_text(f"""
import os, sys, time
from edgewise import forked

def child():
    real_exit = os._exit
    def slow_exit(code):
        time.sleep(2)
        real_exit(code)
    os._exit = slow_exit
    open({str(tmp_path / "pid")!r}, "w").write(str(os.getpid()))
    return "done"

if sys.argv[1] == "at-exit":
    forked.reap_at_exit()
started = time.monotonic()
with forked.start(child, fork=True) as call:
    assert call.result() == "done"
print(round(time.monotonic() - started, 2))
""")
    import subprocess

    for mode, waits in (("at-exit", False), ("at-once", True)):
        started = time.monotonic()
        run = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        took = float(run.stdout)
        assert (took >= 2) is waits, (mode, took)
        assert time.monotonic() - started >= 2, "the program ended before its child"
        with pytest.raises(ProcessLookupError):  # waited for: gone, not even a zombie
            os.kill(int((tmp_path / "pid").read_text()), 0)


@needs_fork
def test_a_fed_child_ends_when_the_caller_gives_up(tmp_path: Path) -> None:
    def child(receive: forked.Receive) -> object:
        return receive()

    with forked.start_fed(child, fork=True) as call:
        pid = call.pid
        assert pid is not None
    # nothing sent: the child was killed or saw the pipe close, and was waited for
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    with forked.start_fed(child, fork=True) as call:
        call._to_child, to_child = None, call._to_child  # the caller's end closes unsent
        assert to_child is not None
        os.close(to_child)
        with pytest.raises(EOFError, match="sent nothing"):
            call.result()


@needs_fork
def test_a_fed_child_that_fails_before_receiving_reports_its_error() -> None:
    def child(receive: forked.Receive) -> object:
        raise InputError.single("spec.yaml", "bad service", hint="fix it")

    with forked.start_fed(child, fork=True) as call:
        assert call.pid is not None
        os.waitpid(call.pid, 0)  # gone, and the pipe's reading end with it
        call.send({"k": list(range(100_000))})  # no BrokenPipeError: the child's own error counts
        with pytest.raises(InputError, match="bad service"):
            call.result()


def test_a_fed_call_without_fork_runs_after_the_sends() -> None:
    call = forked.start_fed(lambda receive: receive() * 2 + receive(), fork=False)
    assert not call.forked
    call.send(21)
    call.send(1)
    assert call.result() == 43
    with pytest.raises(RuntimeError, match="nothing was sent"):
        forked.start_fed(lambda receive: receive(), fork=False).result()


def test_forked_call_without_fork_runs_when_asked() -> None:
    ran: list[int] = []
    call = forked.start(lambda: ran.append(os.getpid()) or 7, fork=False)
    assert not call.forked and not ran, "deferred until result() is asked for"
    assert call.result() == 7 and ran == [os.getpid()]
    call.cancel()


def test_shares_go_each_to_one_process_and_all_are_taken() -> None:
    """Numbers shared out between this process and a forked child: taken in turns as each
    asks, none twice, none lost; where the child's function runs here instead, it finds
    them all taken."""
    import time

    for fork in (True, False):
        started_r, started_w = os.pipe()  # the child says when it has taken its first number
        with forked.Shares(200) as shares:
            def take_slowly(started_w: int = started_w) -> list[int]:
                got = []
                for i in shares.take():
                    got.append(i)
                    if len(got) == 1:
                        os.write(started_w, b"x")
                    time.sleep(0.002)
                return got

            with forked.start(take_slowly, fork=fork) as call:
                if fork:  # wait for the child to be taking, so that both surely take some
                    assert os.read(started_r, 1) == b"x"
                mine = []
                for i in shares.take():
                    mine.append(i)
                    time.sleep(0.002)
                theirs = call.result()
        os.close(started_r)
        os.close(started_w)
        assert sorted(mine + theirs) == list(range(200))
        assert mine == sorted(mine) and theirs == sorted(theirs)  # in order, each process
        if fork:
            assert mine and theirs
        else:
            assert theirs == []
    with forked.Shares(0) as none:
        assert list(none.take()) == []
    assert list(none.take()) == []  # closed: nothing more
    with forked.Shares(forked.Shares.LIMIT) as most:  # written whole before anyone reads
        assert list(most.take()) == list(range(forked.Shares.LIMIT))
    for bad in (-1, forked.Shares.LIMIT + 1):
        with pytest.raises(ValueError):
            forked.Shares(bad)
