"""How the ``edgewise`` program prints and ends: plain lines where its streams are no
terminal (rich imported only to draw a table), and an exit that runs the ``atexit``
handlers and flushes the streams but skips the interpreter's teardown, except where a
thread still runs or a stream cannot be flushed."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from edgewise.cli import SUMMARY_MAX_ZONES

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HASHICUPS = EXAMPLES / "local-zones-hashicups"


def _generate() -> ModuleType:
    loader = importlib.util.spec_from_file_location("bench_generate", EXAMPLES.parent / "benchmarks" / "generate.py")
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


GENERATE = _generate()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_INTERACTIVE", "TTY_COMPATIBLE")}
    env.update(extra)
    return env


def _program(tmp_path: Path, body: str, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``edgewise.cli.main`` with ``argv`` in a fresh interpreter, after ``body``."""
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(body) + textwrap.dedent(f"""
        sys.argv = ["edgewise", *{list(argv)!r}]
        from edgewise.cli import main
        main()
        """), encoding="utf-8")
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=_env(**env),
                          timeout=300, check=False)


MARKS = """
    import atexit, sys, threading, time
    from pathlib import Path
    MARKS = Path(__file__).with_name("marks")
    def mark(what):
        with MARKS.open("a") as f:
            f.write(what + "\\n")
    class Torn:
        def __del__(self):
            mark("torn down")
    kept = Torn()  # freed only by the interpreter's teardown
    atexit.register(mark, "atexit")
"""


def test_exit_runs_atexit_and_skips_the_teardown(tmp_path: Path) -> None:
    run = _program(tmp_path, MARKS, "--version")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("edgewise, version "), "stdout flushed before the process ended"
    assert (tmp_path / "marks").read_text().splitlines() == ["atexit"]


def test_exit_keeps_the_exit_code(tmp_path: Path) -> None:
    run = _program(tmp_path, MARKS, "validate", str(tmp_path / "missing.yaml"))
    assert run.returncode == 2
    assert "missing.yaml" in run.stderr
    assert (tmp_path / "marks").read_text().splitlines() == ["atexit"]


def test_exit_waits_for_a_running_thread(tmp_path: Path) -> None:
    body = MARKS + """
    def late():
        time.sleep(0.3)
        mark("thread done")
    threading.Thread(target=late).start()
    """
    run = _program(tmp_path, body, "--version")
    assert run.returncode == 0, run.stderr
    # the interpreter's own exit: the thread is joined before the atexit handlers run,
    # and the teardown frees what the program kept
    assert (tmp_path / "marks").read_text().splitlines() == ["thread done", "atexit", "torn down"]


def test_exit_reports_a_stream_it_cannot_flush(tmp_path: Path) -> None:
    body = MARKS + """
    import io
    class Refusing(io.StringIO):
        refuse = False  # from the end of the command on: the reader went away
        def flush(self):
            if self.refuse:
                raise BrokenPipeError(32, "Broken pipe")
    sys.stdout = Refusing()
    atexit.register(setattr, Refusing, "refuse", True)
    """
    run = _program(tmp_path, body, "--version")
    # as Python itself ends a program whose stdout cannot be flushed
    assert run.returncode == 120, (run.returncode, run.stderr)
    assert "BrokenPipeError" in run.stderr


def test_plan_prints_plain_lines_without_rich(tmp_path: Path) -> None:
    # more zones than the summary draws a table for (SUMMARY_MAX_ZONES)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump_all(GENERATE.spec_documents(SUMMARY_MAX_ZONES + 1, 3)), encoding="utf-8")
    out = tmp_path / "a:smile:b"  # rich would turn :smile: into an emoji
    body = """
    import atexit, sys
    atexit.register(lambda: print("rich imported" if "rich" in sys.modules else "rich not imported", file=sys.stderr))
    """
    run = _program(tmp_path, body, "plan", str(spec), "-o", str(out), "--simulate", "never")
    assert run.returncode == 0, run.stderr
    err = run.stderr.splitlines()
    assert err[0] == "- loading spec"
    assert err[-1] == "rich not imported"
    assert all(line.startswith("- ") for line in err[:-1]), err
    last = run.stdout.splitlines()[-1]
    assert last.startswith("wrote ") and last.endswith(f" files to {out} (see {out}/RUNBOOK.md and {out}/report.md)"), \
        "the path as given, no emoji"


