"""Imports flow one way: every module of ``src/edgewise`` imports only its own layer or the
layers below it (the README's order), including imports made inside functions.

The layers, lowest first: the compiled YAML extension; the helpers every layer may use
(errors, markers, quotas, the YAML reader and writer, the fork and garbage-collector
helpers), which import none of each other; the zone catalog, ``spec``, ``topology``,
``plan``, ``k8s``, ``routing``, ``check`` and ``simulate`` (neither imports the other;
they share ``routing``), then ``report``, the in-cluster ``controller`` and the AWS layer,
``workflow`` and the ``lab``, ``verify``, and the CLI on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "edgewise"

#: layer of each top-level module or package of edgewise (a higher number may import a lower)
RANK = {
    "_fastyaml": -1,  # the compiled extension: imports nothing of edgewise
    "_framestack": 0, "errors": 0, "markers": 0, "cfnlimits": 0, "gcpause": 0,
    "forked": 0, "yamlread": 0, "yamlout": 0, "_lazy": 0, "_codecache": 0, "_frozen": 0,
    "catalog": 1,
    "spec": 2,
    "topology": 3,
    "plan": 4,
    "k8s": 5,
    "routing": 6,
    "check": 7, "simulate": 7,
    "report": 8, "controller": 8, "aws": 8,
    "workflow": 9, "lab": 9,
    "verify": 10,
    "cli": 11,
    "__main__": 12,
}


def _unit(module: str) -> str:
    """``edgewise.plan.apps.plan`` -> ``plan``; ``edgewise`` -> ``edgewise``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _module(path: Path) -> str:
    """``src/edgewise/plan/apps/plan.py`` -> ``edgewise.plan.apps.plan``."""
    return ".".join(path.relative_to(SRC.parent).with_suffix("").parts)


def _imports(text: str, module: str) -> list[tuple[int, str]]:
    """(line, absolute module) of every edgewise import in ``text``, the source of
    ``module``, at any depth (imports inside functions included)."""
    package = module.removesuffix(".__init__") if module.endswith(".__init__") else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module:
                    found.append((node.lineno, target))
                else:  # from . import x: each name is a module (or a name of the package)
                    found.extend((node.lineno, f"{target}.{a.name}") for a in node.names)
            elif node.module and (node.module == "edgewise" or node.module.startswith("edgewise.")):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names
                         if a.name == "edgewise" or a.name.startswith("edgewise."))
    return found


def _upward(text: str, module: str) -> list[str]:
    """The imports of ``text`` (the source of ``module``) that do not flow downward."""
    me = _unit(module)
    wrong = []
    for line, target in _imports(text, module):
        them = _unit(target)
        if them in (me, "edgewise", "__version__"):
            continue  # its own layer, or the package root's version
        if RANK[them] >= RANK[me]:
            wrong.append(f"line {line} imports {target} ({them}, layer {RANK[them]}; {me} is layer {RANK[me]})")
    return wrong


MODULES = sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_top_level_module_has_a_layer() -> None:
    units = {p.relative_to(SRC).parts[0].removesuffix(".py") for p in MODULES} | {
        p.name.split(".")[0] for p in SRC.glob("*.so")}
    units -= {"__init__"}
    assert units <= set(RANK), f"give these a layer in RANK: {sorted(units - set(RANK))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_flow_one_way(path: Path) -> None:
    module = _module(path)
    if module == "edgewise.__init__":
        return  # the package root re-exports the spec and topology lazily (PEP 562)
    wrong = _upward(path.read_text(encoding="utf-8"), module)
    assert not wrong, f"{path.relative_to(SRC)}:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("source", "module", "expected"), [
    # a lazy import inside a function is still an import
    ("def f():\n    from ..check import engine\n", "edgewise.spec.loader", ["edgewise.check"]),
    ("from .. import workflow\n", "edgewise.spec.loader", ["edgewise.workflow"]),
    ("import edgewise.cli\n", "edgewise.plan.outdir", ["edgewise.cli"]),
    ("from ...routing import resolver\n", "edgewise.plan.apps.plan", ["edgewise.routing"]),
    # same layer, lower layers and the package's version are fine
    ("from . import names\nfrom ..catalog import load_catalog\nfrom .. import __version__\n",
     "edgewise.spec.loader", []),
])
def test_the_walk_finds_upward_imports(source: str, module: str, expected: list[str]) -> None:
    wrong = _upward(source, module)
    assert [w.split(" imports ")[1].split(" ")[0] for w in wrong] == expected
