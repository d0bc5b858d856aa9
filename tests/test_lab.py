"""The lab itself: a real control plane that schedules, runs (kwok) and cleans up."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edgewise.lab import ApiError, Client, Lab, find_program, sweep_stale_dirs, threads

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: lab-smoke}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {topology.kubernetes.io/zone: us-east-1a}
      containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: lab-smoke}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead; it only waits for its parent to reap it
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_versions_are_stamped(lab: Lab) -> None:
    version = lab.client.request("GET", "/version")
    assert version["gitVersion"] == "v1.34.4"
    assert (version["major"], version["minor"]) == ("1", "34")
    if shutil.which("kubectl"):
        out = lab.kubectl("version", "-o", "json")
        assert json.loads(out.stdout)["serverVersion"]["gitVersion"] == "v1.34.4"
    helm = subprocess.run([str(find_program("helm")), "version", "--short"], capture_output=True, text=True)
    assert helm.returncode == 0 and helm.stdout.startswith("v3.22.0"), helm.stdout + helm.stderr
    etcd = subprocess.run([str(find_program("etcd")), "--version"], capture_output=True, text=True)
    assert "etcd Version: 3.6.5" in etcd.stdout


def test_pods_are_scheduled_run_and_get_endpoints(lab_clean: Lab) -> None:
    lab = lab_clean
    lab.add_node("smoke-a", labels={"kubernetes.io/hostname": "smoke-a", "topology.kubernetes.io/zone": "us-east-1a"})
    lab.add_node("smoke-b", labels={"kubernetes.io/hostname": "smoke-b", "topology.kubernetes.io/zone": "us-east-1b"})
    lab.apply(DEPLOYMENT)
    c = lab.client

    def running() -> list[dict[str, object]]:
        pods = c.list("v1", "Pod", "lab-smoke", label_selector="app=web")
        ok = [p for p in pods if p["status"].get("phase") == "Running" and p["status"].get("podIP")]
        return pods if len(ok) == 2 else []

    pods = c.wait("2 web pods Running", running, timeout=60)
    assert {p["spec"]["nodeName"] for p in pods} == {"smoke-a"}  # the nodeSelector, honoured by the scheduler

    def slices() -> list[dict[str, object]]:
        got = c.list("discovery.k8s.io/v1", "EndpointSlice", "lab-smoke",
                     label_selector="kubernetes.io/service-name=web")
        eps = [e for s in got for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")]
        return eps if len(eps) == 2 else []

    endpoints = c.wait("2 ready endpoints", slices, timeout=60)
    assert {e["zone"] for e in endpoints} == {"us-east-1a"}
    assert {e["addresses"][0] for e in endpoints} == {p["status"]["podIP"] for p in pods}


def test_unschedulable_pod_is_pending_with_the_schedulers_reason(lab_clean: Lab) -> None:
    lab = lab_clean
    lab.add_node(
        "smoke-edge",
        labels={"kubernetes.io/hostname": "smoke-edge"},
        taints=[{"key": "edgewise.dev/edge", "value": "true", "effect": "NoSchedule"}],
    )
    lab.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "lab-pending"},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        }
    )

    def unschedulable() -> str:
        pod = lab.client.get("v1", "Pod", "p", "lab-pending") or {}
        for cond in pod.get("status", {}).get("conditions") or []:
            if cond["type"] == "PodScheduled" and cond.get("reason") == "Unschedulable":
                return str(cond["message"])
        return ""

    message = lab.client.wait("the pod to be Unschedulable", unschedulable, timeout=30)
    assert "1 node(s) had untolerated taint" in message


def test_rejects_invalid_objects_and_unknown_tokens(lab: Lab) -> None:
    with pytest.raises(ApiError) as bad:
        lab.apply(
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x", "namespace": "default"},
             "spec": {"ports": [{"port": 99999}]}},
            dry_run=True,
        )
    assert bad.value.status == 422 and "99999" in bad.value.message
    with pytest.raises(ApiError) as denied:
        Client(lab.server, "not-a-token").list("v1", "Node")
    assert denied.value.status == 401


def test_a_custom_resource_can_be_made_as_soon_as_its_crd_is_applied(lab: Lab) -> None:
    """The API server establishes a CRD asynchronously: Lab.apply returns only once the
    CRD is Established and its kind is in the client's discovery, so an object of that
    kind made right after is not refused as unknown (four controller tests once failed
    so under load)."""
    name = f"probes{os.getpid()}.lab.edgewise.dev"
    plural = name.split(".")[0]
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": name},
           "spec": {"group": "lab.edgewise.dev", "scope": "Cluster",
                    "names": {"plural": plural, "singular": plural[:-1], "kind": "Probe"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    try:
        lab.apply([crd])
        stored = lab.client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
        assert stored is not None
        assert {c["type"]: c["status"] for c in stored["status"]["conditions"]}.get("Established") == "True"
        assert lab.client.resource("lab.edgewise.dev/v1", "Probe").plural == plural
        made = lab.client.create({"apiVersion": "lab.edgewise.dev/v1", "kind": "Probe", "metadata": {"name": "p"}})
        assert made["metadata"]["name"] == "p"
    finally:
        with contextlib.suppress(ApiError):
            lab.client.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_no_process_left_behind(how: signal.Signals, tmp_path: object) -> None:
    script = textwrap.dedent(
        """
        import faulthandler, signal, sys, time
        from edgewise.lab import Lab
        faulthandler.register(signal.SIGUSR1)  # the test asks for every thread's stack if it hangs
        # the signal state of a program started from a shell, whatever the test runner's
        # process passed down (its mask and ignored signals are inherited across exec);
        # what was inherited is printed, for the report of a hang
        print("inherited: SIGINT handler", signal.getsignal(signal.SIGINT), "blocked",
              sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])), file=sys.stderr, flush=True)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.signal(signal.SIGINT, signal.default_int_handler)
        lab = Lab().start()
        print(" ".join(map(str, lab.pids)), flush=True)
        # short sleeps, as a program waiting on a lab does (verify polls): CPython acts on
        # a signal between bytecodes, so one that arrives after the last such check and
        # before a long time.sleep has entered its system call waits for the sleep to end
        while True:
            time.sleep(0.1)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 5, proc.stderr.read() if proc.stderr else line
        assert all(_alive(p) for p in pids)
        proc.send_signal(how)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # where it is stuck, printed to its stderr
            time.sleep(1)
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"the lab's process did not end within 30 s of {how.name}; its threads:\n{err}")
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p for p in pids if _alive(p)] == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_stale_lab_directories_of_dead_processes_are_swept(tmp_path: Path) -> None:
    # a lab killed with SIGKILL leaves its directories; the next lab removes them, and
    # only them: a live process's directories and names it did not write stay
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = [tmp_path / f"edgewise-etcd-{gone.pid}-abc_12", tmp_path / f"edgewise-lab-{gone.pid}-xyz"]
    live = tmp_path / f"edgewise-etcd-{os.getpid()}-abc_12"
    foreign = [tmp_path / "edgewise-etcd-notapid", tmp_path / "edgewise-labels"]
    for d in [*dead, live, *foreign]:
        (d / "member").mkdir(parents=True)
    removed = sweep_stale_dirs(tmp_path)
    assert sorted(removed) == sorted(dead)
    assert all(not d.exists() for d in dead)
    assert live.is_dir() and all(d.is_dir() for d in foreign)


