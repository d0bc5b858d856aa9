"""Load spec files into typed models, reporting every problem with its location."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import InputError, Problem, shorten, suggest
from .models import API_VERSION, Application, Topology
from .yamlsource import Document, iter_yaml_files, read_documents

__all__ = ["Spec", "load_spec", "load_spec_documents", "parse_document"]

#: largest spec file read (a spec of 1,000 zones and 1,000 services is far smaller); it
#: bounds the time a mistaken or hostile file can cost (YAML reads ~0.3 MB/s of list items)
MAX_SPEC_BYTES = 1 << 20

KINDS: dict[str, type[BaseModel]] = {"Topology": Topology, "Application": Application}


@dataclass(frozen=True)
class Spec:
    """A loaded, validated spec: one Topology and zero or more Applications.

    Each model keeps the :class:`Document` it came from so later layers can point
    their own problems at the right file and line.
    """

    topology: Topology
    topology_doc: Document
    applications: tuple[tuple[Application, Document], ...]

    @property
    def name(self) -> str:
        return self.topology.metadata.name


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated/list/dict wrappers down to a model class if there is one."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else args[0]
        elif origin in (list, tuple, set, frozenset):
            annotation = typing.get_args(annotation)[0]
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return annotation


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        by_alias = {(f.alias or n): f for n, f in current.model_fields.items()}
        field = by_alias.get(part) or current.model_fields.get(part)
        if field is None:
            # dict keys (e.g. latencyMs.<zone>) are not fields: stay on the value type
            continue
        current = _unwrap(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _aliases(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _convert(doc: Document, root: type[BaseModel], exc: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        # union tags (e.g. an env value's "<secret>") are not YAML keys
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("<")))
        kind = err["type"]
        value = err.get("input")
        if kind == "extra_forbidden":
            parent = _model_at(root, loc[:-1])
            allowed = _aliases(parent) if parent else []
            near = suggest(str(loc[-1]), allowed, cutoff=0.5)
            hint = f"did you mean '{near[0]}'?" if near else ""
            if allowed:
                hint = (hint + " " if hint else "") + "allowed fields: " + ", ".join(sorted(allowed))
            problems.append(doc.problem(loc, f"unknown field '{loc[-1]}'", hint))
        elif kind == "missing":
            problems.append(doc.problem(loc, "required field is missing",
                                        f"add '{loc[-1]}' here"))
        else:
            msg = str(err["msg"])
            msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
            shown = repr(value) if isinstance(value, (str, int, float, bool)) else None
            if shown is not None and shown not in msg and kind not in ("value_error",):
                msg = f"{msg} (got {shown})"
            hint = ""
            if kind in ("enum", "literal_error"):
                hint = "use one of the allowed values above"
            elif kind == "string_pattern_mismatch":
                hint = "see `edgewise schema` for the expected form"
            problems.append(doc.problem(loc, msg, hint))
    return problems


def parse_document(doc: Document) -> tuple[BaseModel | None, list[Problem]]:
    """One spec document as its model (Topology or Application), or the problems with it
    (file:line:column of each field when ``doc`` was read with positions)."""
    data = doc.data
    if not isinstance(data, dict):
        what = type(data).__name__ if data is not None else "null"
        return None, [doc.problem((), f"a spec document must be a mapping, got a {what}",
                                  "start the document with 'apiVersion: edgewise.dev/v1alpha1'")]
    api = data.get("apiVersion")
    kind = data.get("kind")
    if api != API_VERSION:
        hint = f"set apiVersion: {API_VERSION}"
        msg = "missing apiVersion" if api is None else f"unsupported apiVersion {shorten(repr(api))}"
        return None, [doc.problem(("apiVersion",), msg, hint)]
    if not isinstance(kind, str) or kind not in KINDS:
        near = suggest(kind, KINDS) if isinstance(kind, str) else []
        hint = (f"did you mean '{near[0]}'? " if near else "") + "kind is Topology or Application"
        msg = ("missing kind" if kind is None else f"unknown kind {shorten(kind)!r}" if isinstance(kind, str)
               else f"kind must be a string, got a {type(kind).__name__}")
        return None, [doc.problem(("kind",), msg, hint)]
    model = KINDS[kind]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, _convert(doc, model, exc)


def load_spec_documents(paths: Sequence[Path]) -> list[tuple[BaseModel, Document]]:
    """Parse and type-check every document; raise with all problems at once."""
    out, problems = _read_all(paths)
    if problems:
        raise InputError(problems)
    return out


def _read_all(paths: Sequence[Path]) -> tuple[list[tuple[BaseModel, Document]], list[Problem]]:
    """Every document that type-checks, and the problems of those that do not."""
    problems: list[Problem] = []
    out: list[tuple[BaseModel, Document]] = []
    files = list(iter_yaml_files(paths))
    for path in paths:
        if not path.exists():
            problems.append(Problem(str(path), 0, 0, "", "no such file or directory",
                                    "check the path"))
        elif path.is_dir() and not any(f.is_relative_to(path) for f in files):
            problems.append(Problem(str(path), 0, 0, "", "directory holds no .yaml/.yml file",
                                    "point at a spec file or a directory of them"))
    for file in files:
        if not file.exists():
            continue
        try:
            size = file.stat().st_size
        except OSError:
            size = 0  # read_documents reports it
        if size > MAX_SPEC_BYTES:
            problems.append(Problem(str(file), 0, 0, "", f"the file is {size:,} bytes; a spec file may be at most "
                                    f"{MAX_SPEC_BYTES:,} (real specs are a few KB)",
                                    "split it, or check that this is the spec you meant"))
            continue
        try:
            docs = read_documents(file)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if not docs:
            problems.append(Problem(str(file), 1, 0, "", "the file holds no YAML document (it is empty)",
                                    "write a Topology document (see examples/)"))
        for doc in docs:
            model, errs = parse_document(doc)
            problems.extend(errs)
            if model is not None:
                out.append((model, doc))
    return out, problems


def load_spec(paths: Sequence[Path] | Path) -> Spec:
    """Load, type-check and semantically validate a spec from files or directories."""
    from .semantic import validate_semantics

    if isinstance(paths, Path):
        paths = [paths]
    parsed, problems = _read_all(paths)
    topologies = [(m, d) for m, d in parsed if isinstance(m, Topology)]
    apps = tuple((m, d) for m, d in parsed if isinstance(m, Application))
    if problems:
        # List the semantic problems of the documents that did type-check too, so that one
        # run reports everything. Semantic checks only look at parsed documents, so a type
        # error never cascades into a second, derived report.
        if len(topologies) == 1:
            topo, tdoc = topologies[0]
            assert isinstance(topo, Topology)
            good_apps = tuple((a, d) for a, d in apps if isinstance(a, Application))
            partial = Spec(topology=topo, topology_doc=tdoc, applications=good_apps)
            try:
                validate_semantics(partial)
            except InputError as exc:
                problems.extend(exc.problems)
        raise InputError(problems)
    if not topologies:
        where = apps[0][1] if apps else None
        if where is not None:
            problems.append(where.problem(("kind",), "an Application needs a Topology to run on, and none was given",
                                          "add a 'kind: Topology' document to the spec (same file or another file)"))
        else:
            problems.append(Problem(str(paths[0]), 0, 0, "", "no Topology document found",
                                    "add a 'kind: Topology' document"))
        raise InputError(problems)
    if len(topologies) > 1:
        first = topologies[0][1]
        for _, doc in topologies[1:]:
            problems.append(doc.problem(("kind",), f"a second Topology (the first is in {first.file}:{first.line})",
                                        "give one Topology per spec; plan each topology separately"))
        raise InputError(problems)
    topo, tdoc = topologies[0]
    assert isinstance(topo, Topology)
    spec = Spec(topology=topo, topology_doc=tdoc,
                applications=tuple((a, d) for a, d in apps if isinstance(a, Application)))
    validate_semantics(spec)
    return spec