@pytest.mark.parametrize("forced", [False, True])
def test_tables_and_forced_terminals_still_use_rich(tmp_path: Path, forced: bool) -> None:
    body = """
    import atexit, sys
    atexit.register(lambda: print("rich imported" if "rich" in sys.modules else "rich not imported", file=sys.stderr))
    """
    env = {"FORCE_COLOR": "1"} if forced else {}
    run = _program(tmp_path, body, "validate", str(HASHICUPS), **env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("valid: topology")
    assert run.stderr.strip() == ("rich imported" if forced else "rich not imported")
    zones = _program(tmp_path, body, "zones", "--region", "us-west-2")
    assert zones.returncode == 0, zones.stderr
    assert "┃ zone" in zones.stdout, "the zone table, drawn by rich"
    assert zones.stderr.strip() == "rich imported"


COLLECTIONS = """
    import atexit, gc, sys
    collections = []
    gc.callbacks.append(lambda phase, info: collections.append(info["generation"]) if phase == "start" else None)
    def report():
        print(f"collector {'on' if gc.isenabled() else 'off'}, {len(collections)} collections", file=sys.stderr)
    atexit.register(report)
    import edgewise.gcpause
    held = edgewise.gcpause.hold
    def hold():  # count from the moment the program holds the collector
        collections.clear()
        held()
    edgewise.gcpause.hold = hold
"""


def test_plan_as_the_program_never_collects(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    run = _program(tmp_path, COLLECTIONS, "plan", str(HASHICUPS), "-o", str(out), "--simulate", "never", "-q")
    assert run.returncode == 0, run.stderr
    # the collector stays off to the end: nothing traverses the plan only for the exit to drop it
    assert run.stderr.splitlines()[-1] == "collector off, 0 collections"
    assert (out / "RUNBOOK.md").is_file()


def test_other_commands_keep_the_collector(tmp_path: Path) -> None:
    run = _program(tmp_path, COLLECTIONS, "zones", "--format", "json")
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[-1].startswith("collector on, ")


def test_keep_holds_objects_only_in_a_program_that_ends() -> None:
    script = textwrap.dedent("""
        import weakref
        from edgewise import gcpause
        class Built:
            pass
        a = Built(); gone_a = weakref.ref(a); gcpause.keep(a); del a
        print("a", "freed" if gone_a() is None else "kept")
        gcpause.hold()  # from here on the process ends with its command
        b = Built(); gone_b = weakref.ref(b); gcpause.keep(b); del b
        print("b", "freed" if gone_b() is None else "kept")
        """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_env(), timeout=60,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:2] == ["a freed", "b kept"]


PLUGINS = """
    import atexit, os, sys
    def report():
        loader = sys.modules["pydantic.plugin._loader"]
        searched = getattr(loader, "_plugins", None) is not None  # the real loader's cache
        print("env", repr(os.environ.get("PYDANTIC_DISABLE_PLUGINS")), "searched", searched,
              "stand-in", not hasattr(loader, "_plugins"), "metadata", "importlib.metadata" in sys.modules,
              file=sys.stderr)
    atexit.register(report)
"""


@pytest.mark.parametrize(("given", "seen", "searched", "stand_in"), [
    (None, "'__all__'", False, True),
    ("true", "'true'", False, True),
    ("", "''", True, False),  # the user's value: search
    ("some-plugin", "'some-plugin'", True, False),  # plugins turned off by name: the real loader
])
def test_the_program_does_not_search_for_pydantic_plugins(tmp_path: Path, given: str | None, seen: str,
                                                          searched: bool, stand_in: bool) -> None:
    """Validating the spec builds its models' validators; pydantic then searches every
    installed distribution for plugins unless PYDANTIC_DISABLE_PLUGINS says not to. The
    program says not to, and keeps a value the user set (an empty one: search). With
    every plugin off, pydantic's loader is not even imported (nor importlib.metadata,
    which it imports first): a stand-in says "no plugins"."""
    env = _env()
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    if given is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = given
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(PLUGINS) + textwrap.dedent(f"""
        sys.argv = ["edgewise", "validate", {str(HASHICUPS)!r}]
        from edgewise.cli import main
        main()
        """), encoding="utf-8")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[-1] == (
        f"env {seen} searched {searched} stand-in {stand_in} metadata {not stand_in}")


@pytest.mark.parametrize("value", ["__all__", "1", "true"])
def test_the_stand_in_loader_answers_as_pydantic_s_own(value: str) -> None:
    """The stand-in for pydantic's plugin loader gives what the real one gives for the
    same setting (no plugins), and pydantic asks its loader for nothing but
    ``get_plugins``: were a later pydantic to ask for more, or answer otherwise, this
    fails rather than the program."""
    import ast

    import pydantic.plugin._schema_validator as validator

    script = textwrap.dedent("""
        import sys
        from edgewise import cli
        cli._no_plugin_loader()
        stand_in = sys.modules["pydantic.plugin._loader"]
        del sys.modules["pydantic.plugin._loader"]
        import pydantic.plugin._loader as real
        assert real is not stand_in
        print(tuple(stand_in.get_plugins()), tuple(real.get_plugins()))
        """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=_env(PYDANTIC_DISABLE_PLUGINS=value), timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["()", "()"]
    # every name pydantic imports from its loader, anywhere in pydantic
    root = Path(validator.__file__).parents[1]
    asked: set[str] = set()
    for path in root.rglob("*.py"):
        package = ".".join(("pydantic", *path.parent.relative_to(root).parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("pydantic.plugin._loader") for a in node.names), path
            elif isinstance(node, ast.ImportFrom):
                base = package.rsplit(".", node.level - 1)[0] if node.level else ""
                module = ".".join(p for p in (base, node.module or "") if p)
                if module == "pydantic.plugin._loader":
                    asked |= {a.name for a in node.names}
                elif module == "pydantic.plugin":
                    assert "_loader" not in {a.name for a in node.names}, path
    assert asked == {"get_plugins"}
