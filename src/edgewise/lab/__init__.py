"""A real Kubernetes control plane on loopback, for ``edgewise verify`` and the tests.

The programs are built from the Go module proxy by ``make lab`` (``tools/lab-build.sh``:
kube-apiserver, kube-scheduler, kube-controller-manager and kube-proxy from
``k8s.io/kubernetes`` v1.34.4, etcd v3.6.5, kwok v0.7.0, helm v3.22.0) into the checkout's
``.tools/bin/``; :func:`find_program` looks there, in ``$EDGEWISE_LAB_BIN`` and on
``PATH``.

What runs: etcd (data on tmpfs, no fsync), kube-apiserver (static token file, generated
service-account key, RBAC, self-signed serving certificate, 127.0.0.1 only),
kube-scheduler and kube-controller-manager (``--controllers '*,-nodeipam'``, their own
RBAC identities), and kwok, which acts as the kubelet of every node carrying the
annotation ``kwok.x-k8s.io/node: fake`` (:data:`KWOK_ANNOTATION`): nodes turn Ready, pods
bound to them turn Running with an IP from 10.244.0.0/16. There are no containers: what
you test is the API server (admission, validation, defaulting, CRD schemas), the
scheduler's real decisions and the controllers (Deployments, ReplicaSets,
EndpointSlices with hints, namespaces, garbage collection). Boot takes a few seconds.

Every process runs in its own process group and dies with the Python process that
started it (``PR_SET_PDEATHSIG``); :meth:`Lab.stop`, the context manager, ``atexit`` and
SIGTERM/SIGHUP handlers stop them all, so nothing is left behind, Ctrl-C included.

Python API::

    from edgewise.lab import Lab

    with Lab() as lab:                      # or lab = Lab().start(); ...; lab.stop()
        lab.kubeconfig                      # Path of an admin kubeconfig (token auth)
        lab.server, lab.token               # https://127.0.0.1:PORT and its bearer token
        lab.add_node("n1", labels={"kubernetes.io/hostname": "n1",
                                   "topology.kubernetes.io/zone": "us-east-1a"},
                     taints=[{"key": "edgewise.dev/edge", "value": "true", "effect": "NoSchedule"}],
                     capacity={"cpu": "4", "memory": "16Gi"})   # waits until Ready
        lab.apply(yaml_text_or_dicts)       # server-side apply, in order; namespaces created
        lab.apply(objs, dry_run=True)       # server-side dry run
        c = lab.client                      # edgewise.lab.client.Client (JSON REST)
        c.list("v1", "Pod", "default", label_selector="app=web")
        c.get("apps/v1", "Deployment", "web", "default")   # None when absent
        c.create(obj); c.apply(obj); c.delete("v1", "Pod", "p", "default", grace_seconds=0)
        c.wait("what", lambda: ..., timeout=30)             # poll until truthy
        lab.kubectl("get", "pods", "-A")    # kubectl from PATH against the lab
        lab.reset(["ns1", "ns2"])           # force-delete workloads/pods/namespaces, then all nodes

:func:`edgewise.lab.nodes.node_objects` turns a topology into the nodes its node groups
register on AWS (labels, taints, capacity); :mod:`edgewise.lab.placement` and
:mod:`edgewise.lab.endpoints` read where pods were bound and what EndpointSlices hold.

In the test suite (``tests/conftest.py``) the session-scoped fixture ``lab`` starts one
lab per pytest process (each ``-n`` worker has its own) and stops it at the end; tests
sharing it must clean up their nodes and namespaces (``lab.reset``) because nodes are
cluster-wide: ``lab_clean`` is a function-scoped fixture that does that after the test.
"""

from __future__ import annotations

from .client import ApiError, Client
from .control_plane import (
    KWOK_ANNOTATION,
    LAB_PROGRAMS,
    Lab,
    LabError,
    find_program,
    node_manifest,
    running_lab,
    sweep_stale_dirs,
)

__all__ = [
    "KWOK_ANNOTATION",
    "LAB_PROGRAMS",
    "ApiError",
    "Client",
    "Lab",
    "LabError",
    "find_program",
    "node_manifest",
    "running_lab",
    "sweep_stale_dirs",
]
