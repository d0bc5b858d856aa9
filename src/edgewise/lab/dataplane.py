"""Real data planes for the lab: one Linux network namespace per zone, the real
``kube-proxy`` in each, pods as tiny HTTP servers on their kwok-assigned IPs, and the edge
network's rule -- sibling edge zones cannot reach each other -- enforced by nftables.

::

          zone netns (one per zone)                       router netns
    +-------------------------------------+          +--------------------+
    | kube-proxy --hostname-override=NODE |  veth    | forward:           |
    | pod IPs on lo, HTTP servers         |----------|  edge -> sibling   |
    | clients (probers)                   |          |  edge: count, drop |
    | 127.0.0.1:6443 -> relay -> apiserver|          |  the rest: accept  |
    +-------------------------------------+          +--------------------+

* The API server listens on the host's loopback only; each zone reaches it through a
  relay whose listening socket lives in the zone's namespace (created by a thread that
  entered it with ``setns``): no route, address or rule is added to the host.
* Which zone may reach which is :func:`edgewise.topology.link_between` (the network
  model): the router drops exactly the pairs it says have no link, with one nftables
  counter per pair, so "no packet toward a sibling edge" is a number read from the kernel.
* Pod servers and probers are threads of this process that entered the zone's namespace:
  their sockets are created there. A prober records every request (time, served by which
  pod/zone, or the error) for the scenarios to measure.
* Everything is torn down by :meth:`DataPlane.stop` (namespaces deleted, processes killed).

Needs root (network namespaces), ``ip`` and ``nft`` (Debian: iproute2, nftables) and the
lab's ``kube-proxy``; :func:`missing` says what is absent so tests can skip cleanly.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..spec import ZoneType
from ..topology import Link, link_between
from . import threads
from .control_plane import POD_CIDR, Lab, find_program
from .egress import pump

__all__ = ["DataPlane", "Probe", "ZoneNet", "die_with_parent", "missing", "netns"]

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def missing() -> str | None:
    """Why the data plane cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed (Debian: apt-get install iproute2 nftables)"
    try:
        find_program("kube-proxy")
    except Exception as exc:
        return str(exc)
    probe = f"ewprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    return None


@contextlib.contextmanager
def netns(name: str) -> Iterator[None]:
    """Run the calling thread inside network namespace ``name`` (sockets created inside
    stay there); back to the thread's previous namespace afterwards."""
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(there, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name}")
        yield
    finally:
        _libc.setns(here, CLONE_NEWNET)
        os.close(here)
        os.close(there)


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """preexec_fn: the child gets SIGKILL when the process that started it dies."""
    with contextlib.suppress(OSError, AttributeError):
        _libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL


