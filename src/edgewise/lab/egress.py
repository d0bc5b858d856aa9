"""The lab API server's only way out: an HTTP CONNECT gate on a Unix socket that lets it
reach loopback and nothing else.

The API server dials "the cluster" for admission webhooks, aggregated APIs and kubelet
connections. In the lab there is no kube-proxy in the host's network namespace, so a
webhook's Service address (a ClusterIP such as 10.96.0.10) is routed like any other
address: out of the machine, through the default route, to whatever answers there on a
user's network. The API server's egress selector sends every "cluster" connection
through a proxy instead, and this gate is that proxy: it answers ``200`` to a ``CONNECT``
towards a loopback address and splices the bytes, and refuses every other destination
with ``403``, recording it. A webhook the lab cannot serve then fails fast and visibly
(its ``failurePolicy`` decides what the API server does), and nothing leaves the host.

The API server speaks the HTTPConnect protocol of the egress selector here: it writes
``CONNECT host:port HTTP/1.1`` and reads an HTTP response; ``200`` opens the tunnel.
https://kubernetes.io/docs/tasks/extend-kubernetes/setup-konnectivity/ (the
``EgressSelectorConfiguration``; ``proxyProtocol: HTTPConnect``, ``transport.uds``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
from pathlib import Path

from . import threads

__all__ = ["EgressGate", "egress_selector_config", "pump"]

_MAX_REQUEST = 8192


def egress_selector_config(socket_path: Path) -> str:
    """The API server's ``--egress-selector-config-file`` text: "cluster" traffic goes
    through the gate at ``socket_path``."""
    return (
        "apiVersion: apiserver.k8s.io/v1beta1\n"
        "kind: EgressSelectorConfiguration\n"
        "egressSelections:\n"
        "- name: cluster\n"
        "  connection:\n"
        "    proxyProtocol: HTTPConnect\n"
        "    transport:\n"
        "      uds:\n"
        f"        udsName: {socket_path}\n"
    )


def _allowed(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: resolving it would already be a way out


class EgressGate:
    """A CONNECT proxy on a Unix socket that tunnels to loopback only.

    ``refused`` lists every ``host:port`` it turned away, in order (tests and ``verify``
    read it to say which webhook or API service the lab could not reach)."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = Path(socket_path)
        self.refused: list[str] = []
        self.allowed: list[str] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    def start(self) -> EgressGate:
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(self.socket_path))
        os.chmod(self.socket_path, 0o600)
        server.listen(64)
        self._server = server
        self._thread = threads.start(self._serve, name="lab-egress-gate")
        return self

    def stop(self) -> None:
        self._closing.set()
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    def _serve(self) -> None:
        server = self._server
        while server is not None and not self._closing.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threads.start(self._handle, conn)

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(1024)
                if not chunk or len(head) > _MAX_REQUEST:
                    return
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split()
            if len(parts) != 3 or parts[0] != "CONNECT" or ":" not in parts[1]:
                conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            target = parts[1]
            host, _, port = target.rpartition(":")
            if not _allowed(host) or not port.isdigit():
                with self._lock:
                    self.refused.append(target)
                body = f"the edgewise lab reaches loopback only; refused {target}\n".encode()
                conn.sendall(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                return
            try:
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
            except OSError as exc:
                body = f"{target}: {exc}\n".encode()
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                return
            with self._lock:
                self.allowed.append(target)
            with upstream:
                upstream.settimeout(None)
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                rest = head.split(b"\r\n\r\n", 1)[1]
                if rest:
                    upstream.sendall(rest)
                back = threads.start(pump, upstream, conn)
                pump(conn, upstream)
                back.join()


def pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy ``src`` to ``dst`` until ``src`` ends, then end ``dst``'s writing side."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