def test_a_late_kwok_heartbeat_never_marks_nodes_or_pods_not_ready(lab: Lab) -> None:
    """kwok renews node Leases every 10 s and sets a pod Ready only when it gives it an
    IP; the controller manager's node lifecycle controller marks a node Unknown and its
    pods NotReady once a Lease looks older than --node-monitor-grace-period (default
    50 s), which a CPU-starved lab reached. The lab's controller manager runs with a
    grace period no test run comes near: read it back from the running process."""
    from edgewise.lab.control_plane import NODE_MONITOR_GRACE_PERIOD

    kcm = Client(lab.controller_manager, lab.token, timeout=10)
    configz = kcm.request("GET", "/configz")
    lifecycle = configz["kubecontrollermanager.config.k8s.io"]["NodeLifecycleController"]
    assert NODE_MONITOR_GRACE_PERIOD == "24h"
    assert lifecycle["NodeMonitorGracePeriod"] == lifecycle["NodeStartupGracePeriod"] == "24h0m0s", lifecycle


def test_ports_are_drawn_below_the_kernels_ephemeral_range() -> None:
    """Outgoing connections take ports of the ephemeral range at any moment; a port for
    a server started later must come from below it."""
    from edgewise.lab import control_plane

    low, _ = control_plane._ephemeral_range()
    ports = {control_plane.free_port() for _ in range(50)}
    assert all(1024 < p < low for p in ports), sorted(ports)
    assert len(ports) > 40  # drawn at random: two labs starting at once rarely meet


def test_a_start_that_loses_a_port_starts_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """etcd's client port is taken between choosing it and binding it (another process
    listens there): the first start fails with 'address already in use', the second
    takes other ports and the lab runs."""
    import socket

    from edgewise.lab import control_plane

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    real = control_plane.free_port
    calls = iter(range(1_000))

    def first_port_taken() -> int:
        return int(taken.getsockname()[1]) if next(calls) == 0 else real()

    monkeypatch.setattr(control_plane, "free_port", first_port_taken)
    said: list[str] = []
    lab = Lab(workdir=tmp_path / "lab", log=said.append)
    try:
        lab.start()
        assert lab.client.get("v1", "Namespace", "default") is not None
        assert any("starting again" in m and "address already in use" in m for m in said), said
    finally:
        lab.stop()
        taken.close()


def test_the_labs_threads_leave_the_process_signals_to_the_main_thread() -> None:
    """A signal sent to the process reaches a thread that does not block it; Python acts
    on it in the main thread only. The lab's threads (the egress gate, and those it
    starts per connection) block SIGINT, SIGTERM and SIGHUP, so the main thread gets
    them even while it sleeps."""
    script = textwrap.dedent(
        """
        import json, os, signal, time
        from edgewise.lab import Lab
        lab = Lab().start()
        lab.client.list("v1", "Node")  # the API server has dialled out through the gate by now
        masks = {}
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
            masks[tid] = int(fields["SigBlk"].strip(), 16)
        print(json.dumps({"main": str(os.getpid()), "masks": masks}))
        lab.stop()
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    wanted = sum(1 << (s - 1) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
    masks = {tid: mask for tid, mask in report["masks"].items()}
    assert masks.pop(report["main"]) & wanted == 0
    assert masks, "the lab runs threads beside the main thread"
    assert all(mask & wanted == wanted for mask in masks.values()), masks


def test_a_lab_thread_blocks_the_process_signals_and_its_starter_does_not() -> None:
    seen: list[set[signal.Signals]] = []
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    threads.start(lambda: seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))).join(5)
    assert seen and seen[0] >= threads.PROCESS_SIGNALS
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
    assert not before & threads.PROCESS_SIGNALS
