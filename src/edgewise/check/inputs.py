"""Read what users point ``check`` at: manifests, kustomizations, eksctl configs, CFN.

* files and directories of multi-document YAML (directories recursively, sorted);
* a directory holding ``kustomization.yaml`` is rendered with ``kubectl kustomize``
  (objects are mapped back to the source file that defines them, for ``file:line``);
* a directory holding ``Chart.yaml`` (a Helm chart) is rendered with ``helm template``,
  with the values files and ``--set`` values given (:class:`HelmOptions`); each object
  points at the template that renders it;
* CloudFormation templates, including the short-form intrinsic tags (``!Ref``, ``!Sub``);
* Consul Helm values (``global`` + ``connectInject``): the edition and mirroring;
* anything else with no ``kind`` is skipped with a note, never a crash.

Without ``--topology``, zone names found in the inputs are looked up in the built-in
catalog to build a topology of that Region (:func:`infer_topology`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..catalog import load_catalog
from ..errors import InputError
from ..gcpause import paused
from ..k8s.inventory import InventoryParts, Source
from ..spec import API_VERSION, Document, Spec
from ..spec import Topology as TopologyModel
from ..spec.loader import parse_document
from ..spec.semantic import validate_semantics
from ..spec.yamlsource import DataBuilder, ReadAhead, ReadFile, build_documents, read_documents
from ..topology import Topology, build_topology
from ..yamlread import YAML_SUFFIXES
from .model import CfnTemplate

__all__ = [
    "HelmOptions", "LoadedInputs", "gc_paused", "infer_topology", "load_paths", "parse_text", "topology_from_documents",
]


def gc_paused() -> AbstractContextManager[None]:
    """The cyclic collector paused for a bulk build of acyclic, long-lived data (reading
    thousands of manifests: a third of the read time went to collections that found
    nothing); what was built is frozen afterwards (:func:`edgewise.gcpause.paused`)."""
    return paused(freeze=True)


KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_CFN_HINT = re.compile(r"^\s*(AWSTemplateFormatVersion|Resources)\s*:|!(Ref|Sub|GetAtt|Join|Select)\b", re.M)


@dataclass
class LoadedInputs:
    objects: list[tuple[Mapping[str, Any], Source]] = field(default_factory=list)
    cfn_templates: list[CfnTemplate] = field(default_factory=list)
    documents: dict[tuple[str, int], Document] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    spec_docs: list[Document] = field(default_factory=list)  # edgewise Topology documents
    #: bytes of each file read (a CloudFormation template's size is its file's)
    file_sizes: dict[str, int] = field(default_factory=dict)
    charts: int = 0  # Helm charts rendered
    #: the objects made ready for the inventory as they are read (:class:`InventoryParts`),
    #: when the reader asked for it
    parts: InventoryParts | None = None

    def add_documents(self, docs: Iterable[Document]) -> None:
        for d in docs:
            self.documents[(d.file, d.index)] = d
            data = d.data
            # a dict is a Mapping: tested first, the ABC's own test runs Python code
            if (type(data) is dict or isinstance(data, Mapping)) and data.get("apiVersion") == API_VERSION:
                if data.get("kind") == "Topology":
                    self.spec_docs.append(d)
                continue  # Applications: plan's input, not objects to check
            self._classify(data, Source(d.file, d.line, d.index))

    def _classify(self, data: Any, source: Source) -> None:
        if not (type(data) is dict or isinstance(data, Mapping)):
            self.notes.append(f"{source.file}:{source.line}: skipped a document that is not a mapping")
            return
        if "kind" not in data and isinstance(data.get("Resources"), Mapping):
            self.cfn_templates.append(CfnTemplate(data, source, self.file_sizes.get(source.file)))
            return
        if "kind" not in data and ("connectInject" in data or "global" in data):
            body = {
                "apiVersion": "edgewise.dev/input",
                "kind": "ConsulHelmValues",
                "metadata": {"name": Path(source.file).name},
                **data,
            }
            self._object(body, source)
            return
        if not isinstance(data.get("kind"), str) or not isinstance(data.get("apiVersion"), str):
            self.notes.append(
                f"{source.file}:{source.line}: skipped a document without "
                "apiVersion/kind (not a Kubernetes object, CFN template or Helm values)"
            )
            return
        self._object(data, source)

    def _object(self, body: Mapping[str, Any], source: Source) -> None:
        self.objects.append((body, source))
        if self.parts is not None:
            self.parts.add(body, source)


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns ``!Ref x`` into ``{"Ref": x}`` and ``!Sub`` into ``Fn::Sub``."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {"Ref": value} if suffix == "Ref" else {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def parse_text(text: str, file: str) -> list[Document]:
    """Documents of ``text`` with positions; CloudFormation short tags understood."""
    return build_documents(text, file, DataBuilder(file, _CfnLoader("")), drop_empty=False)


def _read(path: Path, display: str) -> list[Document]:
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return read_documents(path, display=display)  # its errors are the clear ones
    if "\r" in text:  # as a text-mode read gives it (universal newlines)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "!" in text and _CFN_HINT.search(text):  # the cheap test first: most files have no "!"
        return parse_text(text, display)
    return read_documents(path, display=display, raw=raw)


#: how long rendering a kustomization or a Helm chart may take
RENDER_TIMEOUT_S = 300


def _render(directory: Path, tool: str, args: list[str], *, what: str, fix: str) -> str:
    """The output of ``tool args`` (``kubectl kustomize DIR``, ``helm template DIR``):
    ``directory``, which is ``what``, rendered. Raises InputError (exit 2) when the tool
    is not on PATH, takes too long or fails, with its reason and how to do it by hand."""
    command = " ".join([tool, *args])
    by_hand = f"{command} > rendered.yaml"
    program = shutil.which(tool)
    if program is None:
        raise InputError.single(
            str(directory), f"this directory is {what} and rendering it needs {tool}, which is not on PATH",
            hint=f"install {tool}, or render it yourself: {by_hand} and check that file")
    try:
        proc = subprocess.run([program, *args], capture_output=True, text=True, check=False,
                              timeout=RENDER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise InputError.single(
            str(directory), f"{tool} {args[0]} did not finish within {RENDER_TIMEOUT_S} s",
            hint=f"render it once yourself ({by_hand}) and check that file") from None
    if proc.returncode != 0:
        raise InputError.single(str(directory), f"{tool} {args[0]} failed: " + _tool_error(proc.stderr),
                                hint=f"{fix} ({command} shows the error)")
    return proc.stdout

#: a directory holding this file is a Helm chart, rendered before it is checked, as
#: kube-linter does with a chart directory (https://github.com/stackrox/kube-linter/issues/21)
CHART_FILE = "Chart.yaml"
#: the comment ``helm template`` writes before each object: the chart-relative template
#: path, starting with the chart's name (``mychart/templates/deploy.yaml``, a subchart's
#: ``mychart/charts/sub/templates/...``)
_HELM_SOURCE = re.compile(r"^# Source: (\S.*?)\s*$")


@dataclass(frozen=True)
class HelmOptions:
    """How ``check`` renders the Helm charts among its paths: ``helm template CHART``
    with these values files (``--values``, in order) and ``--set`` values, for the
    cluster's Kubernetes version when it is known (``--kube-version``: a chart's
    ``kubeVersion`` constraint and its ``.Capabilities.KubeVersion`` tests see it; helm's
    own default is an old version that charts such as consul-k8s refuse)."""

    values: tuple[Path, ...] = ()
    set_values: tuple[str, ...] = ()
    kube_version: str | None = None

    @property
    def has_values(self) -> bool:
        return bool(self.values or self.set_values)


def _helm_template(directory: Path, out: LoadedInputs, options: HelmOptions) -> None:
    args = ["template", str(directory)]
    for v in options.values:
        args += ["--values", str(v)]
    for kv in options.set_values:
        args += ["--set", kv]
    if options.kube_version:
        args += ["--kube-version", options.kube_version]
    stdout = _render(directory, "helm", args, what=f"a Helm chart ({CHART_FILE})",
                     fix="fix the chart or its values")
    lines = stdout.splitlines()
    sources = [(no, m.group(1)) for no, line in enumerate(lines, start=1) if (m := _HELM_SOURCE.match(line))]
    seen: Counter[tuple[str, str]] = Counter()  # (template, kind) -> objects of that kind from it so far
    rendered = 0
    for d in parse_text(stdout, f"{directory}/{CHART_FILE}"):
        if d.data is None:
            continue  # a template that renders nothing
        template = next((src for no, src in reversed(sources) if no < d.line), None)
        if template is None:  # not from a template (helm writes none such): the chart itself
            out._classify(d.data, Source(str(directory / CHART_FILE), 1, d.index))
            continue
        path = directory.joinpath(*template.split("/")[1:])  # the chart's own name comes first
        kind = str(d.data.get("kind", "")) if isinstance(d.data, Mapping) else ""
        seen[(template, kind)] += 1
        out._classify(d.data, Source(str(path), _kind_line(path, kind, seen[(template, kind)]), d.index))
        rendered += 1
    out.notes.append(f"{directory}: Helm chart rendered with helm template ({rendered} objects); findings point "
                     "at the template of each object, at its kind: line")


def _kind_line(template: Path, kind: str, nth: int) -> int:
    """The line of the ``nth`` ``kind: <kind>`` in a template (1 when it cannot be told:
    a kind that is itself templated, a template looped over)."""
    try:
        text = template.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return 1
    pattern = re.compile(rf"^\s*kind:\s*[\"']?{re.escape(kind)}[\"']?\s*(#.*)?$")
    found = [no for no, line in enumerate(text.splitlines(), start=1) if pattern.match(line)]
    if len(found) == 1:
        return found[0]  # one object of this kind in the template (looped or not)
    return found[nth - 1] if nth <= len(found) else 1


def _inflates_helm_charts(directory: Path) -> bool:
    """Whether the directory's kustomization inflates Helm charts (``helmCharts``), which
    kustomize renders only with ``--enable-helm`` and helm on PATH
    (https://kubectl.docs.kubernetes.io/references/kustomize/builtins/#_helmchartinflationgenerator_)."""
    data = _kustomization_data(directory)
    return data is not None and bool(data.get("helmCharts"))


def _kustomize(directory: Path, out: LoadedInputs) -> None:
    args = ["kustomize", str(directory)]
    if _inflates_helm_charts(directory):
        if shutil.which("helm") is None:
            raise InputError.single(
                str(directory), "this kustomization inflates Helm charts (helmCharts), which needs helm on PATH",
                hint=f"install helm, or render it yourself: kubectl kustomize --enable-helm {directory} > "
                "rendered.yaml and check that file")
        args.insert(1, "--enable-helm")
    stdout = _render(directory, "kubectl", args, what="a kustomization", fix="fix the kustomization")
    # map rendered objects back to the files that define them: same kind, name and
    # namespace; a source without a namespace (kustomize sets it) matches when unambiguous
    origin: dict[tuple[str, str, str], list[tuple[Source, Document]]] = {}
    for f in sorted(p for p in directory.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()):
        if f.name in KUSTOMIZATIONS:
            continue
        try:
            docs = _read(f, str(f))
        except InputError:
            continue  # kustomize rendered it, so a patch fragment; not our concern
        for d in docs:
            kind, ns, name = _identity(d.data)
            if kind:
                origin.setdefault((kind, ns, name), []).append((Source(d.file, d.line, d.index), d))
    rendered = parse_text(stdout, f"{directory}/{KUSTOMIZATIONS[0]}")
    for d in rendered:
        kind, ns, name = _identity(d.data)
        found = origin.get((kind, ns, name)) or origin.get((kind, "", name)) or []
        if len(found) == 1:
            src, doc = found[0]
            # positions in the source document point at the same fields
            out.documents[(src.file, src.doc_index)] = doc
            out._classify(d.data, src)
        else:
            out.documents[(d.file, d.index)] = d
            out._classify(d.data, Source(d.file, d.line, d.index))


def _chart_holding(path: Path) -> Path | None:
    """The Helm chart ``path`` lies inside (the nearest directory above it with
    ``Chart.yaml``), else None: a template alone is not YAML, so a chart's own file or
    directory (pre-commit passes the changed files) is checked as its whole chart. The
    path's parents as given come first, so findings keep the paths the user wrote."""
    for parents in (path.parents, path.resolve().parents):
        for parent in parents:
            if (parent / CHART_FILE).is_file():
                return parent
    return None


def _tool_error(stderr: str) -> str:
    """The reason a Go tool (helm, kubectl) gave: its ``Error:`` line (helm follows it
    with a hint such as "Use --debug flag to render out invalid YAML"), else its last line."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return next((line for line in lines if line.lower().startswith("error:")), lines[-1] if lines else "(no output)")


def _identity(data: Any) -> tuple[str, str, str]:
    """(kind, namespace, name) of a document; kind "" when it is not an object."""
    if not isinstance(data, Mapping) or not isinstance(data.get("kind"), str):
        return "", "", ""
    meta = data.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return str(data["kind"]), str(meta.get("namespace") or ""), str(meta.get("name") or "")


#: kustomization fields that change nothing when every resource is a plain local file
_PLAIN_KUSTOMIZATION_KEYS = frozenset({"apiVersion", "kind", "resources"})


def _kustomization_data(directory: Path) -> Mapping[str, Any] | None:
    """The directory's kustomization, read as every input is (size and alias limits);
    None when it is not one mapping (kubectl reports what is wrong with it)."""
    kfile = next((directory / k for k in KUSTOMIZATIONS if (directory / k).is_file()), None)
    if kfile is None:
        return None
    try:
        docs = read_documents(kfile)
    except InputError:
        return None
    if len(docs) != 1 or not isinstance(docs[0].data, Mapping):
        return None
    return docs[0].data


def _plain_resources(directory: Path) -> tuple[list[Path], ReadAhead] | None:
    """The files of a kustomization that only lists local resource files, else None.

    Such a kustomization renders to exactly the listed files' objects, so reading them
    directly gives the same objects with their real file:line, and avoids kustomize's
    cost, which grows faster than its output (minutes at a few thousand files).
    Anything else (patches, generators, transformers, namespace, bases, remote
    resources) is rendered by ``kubectl kustomize``.

    The files are read ahead (:class:`ReadAhead`) while they are checked here; when the
    kustomization is not plain after all, nothing read is used.
    """
    data = _kustomization_data(directory)
    if data is None or set(data) - _PLAIN_KUSTOMIZATION_KEYS:
        return None
    resources = data.get("resources") or []
    if not isinstance(resources, list) or not all(isinstance(r, str) and "://" not in r for r in resources):
        return None
    files = [directory / r for r in resources]
    ahead = ReadAhead([str(f) for f in files])
    real_directory = os.path.realpath(directory)
    inside = real_directory if real_directory.endswith(os.sep) else real_directory + os.sep
    real_parents: dict[str, str] = {}  # resources share directories: resolve each once
    for r, f in zip(resources, files, strict=True):
        parent, name = os.path.split(os.path.join(directory, r))
        if not name:
            return None  # "x.yaml/": no file
        if parent not in real_parents:
            real_parents[parent] = os.path.realpath(parent)
        try:
            st = os.lstat(f)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            real = os.path.realpath(f)
            is_file = os.path.isfile(real)
        else:  # the entry itself: lstat saw what a stat of its real path would
            real = os.path.join(real_parents[parent], name)
            is_file = stat.S_ISREG(st.st_mode)
        if not is_file or f.suffix not in YAML_SUFFIXES or not (real == real_directory or real.startswith(inside)):
            return None
    return files, ahead


def _identity_of(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _read_once(f: Path, out: LoadedInputs, seen: set[tuple[int, int]], ahead: ReadFile | None = None) -> None:
    """Read ``f`` unless the same real file was read already (through another path or link).

    ``ahead``: ``f`` as :class:`ReadAhead` read it, if it did."""
    if ahead is not None:
        if ahead.identity not in seen:
            seen.add(ahead.identity)
            out.file_sizes[str(f)] = ahead.size
            out.add_documents(ahead.documents)
        return
    key = _identity_of(f)
    if key is not None:
        if key in seen:
            return
        seen.add(key)
    docs = _read(f, str(f))
    with contextlib.suppress(OSError):
        out.file_sizes[str(f)] = f.stat().st_size
    out.add_documents(docs)


#: a CloudFormation template's own top-level keys, and a Kubernetes object's
_CFN_TOP = re.compile(r"^(AWSTemplateFormatVersion|Resources)\s*:", re.M)
_KIND_TOP = re.compile(r"^kind\s*:", re.M)


def _templates_beside(directory: Path, out: LoadedInputs, seen: set[tuple[int, int]]) -> None:
    """The CloudFormation templates in a kustomization's directory, which the
    kustomization does not read (kustomize takes only the files it names): a plan's
    ``apps/<app>/dns.cfn.yaml`` beside ``apps/<app>/kustomization.yaml``. A YAML file
    read already (a resource) is skipped; another is read when it has a template's
    top-level keys and no Kubernetes ``kind``."""
    try:
        children = sorted(directory.iterdir())
    except OSError:
        return  # the kustomization's own reading reports an unreadable directory
    for child in children:
        if child.suffix not in YAML_SUFFIXES or child.name in KUSTOMIZATIONS or not child.is_file():
            continue
        key = _identity_of(child)
        if key is not None and key in seen:
            continue
        try:
            text = child.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue  # not a template this can read; kustomize reports its own inputs
        if _CFN_TOP.search(text) and not _KIND_TOP.search(text):
            _read_once(child, out, seen)


def _walk(directory: Path, out: LoadedInputs, seen: set[tuple[int, int]], helm: HelmOptions) -> None:
    """Read a directory tree. Symbolic links are followed, but each real directory and
    file is visited once: a link back up the tree (``ln -s . d/loop``) ends there
    instead of looping, and a file reached twice is read once."""
    key = _identity_of(directory)
    if key is not None:
        if key in seen:
            return
        seen.add(key)
    if (directory / CHART_FILE).is_file():
        _helm_template(directory, out, helm)
        out.charts += 1
        return
    if any((directory / k).is_file() for k in KUSTOMIZATIONS):
        plain = _plain_resources(directory)
        if plain is None:
            _kustomize(directory, out)
        else:
            files, ahead = plain
            for i, f in enumerate(files):
                _read_once(f, out, seen, ahead.get(i))
        _templates_beside(directory, out, seen)
        return
    try:
        children = sorted(directory.iterdir())
    except OSError as exc:
        raise InputError.single(str(directory), f"cannot read this directory: {exc.strerror}",
                                hint="make it readable, or leave it out of the paths to check") from None
    # YAML files are read ahead (a directory with that suffix is read by no one)
    yaml_children = [c for c in children if c.suffix in YAML_SUFFIXES]
    ahead = ReadAhead([str(c) for c in yaml_children])
    at = {c: i for i, c in enumerate(yaml_children)}
    for child in children:
        if child.is_dir():
            _walk(child, out, seen, helm)
        elif child.suffix in YAML_SUFFIXES and child.is_file():
            _read_once(child, out, seen, ahead.get(at[child]))


def load_paths(paths: Sequence[Path], helm: HelmOptions | None = None, *, parts: bool = False) -> LoadedInputs:
    """Read every path; raise :class:`InputError` (exit 2) for missing files or bad YAML.

    ``helm``: how to render the Helm charts among them; given values with no chart to
    use them on are an error, not silently ignored. ``parts``: also make each object
    ready for the inventory as it is read (:attr:`LoadedInputs.parts`), for a check of
    these very objects."""
    helm = helm if helm is not None else HelmOptions()
    out = LoadedInputs(parts=InventoryParts() if parts else None)
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise InputError.single(
            str(missing[0]), "no such file or directory", hint="pass existing manifest files or directories"
        )
    seen: set[tuple[int, int]] = set()  # (device, inode) of every directory and file read
    with gc_paused():
        for p in paths:
            chart = _chart_holding(p)
            if chart is not None:  # a file or directory inside a chart: the chart
                _walk(chart, out, seen, helm)
            elif p.is_dir():
                _walk(p, out, seen, helm)
            else:
                _read_once(p, out, seen)
    if helm.has_values and not out.charts:
        raise InputError.single(
            "--helm-values/--helm-set", f"Helm values were given, but no Helm chart (a directory with {CHART_FILE}) "
            "is among the paths", hint="pass the chart's directory, or leave the Helm values out")
    return out


_ZONE_KEYS = {"topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone", "edgewise.dev/zone"}


def _zone_names(value: Any, out: Counter[str], key: str = "") -> None:
    """Collect strings under zone-ish keys (node selectors, affinities, eksctl, CFN)."""
    if isinstance(value, Mapping):
        if value.get("key") in _ZONE_KEYS:
            for v in value.get("values") or []:
                out[str(v)] += 1
        for k, v in value.items():
            ks = str(k)
            if ks in _ZONE_KEYS and isinstance(v, str):
                out[v] += 1
            elif ks in ("availabilityZones", "localZones", "AvailabilityZone") or ks.endswith("Zones"):
                for item in v if isinstance(v, list) else [v]:
                    if isinstance(item, str):
                        out[item] += 1
            else:
                _zone_names(v, out, ks)
    elif isinstance(value, list):
        for item in value:
            _zone_names(item, out, key)


def infer_topology(objects: Iterable[Mapping[str, Any]], cfn: Iterable[CfnTemplate] = ()) -> Topology | None:
    """A topology of the catalog zones named in the inputs, plus their Region's AZs.

    None when no catalog zone is named (placement and routing then stay unknown).
    """
    cat = load_catalog()
    seen: Counter[str] = Counter()
    for o in objects:
        _zone_names(o, seen)
    for t in cfn:
        _zone_names(t.body, seen)
    known = [z for z in seen if z in cat.zones]
    if not known:
        return None
    region = Counter(cat.zones[z].region for z in known).most_common(1)[0][0]
    names = [z for z in known if cat.zones[z].region == region]
    names += [z.name for z in cat.select(region=region, type_="availability-zone") if z.name not in names]
    names = sorted(names, key=lambda n: (cat.zones[n].type != "availability-zone", n))
    data = {
        "apiVersion": "edgewise.dev/v1alpha1",
        "kind": "Topology",
        "metadata": {"name": "inferred"},
        "spec": {"region": region, "zones": [{"name": n} for n in names]},
    }
    model = TopologyModel.model_validate(data)
    doc = Document("<inferred topology>", 0, 0, data)
    return build_topology(Spec(topology=model, topology_doc=doc, applications=()))


def topology_from_documents(docs: Sequence[Document]) -> Topology | None:
    """Build the topology of a ``kind: Topology`` document found among the inputs."""
    if not docs:
        return None
    if len(docs) > 1:
        raise InputError(
            [
                d.problem(
                    ("kind",),
                    f"a second Topology among the inputs (the first is in {docs[0].file}:{docs[0].line})",
                    "pass one topology",
                )
                for d in docs[1:]
            ]
        )
    model, problems = parse_document(docs[0])
    if problems or not isinstance(model, TopologyModel):
        raise InputError(problems)
    spec = Spec(topology=model, topology_doc=docs[0], applications=())
    validate_semantics(spec)
    return build_topology(spec)
