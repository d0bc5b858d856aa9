"""The lab's API server reaches loopback and nothing else: the egress gate on its own, and
a webhook whose Service address would leave the machine, refused on the real API server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgewise.lab import ApiError, Lab
from edgewise.lab.egress import EgressGate


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[EgressGate]:
    g = EgressGate(tmp_path / "gate.sock").start()
    yield g
    g.stop()


def _echo_server() -> tuple[socket.socket, int]:
    srv = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def _connect(gate: EgressGate, request: bytes) -> tuple[socket.socket, bytes]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(str(gate.socket_path))
    s.sendall(request)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1024)
        if not chunk:
            break
        head += chunk
    return s, head


def test_gate_tunnels_to_loopback(gate: EgressGate) -> None:
    srv, port = _echo_server()
    with srv:
        s, head = _connect(gate, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        with s:
            assert head.startswith(b"HTTP/1.1 200")
            s.sendall(b"hello")
            assert s.recv(1024) == b"HELLO"
    assert gate.allowed == [f"127.0.0.1:{port}"] and gate.refused == []


@pytest.mark.parametrize("target", ["192.0.2.10:443", "10.96.0.10:443", "[2001:db8::1]:443", "example.com:443"])
def test_gate_refuses_everything_else(gate: EgressGate, target: str) -> None:
    s, head = _connect(gate, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    s.close()
    assert head.startswith(b"HTTP/1.1 403")
    assert gate.refused == [target] and gate.allowed == []


def test_gate_answers_only_connect(gate: EgressGate) -> None:
    s, head = _connect(gate, b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n")
    s.close()
    assert head.startswith(b"HTTP/1.1 405")
    assert gate.refused == [] and gate.allowed == []


def test_api_server_webhook_call_stays_on_the_host(lab_clean: Lab) -> None:
    """A webhook Service's ClusterIP is not on this host: without the gate the API
    server would dial it through the default route. With it, the call is refused at the
    gate, and a ``failurePolicy: Fail`` webhook rejects the object with that reason."""
    lab = lab_clean
    assert lab.egress is not None
    ns = "lab-egress"
    lab.ensure_namespaces([ns])
    svc = lab.client.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hook", "namespace": ns},
            "spec": {"ports": [{"port": 443, "targetPort": 8443}]},
        }
    )
    cluster_ip = svc["spec"]["clusterIP"]
    webhook = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "edgewise-lab-egress-test"},
        "webhooks": [
            {
                "name": "hook.lab-egress.edgewise.dev",
                "clientConfig": {"service": {"name": "hook", "namespace": ns, "port": 443}},
                "rules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]}
                ],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 5,
            }
        ],
    }
    lab.client.apply(webhook)
    try:
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe", "namespace": ns}}
        # the API server's webhook configuration cache catches up within a moment
        def refused() -> bool:
            try:
                lab.client.apply(cm)
            except ApiError as e:
                assert "hook.lab-egress.edgewise.dev" in str(e)
                return True
            lab.client.delete("v1", "ConfigMap", "probe", ns)
            return False

        lab.client.wait("the webhook to be called", refused, timeout=30, interval=0.5)
        assert f"{cluster_ip}:443" in lab.egress.refused
    finally:
        name = webhook["metadata"]["name"]
        lab.client.delete("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", name)
