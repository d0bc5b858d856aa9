"""How ``check`` reads a directory: plain kustomizations read file by file, files read
ahead on other threads, and the same objects, positions and errors as reading each file
on its own.

A kustomization that only lists local YAML files inside its directory is read directly
(``_plain_resources``); anything else goes to ``kubectl kustomize``. The decision is held
here to the implementation it replaced (kept below as the reference) on the cases that
make it hard: links in and out, parents that are links, trailing slashes, ``.`` and
``..``, directories, other suffixes, missing files.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from edgewise.check import inputs
from edgewise.check.inputs import load_paths
from edgewise.errors import InputError
from edgewise.spec.yamlsource import YAML_SUFFIXES, read_documents

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: web, image: nginx}}]
"""


def reference_plain_resources(directory: Path) -> list[Path] | None:
    """The decision as it was first written (one lstat, a stat and commonpath per file),
    on the kustomization as check reads it (the shared guarded reader)."""
    data = inputs._kustomization_data(directory)
    if data is None:
        return None
    if set(data) - {"apiVersion", "kind", "resources"}:
        return None
    resources = data.get("resources") or []
    if not isinstance(resources, list):
        return None
    files: list[Path] = []
    real_directory = os.path.realpath(directory)
    for r in resources:
        if not isinstance(r, str) or "://" in r:
            return None
        f = directory / r
        parent, name = os.path.split(os.path.join(directory, r))
        try:
            st = os.lstat(f)
        except OSError:
            return None
        real = os.path.realpath(f) if stat.S_ISLNK(st.st_mode) else os.path.join(os.path.realpath(parent), name)
        if (not os.path.isfile(real) or f.suffix not in YAML_SUFFIXES
                or os.path.commonpath([real, real_directory]) != real_directory):
            return None
        files.append(f)
    return files


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A kustomization directory ``k`` with files, links and directories around it."""
    k = tmp_path / "k"
    (k / "sub").mkdir(parents=True)
    (k / "a.yaml").write_text(DEPLOYMENT.format(name="a"))
    (k / "sub" / "b.yml").write_text(DEPLOYMENT.format(name="b"))
    (k / "notes.txt").write_text(DEPLOYMENT.format(name="t"))
    (k / "dir.yaml").mkdir()
    (tmp_path / "outside.yaml").write_text(DEPLOYMENT.format(name="o"))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "c.yaml").write_text(DEPLOYMENT.format(name="c"))
    (k / "in-link.yaml").symlink_to(k / "a.yaml")
    (k / "out-link.yaml").symlink_to(tmp_path / "outside.yaml")
    (k / "linked-dir").symlink_to(tmp_path / "elsewhere")
    (k / "inner-dir").symlink_to(k / "sub")
    (k / "dangling.yaml").symlink_to(k / "gone.yaml")
    os.mkfifo(k / "pipe.yaml")
    return k


CASES = {
    "plain": ["a.yaml", "sub/b.yml"],
    "dot segments": ["./a.yaml", "sub/../a.yaml", "sub/./b.yml"],
    "doubled slashes": ["sub//b.yml"],
    "a link inside": ["in-link.yaml", "a.yaml"],
    "a link to a file outside": ["out-link.yaml"],
    "a parent that links outside": ["linked-dir/c.yaml"],
    "a parent that links inside": ["inner-dir/b.yml"],
    "up and out": ["../outside.yaml"],
    "absolute inside": ["{k}/a.yaml"],
    "absolute outside": ["{k}/../outside.yaml"],
    "a trailing slash": ["a.yaml/"],
    "a directory": ["sub"],
    "a directory with a YAML suffix": ["dir.yaml"],
    "the directory itself": ["."],
    "another suffix": ["notes.txt"],
    "missing": ["nope.yaml"],
    "a dangling link": ["dangling.yaml"],
    "a FIFO": ["pipe.yaml"],
    "remote": ["https://example.com/x.yaml"],
    "not a string": [1],
    "empty": [],
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_which_kustomizations_are_read_file_by_file(tree: Path, case: str) -> None:
    resources = [r.format(k=tree) if isinstance(r, str) else r for r in CASES[case]]
    listed = ", ".join(f"'{r}'" if isinstance(r, str) else str(r) for r in resources)
    (tree / "kustomization.yaml").write_text(f"apiVersion: kustomize.config.k8s.io/v1beta1\nresources: [{listed}]\n")
    expected = reference_plain_resources(tree)
    got = inputs._plain_resources(tree)
    assert (None if got is None else got[0]) == expected
    if expected is not None:
        loaded = load_paths([tree])
        assert [o["metadata"]["name"] for o, _ in loaded.objects] == [
            read_documents(Path(f))[0].data["metadata"]["name"] for f in dict.fromkeys(map(os.path.realpath, expected))]


def test_other_kustomization_fields_go_to_kustomize(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "kustomization.yaml").write_text("resources: [a.yaml]\nnamespace: other\n")
    assert inputs._plain_resources(tree) is None
    monkeypatch.setattr(inputs.shutil, "which", lambda name: None)
    with pytest.raises(InputError, match="needs kubectl"):
        load_paths([tree])


def test_a_directory_walk_reads_what_it_read_before(tree: Path) -> None:
    """A walk (no kustomization): every regular *.yaml file once, links followed, the FIFO
    and other suffixes left alone, a directory named *.yaml walked; file:line and sizes
    as each file read on its own gives them."""
    (tree / "dir.yaml" / "d.yaml").write_text("---\n" + DEPLOYMENT.format(name="d"))
    loaded = load_paths([tree])
    names = [(o["metadata"]["name"], s.file, s.line) for o, s in loaded.objects]
    # sorted; in-link.yaml is a.yaml again; inner-dir is sub, reached first through the link
    assert names == [("a", f"{tree}/a.yaml", 1), ("d", f"{tree}/dir.yaml/d.yaml", 2),
                     ("b", f"{tree}/inner-dir/b.yml", 1), ("c", f"{tree}/linked-dir/c.yaml", 1),
                     ("o", f"{tree}/out-link.yaml", 1)]
    for _, s in loaded.objects:
        assert loaded.file_sizes[s.file] == os.stat(s.file).st_size
        doc = loaded.documents[(s.file, s.doc_index)]
        alone = read_documents(Path(s.file))[s.doc_index]
        assert (doc.data, doc.line, doc.positions) == (alone.data, alone.line, alone.positions)


def test_a_plan_directory_is_read_as_file_by_file_reading_reads_it(tmp_path: Path) -> None:
    """Documents, their positions and file sizes of a written plan, read ahead, against
    each file read alone (PyYAML where the compiled reader is not built)."""
    from click.testing import CliRunner

    from edgewise.cli import cli

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "plan"
    res = CliRunner().invoke(cli, ["plan", str(root / "examples" / "local-zones-hashicups"), "-o", str(out),
                                   "--simulate", "never", "--quiet"])
    assert res.exit_code in (0, 1), res.output
    loaded = load_paths([out])
    assert len(loaded.documents) > 50
    by_file: dict[str, list[Any]] = {}
    for (file, _index), doc in loaded.documents.items():
        by_file.setdefault(file, []).append(doc)
    for file, docs in by_file.items():
        alone = {d.index: d for d in inputs._read(Path(file), file)}
        for d in docs:
            a = alone[d.index]
            assert (d.data, d.line, d.positions) == (a.data, a.line, a.positions), file
            assert d.position(("metadata", "name")) == a.position(("metadata", "name"))
        assert loaded.file_sizes[file] == os.stat(file).st_size


@pytest.mark.parametrize("plain", [True, False])
def test_cloudformation_beside_a_kustomization_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       plain: bool) -> None:
    """kustomize reads only the files a kustomization names, so a template beside it (a
    plan's ``apps/<app>/dns.cfn.yaml``) is read on its own; Helm values and patches beside
    it, and the resources themselves (read once), are not read again."""
    (tmp_path / "a.yaml").write_text(DEPLOYMENT.format(name="a"))
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [a.yaml]\n" + ("" if plain else "namespace: shop\n"))
    (tmp_path / "dns.cfn.yaml").write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n  Name:\n    Type: String\n"
        "Resources:\n  Wait:\n    Type: AWS::CloudFormation::WaitConditionHandle\n")
    (tmp_path / "consul-values.yaml").write_text("global:\n  name: consul\n")
    (tmp_path / "patch.yaml").write_text("kind: Deployment\nmetadata: {name: a}\nResources: {}\n")
    if not plain:  # what kubectl kustomize would print: the resource, in the namespace
        monkeypatch.setattr(inputs, "_kustomize", lambda d, out: out.add_documents(
            inputs.parse_text(DEPLOYMENT.format(name="a"), f"{d}/<kustomize>")))
    loaded = load_paths([tmp_path])
    assert [o["metadata"]["name"] for o, _ in loaded.objects] == ["a"]
    assert [(t.source.file, t.source.line, sorted(t.body["Resources"])) for t in loaded.cfn_templates] == [
        (f"{tmp_path}/dns.cfn.yaml", 1, ["Wait"])]
    assert loaded.file_sizes[f"{tmp_path}/dns.cfn.yaml"] == (tmp_path / "dns.cfn.yaml").stat().st_size
    assert loaded.documents[(f"{tmp_path}/dns.cfn.yaml", 0)].position(("Resources",))[0] == 5


MIXED = """\
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: Service, metadata: {name: api, namespace: shop},
     spec: {selector: {app: api}, ports: [{port: 80}]}}
  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: api, namespace: shop},
     spec: {replicas: 3, template: {metadata: {labels: {app: api},
                                               annotations: {consul.hashicorp.com/connect-inject: "true"}},
            spec: {nodeSelector: {topology.kubernetes.io/zone: us-west-2-lax-1a},
                   containers: [{name: a, image: x}]}}}}
  - not an object
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec: {schedule: "@daily", jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: x}]}}}}}
---
connectInject: {enabled: true}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {type: ExternalName, externalName: api.example.com}
"""


def _inventory_view(inv: Any) -> Any:
    """Everything an inventory holds that rules read, as plain comparable data."""
    return (
        [(o.api_version, o.kind, o.namespace, o.name, o.source) for o in inv.objects],
        list(inv.skipped),
        [(w.key, w.pod_path, dict(w.pod_labels), dict(w.pod_annotations), w.replicas, w.zones, w.placement, w.pinned)
         for w in inv.workloads()],
        [(s.obj.ref, dict(s.selector), s.type, s.external_name, s.ports) for s in inv.services()],
        [(s.obj.ref, [w.key for w in inv.select(s)]) for s in inv.services()],
        sorted((w.key, inv.consul_name(w)) for w in inv.workloads()),
        [(n.name, n.zone, dict(n.labels), n.taints) for n in inv.nodes],
    )


@pytest.mark.parametrize("source", ["plan", "mixed"])
def test_objects_made_ready_while_read_make_the_same_inventory(tmp_path: Path, source: str) -> None:
    """check makes each object ready for the inventory while the files after it are
    parsed (InventoryParts, load_paths(parts=True)); the inventory and the report are
    those made from the same objects after reading, as plan's check and the live check
    make them."""
    from click.testing import CliRunner

    from edgewise.check.engine import check_objects, check_paths
    from edgewise.check.taints import decide_taints
    from edgewise.cli import cli
    from edgewise.k8s.inventory import Inventory
    from edgewise.spec import load_spec
    from edgewise.topology import build_topology

    root = Path(__file__).resolve().parents[1]
    topo = build_topology(load_spec(root / "examples" / "local-zones-hashicups"))
    if source == "plan":
        target = tmp_path / "plan"
        res = CliRunner().invoke(cli, ["plan", str(root / "examples" / "local-zones-hashicups"), "-o", str(target),
                                       "--simulate", "never", "--quiet"])
        assert res.exit_code in (0, 1), res.output
    else:
        target = tmp_path / "mixed"
        target.mkdir()
        (target / "all.yaml").write_text(MIXED, encoding="utf-8")
    loaded = load_paths([target], parts=True)
    assert loaded.parts is not None and loaded.parts.objects
    read_along = Inventory.from_objects(loaded.parts, topo)
    after = Inventory.from_objects(loaded.objects, topo)
    assert _inventory_view(read_along) == _inventory_view(after)
    if source == "mixed":
        # the List's two objects, the CronJob, the Helm values, the second Service (which
        # replaces the first by name); the List's string item is no object
        assert [o.kind for o in read_along.objects] == ["Service", "Deployment", "CronJob", "ConsulHelmValues",
                                                         "Service"]
        assert len(read_along.workloads()) == 2 and [s.type for s in read_along.services()] == ["ExternalName"]
    assert load_paths([target]).parts is None  # only when asked for
    a = check_paths([target], topo, fork=False)
    again = load_paths([target])
    taints = decide_taints((o for o, _ in again.objects), topo)  # as check_paths decides them
    b = check_objects(again.objects, topo, None, again.cfn_templates, documents=again.documents,
                      edge_taints=taints.edge_taint, zone_taints=taints.zone_taints, fork=False)
    assert (a.findings, a.suppressed, a.routes_verified) == (b.findings, b.suppressed, b.routes_verified)
    assert a.findings or source == "mixed"