def _run(*argv: str, input: str | None = None) -> str:
    done = subprocess.run(argv, input=input, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


@dataclass(frozen=True)
class ZoneNet:
    """One zone of the data plane: its topology name and kind, and its lab node."""

    zone: str
    kind: ZoneType
    node: str


@dataclass
class Probe:
    """Requests from one zone to one URL, every ``interval`` seconds, until stopped."""

    zone: str
    url: str
    results: list[tuple[float, bool, str]] = field(default_factory=list)  # (time, ok, served-by zone or error)
    stop: threading.Event = field(default_factory=threading.Event)

    def window(self, start: float, end: float | None = None) -> list[tuple[float, bool, str]]:
        return [r for r in self.results if r[0] >= start and (end is None or r[0] < end)]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(self.server.identity).encode()  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _PodServer(http.server.ThreadingHTTPServer):
    """A pod's HTTP server. ``HTTPServer.server_bind`` sets ``server_name`` with
    ``socket.getfqdn(ip)``: a reverse DNS query for the pod IP, sent from inside the zone's
    namespace toward the host's resolver, which nothing there routes to. It waited for the
    resolver's timeout, ~1.8 s for every pod started (20 s of the Istio lab's setup).
    The name is used only for CGI variables, which these servers do not set."""

    daemon_threads = True

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class DataPlane:
    """The zones' namespaces, the router, kube-proxies, pod servers and probers."""

    def __init__(self, lab: Lab, zones: Sequence[ZoneNet], *, outpost_intra_vpc: bool = False,
                 workdir: Path | None = None, kube_proxy: bool = True) -> None:
        self.lab = lab
        self.with_kube_proxy = kube_proxy  # False: a mesh's sidecars route, not Services
        self.zones = list(zones)
        self.intra = outpost_intra_vpc
        tag = f"{os.getpid() % 100000}"
        self.router = f"ewr{tag}"
        self.ns = {z.zone: f"ew{tag}-{i}" for i, z in enumerate(self.zones)}
        self.index = {z.zone: i for i, z in enumerate(self.zones)}
        self.workdir = workdir or Path(lab.workdir) / f"dataplane-{tag}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.servers: dict[str, _PodServer] = {}  # pod IP:port -> server
        self.probes: list[Probe] = []
        self._stopping = threading.Event()
        self._relays: list[socket.socket] = []

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> DataPlane:
        try:
            self._network()
            if self.with_kube_proxy:
                self._relay_all()
                self._kube_proxies()
                self._wait_proxies(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self) -> DataPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        for p in self.probes:
            p.stop.set()
        for srv in self.servers.values():
            srv.shutdown()
            srv.server_close()
        self.servers.clear()
        for s in self._relays:
            with contextlib.suppress(OSError):
                s.close()
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        for ns in [*self.ns.values(), self.router]:
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)

    # -- network ---------------------------------------------------------------------------
    def link(self, a: str, b: str) -> str:
        za, zb = self.zones[self.index[a]], self.zones[self.index[b]]
        return link_between(za.zone, za.kind, zb.zone, zb.kind, outpost_intra_vpc=self.intra)

    def _network(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        r = self.router
        _run("ip", "netns", "add", r)
        _run("ip", "-n", r, "link", "set", "lo", "up")
        _run("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for z in self.zones:
            i, ns = self.index[z.zone], self.ns[z.zone]
            _run("ip", "netns", "add", ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            # the zone end is created in the router and moved: no interface ever in the host
            _run("ip", "-n", r, "link", "add", f"r{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            _run("ip", "-n", r, "addr", "add", f"10.253.{i}.1/30", "dev", f"r{i}")
            _run("ip", "-n", r, "link", "set", f"r{i}", "up")
            _run("ip", "-n", ns, "addr", "add", f"10.253.{i}.2/30", "dev", "eth0")
            _run("ip", "-n", ns, "link", "set", "eth0", "up")
            _run("ip", "-n", ns, "route", "add", "default", "via", f"10.253.{i}.1")
            for knob in ("net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"):
                _run("ip", "netns", "exec", ns, "sysctl", "-qw", knob)
        _run("ip", "netns", "exec", r, "nft", "-f", "-", input=self._router_rules())

    def _router_rules(self) -> str:
        """Drop (and count) every pair of zones the network model has no link for; count
        the edge <-> edge pairs it does link (Outposts over their local gateways with
        outpostIntraVpc), so traffic between edge zones is a number either way."""
        lines = ["table inet edgewise {", "  chain forward {",
                 "    type filter hook forward priority 0; policy accept;"]
        for a in self.zones:
            for b in self.zones:
                if a.zone == b.zone:
                    continue
                link = self.link(a.zone, b.zone)
                verdict = "drop" if link == Link.NONE else "accept" if link == Link.LOCAL_GATEWAY else None
                if verdict is not None:
                    ia, ib = self.index[a.zone], self.index[b.zone]
                    lines.append(f'    iifname "r{ia}" oifname "r{ib}" counter {verdict} comment "{a.zone}>{b.zone}"')
        lines += ["  }", "}"]
        return "\n".join(lines) + "\n"

    def _counters(self, verdict: str) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        data = json.loads(_run("ip", "netns", "exec", self.router, "nft", "-j", "list", "table", "inet", "edgewise"))
        for item in data.get("nftables", []):
            rule = item.get("rule")
            if not rule or "comment" not in rule or not any(verdict in e for e in rule.get("expr", [])):
                continue
            a, _, b = rule["comment"].partition(">")
            out[(a, b)] = sum(e["counter"]["packets"] for e in rule.get("expr", []) if "counter" in e)
        return out

    def dropped(self) -> dict[tuple[str, str], int]:
        """Packets the router dropped, per (from zone, to zone) pair with no link."""
        return self._counters("drop")

    def between_edges(self) -> dict[tuple[str, str], int]:
        """Packets the router forwarded between two edge zones the model links (Outposts
        over their local gateways with outpostIntraVpc), per (from zone, to zone)."""
        return self._counters("accept")

    # -- the API server, from inside each zone --------------------------------------------------
    def _relay_all(self) -> None:
        host, port = self.lab.server.removeprefix("https://").rsplit(":", 1)
        for z in self.zones:
            with netns(self.ns[z.zone]):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", 6443))
                s.listen(64)
            self._relays.append(s)
            threads.start(self._relay, s, host, int(port), name=f"relay-{z.zone}")

    def _relay(self, listener: socket.socket, host: str, port: int) -> None:
        while not self._stopping.is_set():
            try:
                inside, _ = listener.accept()
            except OSError:
                return
            try:
                outside = socket.create_connection((host, port))  # this thread is in the host's namespace
            except OSError:
                inside.close()
                continue
            for a, b in ((inside, outside), (outside, inside)):
                threads.start(pump, a, b)

    # -- kube-proxy ----------------------------------------------------------------------------
    def _kube_proxies(self) -> None:
        binary = str(find_program("kube-proxy"))
        token = self.lab.token
        for z in self.zones:
            d = self.workdir / self.ns[z.zone]
            d.mkdir(parents=True, exist_ok=True)
            kubeconfig = d / "kubeconfig"
            kubeconfig.write_text(yaml.safe_dump({
                "apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": "lab", "cluster": {"server": "https://127.0.0.1:6443",
                                                         "insecure-skip-tls-verify": True}}],
                "users": [{"name": "proxy", "user": {"token": token}}],
                "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "proxy"}}],
                "current-context": "lab",
            }))
            config = d / "kube-proxy.yaml"
            config.write_text(yaml.safe_dump({
                "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                "kind": "KubeProxyConfiguration",
                "clientConnection": {"kubeconfig": str(kubeconfig), "qps": 50, "burst": 100},
                "mode": "nftables",
                "hostnameOverride": z.node,
                "clusterCIDR": POD_CIDR,
                "bindAddress": f"10.253.{self.index[z.zone]}.2",
                "healthzBindAddress": "127.0.0.1:10256",
                "metricsBindAddress": "127.0.0.1:10249",
                # leave the (host-wide) conntrack table size and timeouts alone
                "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                              "tcpCloseWaitTimeout": "0s"},
                "nftables": {"syncPeriod": "30s", "minSyncPeriod": "0s"},
            }))
            log = open(d / "kube-proxy.log", "wb")  # noqa: SIM115 (lives as long as the process)
            self.procs.append(subprocess.Popen(
                ["ip", "netns", "exec", self.ns[z.zone], binary, f"--config={config}", "--v=2"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent,
            ))

    def _wait_proxies(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.zones)
        while pending:
            for z in list(pending):
                with contextlib.suppress(Exception), netns(self.ns[z.zone]):
                    c = http.client.HTTPConnection("127.0.0.1", 10256, timeout=1)
                    c.request("GET", "/healthz")
                    if c.getresponse().status == 200:
                        pending.discard(z)
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"kube-proxy exited ({proc.returncode}); see {self.workdir}/*/kube-proxy.log")
            if time.monotonic() > deadline:
                raise TimeoutError(f"kube-proxy not healthy in {', '.join(z.zone for z in pending)}")
            time.sleep(0.2)

    def proxy_endpoints(self, zone: str, namespace: str, service: str) -> set[str]:
        """The endpoint IPs ``zone``'s kube-proxy has programmed for a Service: the targets
        of the Service's nftables chain (``service-<hash>-<ns>/<name>/...``), which jumps
        to one ``endpoint-<hash>-<ns>/<name>/...__<ip>/<port>`` chain per endpoint (no such
        chain: no endpoints)."""
        try:
            data = json.loads(_run("ip", "netns", "exec", self.ns[zone], "nft", "-j", "list", "table", "ip",
                                   "kube-proxy"))
        except RuntimeError:  # kube-proxy has not created its table yet
            return set()
        mine = f"-{namespace}/{service}/"
        target = re.compile(r"endpoint-[0-9A-Za-z]+-" + re.escape(namespace + "/" + service + "/")
                            + r"[^\"]*__([0-9.]+)/[0-9]+")
        out: set[str] = set()
        for item in data.get("nftables", []):
            rule = item.get("rule")
            if rule and str(rule.get("chain", "")).startswith("service-") and mine in rule["chain"]:
                out.update(target.findall(json.dumps(rule.get("expr"))))
        return out

    def proxy_log(self, zone: str) -> str:
        return (self.workdir / self.ns[zone] / "kube-proxy.log").read_text(errors="replace")

    # -- pods ------------------------------------------------------------------------------
    def serve(self, zone: str, ip: str, port: int, identity: Mapping[str, str], status: int = 200) -> None:
        """Make pod IP ``ip`` real in ``zone``: the address on the zone's loopback, an HTTP
        server on ``ip:port`` answering ``identity`` as JSON (with HTTP ``status``: 500 is a
        copy that is up but broken), and the router's route to it.

        A pod IP handed out again (kwok reuses the addresses of pods that went away) means
        the earlier pod is gone: its server is stopped before the new one binds."""
        self.kill(ip, port)
        ns, i = self.ns[zone], self.index[zone]
        if not _run("ip", "-n", ns, "-o", "addr", "show", "dev", "lo", "to", f"{ip}/32").strip():
            _run("ip", "-n", ns, "addr", "add", f"{ip}/32", "dev", "lo")
            _run("ip", "-n", self.router, "route", "replace", f"{ip}/32", "via", f"10.253.{i}.2")
        with netns(ns):
            srv = _PodServer((ip, port), _Handler)
        srv.identity = dict(identity)  # type: ignore[attr-defined]
        srv.status = status  # type: ignore[attr-defined]
        self.servers[f"{ip}:{port}"] = srv
        threads.start(srv.serve_forever, poll_interval=0.05)

    def kill(self, ip: str, port: int) -> None:
        """The pod's process dies: its server stops answering (connections refused)."""
        srv = self.servers.pop(f"{ip}:{port}", None)
        if srv is not None:
            srv.shutdown()
            srv.server_close()

    # -- clients -----------------------------------------------------------------------------
    def get(self, zone: str, url: str, timeout: float = 1.0) -> tuple[bool, str]:
        """One GET from inside ``zone``: (ok, the answering pod's zone or the error)."""
        host, _, rest = url.removeprefix("http://").partition("/")
        name, _, port = host.partition(":")
        with netns(self.ns[zone]):
            conn = http.client.HTTPConnection(name, int(port or 80), timeout=timeout)
            try:
                conn.request("GET", "/" + rest)
                resp = conn.getresponse()
                body = json.loads(resp.read() or b"{}")
                return resp.status == 200, str(body.get("zone", ""))
            except (OSError, http.client.HTTPException, ValueError) as exc:
                errno = getattr(exc, "errno", None)
                return False, type(exc).__name__ + (f"[{errno}]" if type(exc) is OSError and errno else "")
            finally:
                conn.close()

    def probe(self, zone: str, url: str, interval: float = 0.02, timeout: float = 0.5) -> Probe:
        """Start requesting ``url`` from ``zone`` every ``interval`` s (new connection each)."""
        p = Probe(zone, url)

        def loop() -> None:
            while not p.stop.is_set() and not self._stopping.is_set():
                t = time.time()
                ok, who = self.get(zone, url, timeout)
                p.results.append((t, ok, who))
                left = interval - (time.time() - t)
                if left > 0:
                    p.stop.wait(left)

        threads.start(loop, name=f"probe-{zone}")
        self.probes.append(p)
        return p

    def wait_for(self, what: str, cond: Callable[[], bool], timeout: float = 30.0) -> float:
        """Poll ``cond`` until true; seconds it took."""
        start = time.monotonic()
        while not cond():
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.01)
        return time.monotonic() - start
