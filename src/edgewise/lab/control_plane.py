"""Start and stop a real Kubernetes control plane on loopback (see :mod:`edgewise.lab`)."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from .client import ApiError, Client, load_manifests
from .egress import EgressGate, egress_selector_config

__all__ = [
    "KWOK_ANNOTATION",
    "LAB_PROGRAMS",
    "Lab",
    "LabError",
    "find_program",
]

#: the controller manager's --node-monitor-grace-period in the lab (default 50 s): how
#: late a kwok heartbeat may be before the node and its pods are marked not ready
NODE_MONITOR_GRACE_PERIOD = "24h"
#: kwok manages (fakes the kubelet of) exactly the nodes carrying this annotation
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_ANNOTATION_VALUE = "fake"
LAB_PROGRAMS = ("etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager", "kwok")
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
_IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


class LabError(RuntimeError):
    """The lab could not start (a program missing, a component not becoming ready)."""


def _search_dirs() -> list[Path]:
    dirs: list[Path] = []
    env = os.environ.get("EDGEWISE_LAB_BIN")
    if env:
        dirs.append(Path(env))
    # a source checkout (editable install): <repo>/.tools/bin, written by `make lab`
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "tools" / "gobuild.sh").is_file():
            dirs.append(parent / ".tools" / "bin")
            break
    cwd = Path.cwd()
    for parent in (cwd, *cwd.parents):
        if (parent / ".tools" / "bin").is_dir():
            dirs.append(parent / ".tools" / "bin")
            break
    return dirs


def find_program(name: str) -> Path:
    """Where the lab program ``name`` is: ``$EDGEWISE_LAB_BIN``, the checkout's
    ``.tools/bin`` (``make lab``), then ``PATH``."""
    for d in _search_dirs():
        p = d / name
        if p.is_file() and os.access(p, os.X_OK):
            return p
    found = shutil.which(name)
    if found:
        return Path(found)
    raise LabError(
        f"{name} not found (looked in {', '.join(str(d) for d in _search_dirs()) or 'nowhere'} and PATH); "
        "build the lab programs with `make lab`, or point EDGEWISE_LAB_BIN at a directory holding "
        + ", ".join(LAB_PROGRAMS)
    )


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port() -> int:
    """A loopback TCP port nothing listens on, for a server started later by another
    process. It is drawn at random below the kernel's ephemeral range
    (``net.ipv4.ip_local_port_range``): the kernel hands ports of that range to every
    outgoing connection (the API server's to etcd, the tests' clients), so a port found
    free there can be taken by a connect() before the server binds it. Below the range
    only another server can take it; :meth:`Lab.start` retries a start that lost that
    race."""
    low, _ = _ephemeral_range()
    rng = random.SystemRandom()
    for _ in range(64):
        port = rng.randrange(10000, low) if low > 11000 else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            found: int = s.getsockname()[1]
            return found
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        anywhere: int = s.getsockname()[1]
        return anywhere


#: how often :meth:`Lab.start` starts again when a component lost a port to another process
START_ATTEMPTS = 3


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # the child gets SIGKILL when the process that started it dies, however it dies
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


# every running lab, so an exit or a signal stops them all
_LIVE: weakref.WeakSet[Lab] = weakref.WeakSet()
_HOOKED = False
_PREVIOUS: dict[int, Any] = {}


def _stop_all() -> None:
    for lab in list(_LIVE):
        lab.stop()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _stop_all()
    prev = _PREVIOUS.get(signum)
    if callable(prev):
        prev(signum, frame)
    elif prev == signal.SIG_IGN:
        return
    else:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _hook() -> None:
    global _HOOKED
    if _HOOKED:
        return
    _HOOKED = True
    atexit.register(_stop_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            _PREVIOUS[sig] = signal.getsignal(sig)
            signal.signal(sig, _on_signal)
        # Ctrl-C: Python raises KeyboardInterrupt; context managers and atexit stop the lab


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_dirs(where: Path | None = None) -> list[Path]:
    """Remove the working and etcd directories of labs whose Python process is gone.

    A lab names its directories ``edgewise-lab-<pid>-*`` and ``edgewise-etcd-<pid>-*``;
    a process killed with SIGKILL stops its components (they die with it) but cannot
    remove them, so the next lab does. Directories of a live process, and any name this
    module did not write, are left alone. Returns what was removed.
    """
    root = Path(tempfile.gettempdir()) if where is None else where
    removed = []
    for prefix in ("edgewise-lab-", "edgewise-etcd-"):
        for d in sorted(root.glob(prefix + "*")):
            pid = d.name[len(prefix) :].split("-", 1)[0]
            if not pid.isdigit() or d.is_symlink() or not d.is_dir() or _alive(int(pid)):
                continue
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


class Lab:
    """A loopback Kubernetes control plane: etcd, kube-apiserver, kube-scheduler,
    kube-controller-manager and kwok. See the :mod:`edgewise.lab` docstring."""

    def __init__(self, workdir: str | Path | None = None, *, keep_workdir: bool = False, log: Any = None) -> None:
        self._own_dir = workdir is None
        if workdir is None:
            sweep_stale_dirs()
        base = Path(tempfile.mkdtemp(prefix=f"edgewise-lab-{os.getpid()}-")) if workdir is None else Path(workdir)
        self.workdir = base
        self._keep = keep_workdir
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._log = log
        self.token = secrets.token_hex(16)
        self.server = ""
        #: the controller manager's secure port (``/healthz``, ``/configz``), once started
        self.controller_manager = ""
        self.kubeconfig = base / "kubeconfig"
        self._client: Client | None = None
        self.boot_seconds = 0.0
        self._node_count = 0
        #: the API server's only way out (webhooks, aggregated APIs): loopback only
        self.egress: EgressGate | None = None

    # -- lifecycle ------------------------------------------------------------
    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return bool(self._procs)

    def _say(self, msg: str) -> None:
        if self._log is not None:
            self._log(msg)

    def start(self, timeout: float = 90.0) -> Lab:
        """Start every component and wait until pods can be scheduled and run."""
        if self._procs:
            return self
        programs = {name: find_program(name) for name in LAB_PROGRAMS}
        t0 = time.monotonic()
        _hook()
        _LIVE.add(self)
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start(programs, timeout)
                break
            except LabError as e:
                self.stop()
                if "address already in use" not in str(e) or attempt == START_ATTEMPTS:
                    raise
                self._say(f"a port was taken by another process while starting; starting again ({e})")
                _LIVE.add(self)
            except BaseException:
                self.stop()
                raise
        self.boot_seconds = time.monotonic() - t0
        self._say(f"lab ready in {self.boot_seconds:.1f}s at {self.server}")
        return self

    def _spawn(self, name: str, argv: Sequence[str]) -> None:
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "ab") as out:
            self._procs[name] = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: Ctrl-C on the terminal does not reach it
                preexec_fn=_die_with_parent,
                cwd=self.workdir,
            )

    def _check_alive(self) -> None:
        for name, p in self._procs.items():
            if p.poll() is not None:
                tail = self.log_tail(name)
                raise LabError(f"{name} exited with code {p.returncode}; last log lines:\n{tail}")

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.workdir / "logs" / f"{name}.log"
        if not path.is_file():
            return "(no log)"
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def _start(self, bin: Mapping[str, Path], timeout: float) -> None:
        d = self.workdir
        d.mkdir(parents=True, exist_ok=True)
        pki = d / "pki"
        pki.mkdir(exist_ok=True)
        sa_key = pki / "sa.key"
        sa_pub = pki / "sa.pub"
        _write_service_account_key(sa_key, sa_pub)
        tokens = {
            "admin": (self.token, "admin", "system:masters"),
            "scheduler": (secrets.token_hex(16), "system:kube-scheduler", ""),
            "controller-manager": (secrets.token_hex(16), "system:kube-controller-manager", ""),
            "kwok": (secrets.token_hex(16), "kwok", "system:masters"),
        }
        with open(pki / "tokens.csv", "w", encoding="utf-8") as f:
            for tok, user, group in tokens.values():
                f.write(f'{tok},{user},{user}{"," + chr(34) + group + chr(34) if group else ""}\n')
        os.chmod(pki / "tokens.csv", 0o600)
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        sched_port, cm_port = free_port(), free_port()
        self.controller_manager = f"https://127.0.0.1:{cm_port}"
        self.server = f"https://127.0.0.1:{api_port}"
        kubeconfigs = {who: d / f"{who}.kubeconfig" for who in tokens}
        for who, (tok, _, _) in tokens.items():
            _write_kubeconfig(kubeconfigs[who], self.server, tok, who)
        _write_kubeconfig(self.kubeconfig, self.server, self.token, "admin")
        # etcd's data on tmpfs when there is one: the lab is throw-away and fsync is the cost
        shm = Path("/dev/shm")
        if shm.is_dir():
            sweep_stale_dirs(shm)
        data = Path(tempfile.mkdtemp(prefix=f"edgewise-etcd-{os.getpid()}-", dir=shm if shm.is_dir() else d))
        self._etcd_data = data
        self._say("starting etcd")
        self._spawn(
            "etcd",
            [
                str(bin["etcd"]),
                "--name=lab",
                f"--data-dir={data}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=lab=http://127.0.0.1:{peer_port}",
                "--listen-metrics-urls=",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        # every connection the API server opens towards "the cluster" (webhook and
        # aggregated-API Services, kubelets) goes through the gate: loopback or refused
        gate_path = d / "egress.sock"
        if len(str(gate_path)) > 100:  # sun_path holds 108 bytes
            gate_path = Path(tempfile.mkdtemp(prefix="edgewise-egress-")) / "egress.sock"
        self.egress = EgressGate(gate_path).start()
        egress_config = d / "egress-selector.yaml"
        egress_config.write_text(egress_selector_config(gate_path), encoding="utf-8")
        self._say("starting kube-apiserver")
        self._spawn(
            "kube-apiserver",
            [
                str(bin["kube-apiserver"]),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={pki / 'apiserver'}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={sa_pub}",
                f"--service-account-signing-key-file={sa_key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--egress-selector-config-file={egress_config}",
                "--allow-privileged=true",
                "--profiling=false",
                "--enable-priority-and-fairness=false",
                "--v=1",
            ],
        )
        client = Client(self.server, self.token)
        self._client = client

        def api_ready() -> bool:
            self._check_alive()
            try:
                return bool(client.request("GET", "/readyz") == "ok")
            except (ApiError, OSError):
                return False

        client.wait("kube-apiserver /readyz", api_ready, timeout=timeout, interval=0.1)
        self._say("starting kube-scheduler, kube-controller-manager, kwok")
        self._spawn(
            "kube-scheduler",
            [
                str(bin["kube-scheduler"]),
                f"--kubeconfig={kubeconfigs['scheduler']}",
                f"--authentication-kubeconfig={kubeconfigs['scheduler']}",
                f"--authorization-kubeconfig={kubeconfigs['scheduler']}",
                "--bind-address=127.0.0.1",
                f"--secure-port={sched_port}",
                f"--cert-dir={pki / 'scheduler'}",
                "--leader-elect=false",
                "--v=1",
            ],
        )
        self._spawn(
            "kube-controller-manager",
            [
                str(bin["kube-controller-manager"]),
                f"--kubeconfig={kubeconfigs['controller-manager']}",
                f"--authentication-kubeconfig={kubeconfigs['controller-manager']}",
                f"--authorization-kubeconfig={kubeconfigs['controller-manager']}",
                "--bind-address=127.0.0.1",
                f"--secure-port={cm_port}",
                f"--cert-dir={pki / 'controller-manager'}",
                # nodeipam would allocate pod CIDRs; kwok assigns pod IPs itself
                "--controllers=*,-nodeipam",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={sa_key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--leader-elect=false",
                "--concurrent-deployment-syncs=10",
                "--concurrent-replicaset-syncs=10",
                "--concurrent-service-endpoint-syncs=10",
                "--endpointslice-updates-batch-period=0s",
                # kwok renews each node's Lease every 10 s (lease duration 40 s / 4) and sets
                # a pod Ready only once, when it gives the pod its IP (its pod-ready stage
                # selects pods without .status.podIP). With the default grace period (50 s)
                # a CPU-starved kwok or controller manager lets a Lease look stale; the node
                # lifecycle controller then marks the node Unknown and its pods NotReady
                # (MarkPodsNotReady), and nothing sets them Ready again. Nodes in the lab
                # go away only when a test deletes them, so the lab never infers a dead
                # node from a late heartbeat. See docs/lab.md ("NotReady under load").
                f"--node-monitor-grace-period={NODE_MONITOR_GRACE_PERIOD}",
                # likewise for a node's first status (default 1 min)
                f"--node-startup-grace-period={NODE_MONITOR_GRACE_PERIOD}",
                "--v=1",
            ],
        )
        self._spawn(
            "kwok",
            [
                str(bin["kwok"]),
                f"--kubeconfig={kubeconfigs['kwok']}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}={KWOK_ANNOTATION_VALUE}",
                f"--cidr={POD_CIDR}",
                "--node-ip=127.0.0.1",
            ],
        )

        def components_ready() -> bool:
            self._check_alive()
            for port in (sched_port, cm_port):
                try:
                    c = Client(f"https://127.0.0.1:{port}", self.token, timeout=2)
                    if c.request("GET", "/healthz") != "ok":
                        return False
                except (ApiError, OSError):
                    return False
            # the service-account controller has run: pods can be admitted in "default"
            return client.get("v1", "ServiceAccount", "default", "default") is not None

        client.wait("kube-scheduler, kube-controller-manager and the default service account", components_ready,
                    timeout=timeout, interval=0.1)

    def stop(self) -> None:
        """Stop every component (SIGTERM to each process group, SIGKILL after 5 s) and
        remove the working directory unless asked to keep it. Safe to call twice."""
        procs, self._procs = self._procs, {}
        _LIVE.discard(self)
        if self._client is not None:
            self._client.close()
        # the reverse order of start: nothing reconnects to a dead API server
        for p in reversed(list(procs.values())):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for p in procs.values():
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        gate, self.egress = self.egress, None
        if gate is not None:
            gate.stop()
            if gate.socket_path.parent.name.startswith("edgewise-egress-"):
                shutil.rmtree(gate.socket_path.parent, ignore_errors=True)
        data = getattr(self, "_etcd_data", None)
        if data is not None:
            shutil.rmtree(data, ignore_errors=True)
        if self._own_dir and not self._keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def pids(self) -> list[int]:
        """Process ids of the running components (for tests that check clean-up)."""
        return [p.pid for p in self._procs.values()]

    # -- using it -------------------------------------------------------------
    @property
    def client(self) -> Client:
        if self._client is None:
            raise LabError("the lab is not running (call start())")
        return self._client

    def apply(
        self, manifests: str | Mapping[str, Any] | Iterable[Mapping[str, Any]], *, dry_run: bool = False
    ) -> list[dict[str, Any]]:
        """Server-side apply YAML text, one object or many, in order; returns the
        objects as stored. Namespaces named by the objects are created first, and the
        CustomResourceDefinitions among them are established and discovered before it
        returns. Raises :class:`~edgewise.lab.client.ApiError` on the first rejection."""
        objs = _objects(manifests)
        self.ensure_namespaces({str((o.get("metadata") or {}).get("namespace") or "") for o in objs})
        stored = [self.client.apply(o, dry_run=dry_run) for o in objs]
        crds = [o for o in objs if o.get("kind") == "CustomResourceDefinition"]
        if crds and not dry_run:
            # their kinds are served (and known to the client) before this returns
            self.client.wait_established(crds)
        return stored

    def ensure_namespaces(self, names: Iterable[str]) -> None:
        for ns in sorted(n for n in names if n):
            if self.client.get("v1", "Namespace", ns) is None:
                self.client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    def add_node(
        self,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        taints: Sequence[Mapping[str, str]] = (),
        capacity: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        wait: bool = True,
    ) -> dict[str, Any]:
        """Register a node that kwok runs (Ready, pods Running with IPs). ``labels``
        are exactly the node's labels (add ``kubernetes.io/hostname`` etc. yourself, as
        :func:`edgewise.lab.nodes.node_objects` does); capacity defaults to 8 CPUs,
        32 GiB and 110 pods."""
        node = node_manifest(name, labels=labels, taints=taints, capacity=capacity, annotations=annotations)
        created = self.client.create(node)
        cap = node["status"]["capacity"]
        self.client.patch_status(node, {"status": {"capacity": cap, "allocatable": cap}})
        if wait:
            self.wait_nodes_ready([name])
        return created

    def wait_nodes_ready(self, names: Iterable[str], timeout: float = 60.0) -> None:
        want = set(names)

        def ready() -> bool:
            ok = set()
            for n in self.client.list("v1", "Node"):
                conds = {c["type"]: c["status"] for c in (n.get("status") or {}).get("conditions") or []}
                taints = (n.get("spec") or {}).get("taints") or []
                not_ready = any(t.get("key", "").startswith("node.kubernetes.io/not-ready") for t in taints)
                if conds.get("Ready") == "True" and not not_ready:
                    ok.add(n["metadata"]["name"])
            return want <= ok

        self.client.wait(f"nodes {', '.join(sorted(want))} to be Ready", ready, timeout=timeout, interval=0.1)

    def delete_nodes(self, names: Iterable[str] | None = None) -> None:
        """Delete the named nodes (all kwok nodes when ``names`` is None)."""
        for n in self.client.list("v1", "Node"):
            name = n["metadata"]["name"]
            if names is None or name in set(names):
                self.client.delete("v1", "Node", name, grace_seconds=0)

    def reset(
        self, namespaces: Iterable[str] = (), *, wait: bool = True, timeout: float = 180.0, nodes: bool = True
    ) -> None:
        """Give the next test a clean cluster: force-delete every workload and pod in
        ``namespaces`` (and the namespaces), then every node (unless ``nodes`` is false);
        with ``wait`` (default) return once the namespaces are gone, so their names can
        be used again."""
        namespaces = list(namespaces)
        for ns in namespaces:
            for api, kind in (
                ("apps/v1", "Deployment"),
                ("apps/v1", "StatefulSet"),
                ("apps/v1", "DaemonSet"),
                ("apps/v1", "ReplicaSet"),
                ("batch/v1", "Job"),
                ("v1", "Pod"),
            ):
                with contextlib.suppress(ApiError):
                    self.client.delete_collection(api, kind, ns)
            if ns not in _IMMORTAL_NAMESPACES:
                self.client.delete("v1", "Namespace", ns)
        if nodes:
            self.delete_nodes()
        if wait:
            self.wait_namespaces_gone(namespaces, timeout=timeout)

    def wait_namespaces_gone(self, namespaces: Iterable[str], *, timeout: float = 180.0) -> None:
        """Return once none of ``namespaces`` (but the immortal ones) is still being
        deleted, so their names can be used again (at most ``timeout`` seconds: the
        namespace controller took over 60 s for six namespaces on a machine running
        3-4x slower than usual, where the tests themselves passed). After ``reset(wait=False)`` this lets
        the namespace controller's work overlap with whatever comes next."""
        doomed = set(namespaces) - _IMMORTAL_NAMESPACES
        if not doomed:
            return

        def gone() -> bool:
            return not any(n["metadata"]["name"] in doomed and n["metadata"].get("deletionTimestamp")
                           for n in self.client.list("v1", "Namespace"))

        self.client.wait(f"namespaces {', '.join(sorted(doomed))} to be deleted", gone, timeout=timeout,
                         interval=0.2)

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``kubectl`` (from PATH) against the lab."""
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise LabError("kubectl is not on PATH")
        return subprocess.run(
            [kubectl, f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            check=check,
        )


def node_manifest(
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
    capacity: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Node object kwok will manage (it carries :data:`KWOK_ANNOTATION`)."""
    cap = {"cpu": "8", "memory": "32Gi", "pods": "110", **(capacity or {})}
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = [dict(t) for t in taints]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": dict(labels or {}),
            "annotations": {**(annotations or {}), KWOK_ANNOTATION: KWOK_ANNOTATION_VALUE},
        },
        "spec": spec,
        "status": {"capacity": cap, "allocatable": cap},
    }


def _objects(manifests: str | Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if isinstance(manifests, str):
        return list(load_manifests(manifests))
    if isinstance(manifests, Mapping):
        return [manifests]
    return list(manifests)


def _write_kubeconfig(path: Path, server: str, token: str, user: str) -> None:
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "lab", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": user}}],
        "current-context": "lab",
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    os.chmod(path, 0o600)


def _write_service_account_key(key: Path, pub: Path) -> None:
    """An RSA key pair that signs (and verifies) service-account tokens."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key.write_bytes(
        k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    os.chmod(key, 0o600)
    pub.write_bytes(
        k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


@contextlib.contextmanager
def running_lab(log: Any = None) -> Iterator[Lab]:
    """``with running_lab() as lab:`` — a started lab, stopped on the way out."""
    lab = Lab(log=log)
    try:
        yield lab.start()
    finally:
        lab.stop()


if __name__ == "__main__":  # pragma: no cover - manual use: python -m edgewise.lab.control_plane
    with running_lab(log=lambda m: print(m, file=sys.stderr)) as _lab:
        print(_lab.kubeconfig)
        with contextlib.suppress(KeyboardInterrupt):
            while True:  # not signal.pause(): a Ctrl-C just before it would be acted on only at the next signal
                time.sleep(0.5)
