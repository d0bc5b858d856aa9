"""Who calls whom, inferred from manifests nobody annotated for us.

Evidence, strongest first: the explicit ``edgewise.dev/calls`` annotation, Consul
upstream annotations, environment values and ConfigMap contents (connection strings,
nginx ``proxy_pass`` / ``server`` lines) that name a Service, and Consul
``ServiceIntentions`` that allow a source to reach a destination.

A token counts as a call only when its first DNS label is the name of a Service (or a
Consul service) present in the inventory: that keeps user names, database names and
file paths out, which a purely lexical scan would not.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .._frozen import record
from ..k8s.inventory import CONNECT_UPSTREAMS, Inventory, Workload
from ..k8s.inventory import as_list as _list
from ..k8s.inventory import as_map as _map
from ..plan.hosts import WHOLE, host_spans, text_hosts

__all__ = ["CALLS_ANNOTATION", "Call", "infer_calls", "parse_host"]

CALLS_ANNOTATION = "edgewise.dev/calls"

@record
class Call:
    """One inferred call: workload ``namespace/workload`` calls ``name``."""

    kind: str  # the caller's workload kind
    namespace: str
    workload: str
    name: str  # as called: "postgres", "postgres.db", "http://product-api:9090", ...
    via: str  # "dns" (kube DNS, possibly intercepted by a mesh) | "consul" (explicit upstream)
    evidence: str  # human-readable: where we saw it
    path: tuple[str | int, ...]  # path in the caller's document where the evidence is


@functools.lru_cache(maxsize=4096)
def parse_host(raw: str) -> tuple[str, int | None]:
    """``http://user@product-api.ns:9090/x`` -> (``product-api.ns``, 9090); lower-cased.

    Cached: inference, resolution and the rules parse the same few names for every call."""
    text = raw.strip()
    m = WHOLE.match(text)
    if not m:
        return text.lower().rstrip("."), None
    port = m.group("port")
    return m.group("host").lower().rstrip("."), int(port) if port else None


class _Known:
    def __init__(self, inv: Inventory) -> None:
        self.services = {s.name for s in inv.services()}
        self.consul = {inv.consul_name(w) for w in inv.workloads() if w.connect_injected}
        self.namespaces = inv.namespaces()

    def is_service_host(self, host: str) -> bool:
        first = host.split(".", 1)[0]
        if first not in self.services and first not in self.consul:
            return False
        rest = host.split(".")[1:]
        # "name", "name.ns", "name.ns.svc[...]": a second label must look like a namespace
        return not rest or rest[0] in self.namespaces or (len(rest) > 1 and rest[1] == "svc")


def _upstreams(value: str) -> Iterator[str]:
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        target = part.split(":", 1)[0]
        labels = target.split(".")
        if ".svc." in f".{target}." and "svc" in labels:
            i = labels.index("svc")
            ns = labels[labels.index("ns") - 1] if "ns" in labels else ""
            name = ".".join(labels[:i])
            yield f"{name}.{ns}" if ns else name
        elif len(labels) >= 2:
            yield f"{labels[0]}.{labels[1]}"
        else:
            yield labels[0]


def _scan_text(text: str) -> Iterator[str]:
    for _, _, host in text_hosts(text):
        yield host


def _volume_configmaps(pod_spec: Mapping[str, Any]) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    """ConfigMaps mounted as files: their values are scanned as text (config files)."""
    for i, v in enumerate(_list(pod_spec.get("volumes"))):
        cm = _map(_map(v).get("configMap")).get("name")
        if cm:
            yield str(cm), ("volumes", i)
        for j, src in enumerate(_list(_map(_map(v).get("projected")).get("sources"))):
            cm = _map(_map(src).get("configMap")).get("name")
            if cm:
                yield str(cm), ("volumes", i, "projected", "sources", j)


_EnvValue = tuple[str, str, str, tuple[str | int, ...]]


def _env_values(inv: Inventory, namespace: str, c: Mapping[str, Any]) -> Iterator[_EnvValue]:
    """(env name, value, evidence, path in the container) of every environment value of
    container ``c``: literal ``env`` values, ConfigMap keys taken whole through ``envFrom``
    (each key becomes a variable, with the prefix), and ``valueFrom.configMapKeyRef``."""
    for ei, e in enumerate(_list(c.get("env"))):
        env = _map(e)
        name = str(env.get("name", ""))
        value = env.get("value")
        if isinstance(value, str) and value:
            yield name, value, f"env {name}", ("env", ei, "value")
            continue
        ref = _map(_map(env.get("valueFrom")).get("configMapKeyRef"))
        cm = inv.get("ConfigMap", namespace, str(ref.get("name") or "")) if ref.get("name") else None
        key = ref.get("key")
        if cm is not None and isinstance(key, str):
            text = _map(cm.body.get("data")).get(key)
            if isinstance(text, str) and text:
                yield (name, text, f"env {name} (ConfigMap {cm.name} key {key})",
                       ("env", ei, "valueFrom", "configMapKeyRef"))
    for j, ef in enumerate(_list(c.get("envFrom"))):
        src = _map(ef)
        ref = _map(src.get("configMapRef"))
        cm = inv.get("ConfigMap", namespace, str(ref.get("name") or "")) if ref.get("name") else None
        if cm is None:
            continue
        prefix = str(src.get("prefix") or "")
        for key, text in sorted(_map(cm.body.get("data")).items(), key=lambda kv: str(kv[0])):
            if isinstance(text, str) and text:
                yield (f"{prefix}{key}", text, f"envFrom ConfigMap {cm.name} key {key}",
                       ("envFrom", j, "configMapRef"))


def _hosts_in_value(value: str, env_name: str, known: _Known) -> Iterator[str]:
    """Service hosts an environment value names: the whole value when it is a host
    (with a port or scheme, or under a name that is not a user/database/path name),
    else hosts found in it as text (:func:`edgewise.plan.hosts.host_spans`, which the
    plan reads the same way)."""
    whole, spans = host_spans(value, env_name, known.is_service_host)
    if whole:
        yield value.strip()
        return
    for _, _, host in spans:
        yield host


def _calls_of(inv: Inventory, w: Workload, known: _Known) -> Iterator[Call]:
    pod = w.pod_path

    def mk(name: str, via: str, evidence: str, path: tuple[str | int, ...]) -> Call:
        return Call(w.kind, w.namespace, w.name, name, via, evidence, path)

    for where, ann, base in (
        ("pod template", w.pod_annotations, (*pod[:-1], "metadata")),
        ("metadata", w.obj.annotations, ("metadata",)),
    ):
        for n in (x.strip() for x in ann.get(CALLS_ANNOTATION, "").split(",")):
            if n:
                yield mk(n, "dns", f"{CALLS_ANNOTATION} annotation ({where})", (*base, "annotations", CALLS_ANNOTATION))
        if CONNECT_UPSTREAMS in ann:
            for n in _upstreams(ann[CONNECT_UPSTREAMS]):
                yield mk(
                    n, "consul", f"Consul upstream annotation ({where})", (*base, "annotations", CONNECT_UPSTREAMS)
                )
    for group in ("containers", "initContainers"):
        for ci, c in enumerate(_list(w.pod_spec.get(group))):
            for env_name, value, evidence, sub in _env_values(inv, w.namespace, _map(c)):
                for h in _hosts_in_value(value, env_name, known):
                    yield mk(h, "dns", evidence, (*pod, group, ci, *sub))
    for cm_name, path in _volume_configmaps(w.pod_spec):
        cm = inv.get("ConfigMap", w.namespace, cm_name)
        if cm is None:
            continue
        for key, text in sorted(_map(cm.body.get("data")).items()):
            if not isinstance(text, str):
                continue
            for h in _scan_text(text):
                if known.is_service_host(h):
                    yield mk(h, "dns", f"ConfigMap {cm_name} key {key}", (*pod, *path))


def _intention_calls(inv: Inventory) -> Iterator[Call]:
    mirroring = inv.consul_mirroring()
    for o in inv.of_kind("ServiceIntentions"):
        dest = _map(o.spec.get("destination"))
        dname = str(dest.get("name") or "")
        if not dname or dname == "*":
            continue
        dns = str(dest.get("namespace") or "")
        for src in _list(o.spec.get("sources")):
            s = _map(src)
            sname = str(s.get("name") or "")
            if not sname or sname == "*":
                continue
            if str(s.get("action") or "allow") != "allow" and not s.get("permissions"):
                continue
            sns = str(s.get("namespace") or "")
            for w in inv.consul_instances(sname):
                if mirroring and sns and w.namespace != sns:
                    continue
                name = f"{dname}.{dns}" if dns else dname
                yield Call(
                    w.kind,
                    w.namespace,
                    w.name,
                    name,
                    "consul",
                    f"ServiceIntentions {o.namespace}/{o.name} allows {sname}",
                    (*w.pod_path[:-1], "metadata"),
                )


def infer_calls(inv: Inventory) -> Sequence[Call]:
    """Every inferred call, deduplicated per (caller, host), in a stable order."""
    known = _Known(inv)
    seen: set[tuple[str, str, str, str]] = set()
    out: list[Call] = []

    def add(c: Call) -> None:
        host = parse_host(c.name)[0]
        key = (c.kind, c.namespace, c.workload, host)
        if key in seen:
            return
        # a call to a Service that selects the caller itself is not a call
        first = host.split(".", 1)[0]
        w = inv.workload_by_name(c.namespace, c.workload)
        if (
            w is not None
            and any(s.name == first for s in inv.services_of(w))
            and (host == first or host.split(".")[1] == c.namespace)
        ):
            return
        seen.add(key)
        out.append(c)

    for w in inv.workloads():
        for c in _calls_of(inv, w, known):
            add(c)
    for c in _intention_calls(inv):
        add(c)
    return out
