"""A small Kubernetes REST client for the lab (and ``edgewise verify --kubeconfig``).

Bearer-token authentication, JSON over one kept-alive HTTPS connection, API discovery
so any kind (CRDs included) can be created or server-side applied by its manifest. It
exists so the product needs no Kubernetes client library: the lab's API server is the
only thing it talks to.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ApiError", "Client", "Resource"]

FIELD_MANAGER = "edgewise"


class ApiError(Exception):
    """A non-2xx answer from the API server (``status`` is the HTTP code)."""

    def __init__(self, status: int, reason: str, message: str, body: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body: Mapping[str, Any] = body or {}


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the REST API."""

    group_version: str  # "v1" or "apps/v1"
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str = "", name: str = "") -> str:
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        ns = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        tail = f"/{urllib.parse.quote(name)}" if name else ""
        return f"{base}{ns}/{self.plural}{tail}"


class Client:
    """JSON client for one API server.

    ``Client(server, token)``, or :meth:`from_kubeconfig`. Methods raise
    :class:`ApiError` on an error answer; ``get`` returns ``None`` for 404.
    """

    def __init__(self, server: str, token: str, *, ca_file: str | None = None, timeout: float = 30.0) -> None:
        u = urllib.parse.urlsplit(server)
        if u.scheme != "https" or not u.hostname:
            raise ValueError(f"API server URL must be https://host:port, got {server!r}")
        self.server = server
        self._host = u.hostname
        self._port = u.port or 443
        self._prefix = u.path.rstrip("/")
        self._token = token
        if ca_file:
            self._ssl = ssl.create_default_context(cafile=ca_file)
        else:  # the lab's self-signed loopback server
            self._ssl = ssl._create_unverified_context()
        self._timeout = timeout
        self._local = threading.local()
        self._resources: dict[tuple[str, str], Resource] = {}

    @classmethod
    def from_kubeconfig(cls, path: str | Path, context: str | None = None) -> Client:
        """The current (or named) context of a kubeconfig that uses a bearer token."""
        p = Path(path)
        cfg = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        ctx_name = context or cfg.get("current-context")
        ctxs = {c["name"]: c["context"] for c in cfg.get("contexts") or []}
        if ctx_name not in ctxs:
            raise ValueError(f"{p}: context {ctx_name!r} not found (contexts: {', '.join(sorted(ctxs)) or 'none'})")
        ctx = ctxs[ctx_name]
        clusters = {c["name"]: c["cluster"] for c in cfg.get("clusters") or []}
        users = {u["name"]: u["user"] for u in cfg.get("users") or []}
        cluster = clusters.get(ctx.get("cluster"))
        user = users.get(ctx.get("user"))
        if cluster is None or user is None:
            raise ValueError(f"{p}: context {ctx_name!r} names a cluster or user that is not defined")
        token = user.get("token")
        if not token and user.get("tokenFile"):
            token = Path(user["tokenFile"]).read_text(encoding="utf-8").strip()
        if not token:
            raise ValueError(
                f"{p}: user {ctx.get('user')!r} has no bearer token; edgewise talks to a cluster with a token "
                "(e.g. a service-account token: kubectl create token ...)"
            )
        ca = cluster.get("certificate-authority")
        if cluster.get("insecure-skip-tls-verify"):
            ca = None
        elif cluster.get("certificate-authority-data"):
            import base64
            import tempfile

            f = tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False)  # noqa: SIM115
            f.write(base64.b64decode(cluster["certificate-authority-data"]))
            f.close()
            ca = f.name
        return cls(str(cluster["server"]), str(token), ca_file=ca)

    # -- transport --------------------------------------------------------------
    def _conn(self) -> http.client.HTTPSConnection:
        conn: http.client.HTTPSConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(self._host, self._port, context=self._ssl, timeout=self._timeout)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """One request; the decoded JSON answer (or raw text when it is not JSON)."""
        url = self._prefix + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in range(3):
            conn = self._conn()
            try:
                conn.request(method, url, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
                time.sleep(0.2)
        text = raw.decode("utf-8", "replace")
        try:
            decoded: Any = json.loads(text) if text else {}
        except json.JSONDecodeError:
            decoded = text
        if resp.status >= 400:
            if isinstance(decoded, dict):
                raise ApiError(resp.status, str(decoded.get("reason", "")), str(decoded.get("message", text)), decoded)
            raise ApiError(resp.status, resp.reason, text)
        return decoded

    # -- discovery --------------------------------------------------------------
    def discover(self) -> None:
        """(Re)read the API's kinds (call after installing CRDs)."""
        found: dict[tuple[str, str], Resource] = {}
        gvs = ["v1"]
        for g in self.request("GET", "/apis").get("groups", []):
            gvs.extend(v["groupVersion"] for v in g.get("versions", []))
        for gv in gvs:
            path = "/api/v1" if gv == "v1" else f"/apis/{gv}"
            try:
                listing = self.request("GET", path)
            except ApiError:
                continue  # an aggregated API that is not serving
            for r in listing.get("resources", []):
                if "/" in r["name"]:
                    continue
                found[(gv, r["kind"])] = Resource(gv, r["kind"], r["name"], bool(r["namespaced"]))
        self._resources = found

    def resource(self, api_version: str, kind: str) -> Resource:
        """The REST location of ``kind`` in ``api_version`` (discovering on a miss)."""
        key = (api_version, kind)
        if key not in self._resources:
            self.discover()
        if key not in self._resources:
            raise ApiError(404, "NotFound", f"the server has no kind {kind} in {api_version} (CRD not installed?)")
        return self._resources[key]

    # -- verbs ------------------------------------------------------------------
    def _res(self, obj: Mapping[str, Any]) -> tuple[Resource, str, str]:
        res = self.resource(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        meta = obj.get("metadata") or {}
        ns = str(meta.get("namespace") or ("default" if res.namespaced else ""))
        return res, ns, str(meta.get("name", ""))

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        res = self.resource(api_version, kind)
        try:
            out: dict[str, Any] = self.request("GET", res.path(namespace, name))
        except ApiError as e:
            if e.status == 404:
                return None
            raise
        return out

    def list(
        self, api_version: str, kind: str, namespace: str = "", *, label_selector: str = "", field_selector: str = ""
    ) -> list[dict[str, Any]]:
        res = self.resource(api_version, kind)
        params = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        items: list[dict[str, Any]] = self.request("GET", res.path(namespace), params=params).get("items", [])
        return items

    def create(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        res, ns, _ = self._res(obj)
        params = {"dryRun": "All"} if dry_run else None
        out: dict[str, Any] = self.request("POST", res.path(ns), dict(obj), params=params)
        return out

    def apply(self, obj: Mapping[str, Any], *, dry_run: bool = False, manager: str = FIELD_MANAGER) -> dict[str, Any]:
        """Server-side apply (``kubectl apply --server-side --force-conflicts``)."""
        res, ns, name = self._res(obj)
        params = {"fieldManager": manager, "force": "true"}
        if dry_run:
            params["dryRun"] = "All"
        out: dict[str, Any] = self.request(
            "PATCH", res.path(ns, name), dict(obj), params=params, content_type="application/apply-patch+yaml"
        )
        return out

    def patch_status(self, obj: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
        res, ns, name = self._res(obj)
        out: dict[str, Any] = self.request(
            "PATCH", res.path(ns, name) + "/status", dict(patch), content_type="application/merge-patch+json"
        )
        return out

    def delete(
        self, api_version: str, kind: str, name: str, namespace: str = "", *, grace_seconds: int | None = None
    ) -> None:
        res = self.resource(api_version, kind)
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if grace_seconds is not None:
            body["gracePeriodSeconds"] = grace_seconds  # type: ignore[assignment]
        try:
            self.request("DELETE", res.path(namespace, name), body)
        except ApiError as e:
            if e.status != 404:
                raise

    def delete_collection(
        self, api_version: str, kind: str, namespace: str = "", *, label_selector: str = "", grace_seconds: int = 0
    ) -> None:
        res = self.resource(api_version, kind)
        params = {"gracePeriodSeconds": str(grace_seconds)}
        if label_selector:
            params["labelSelector"] = label_selector
        self.request("DELETE", res.path(namespace), params=params)

    def wait_established(self, crds: Iterable[Mapping[str, Any]], *, timeout: float = 60.0) -> None:
        """Wait until every CRD of ``crds`` is ``Established`` and each kind it serves is in
        the API's discovery, which is then current. An object of a kind whose CRD was
        applied a moment ago is otherwise refused as unknown (the API server establishes
        a CRD asynchronously; ``kubectl wait --for=condition=Established`` exists for
        this: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#create-a-customresourcedefinition)."""
        crds = list(crds)
        kinds = {(f"{c['spec']['group']}/{v['name']}", str(c["spec"]["names"]["kind"]))
                 for c in crds for v in c["spec"].get("versions") or [] if v.get("served", True)}

        def ready() -> bool:
            for c in crds:
                got = self.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", str(c["metadata"]["name"]))
                conds = {x["type"]: x["status"] for x in ((got or {}).get("status") or {}).get("conditions") or []}
                if conds.get("Established") != "True":
                    return False
            self.discover()
            return kinds <= set(self._resources)

        self.wait(f"{len(crds)} CRD(s) to be established and discovered", ready, timeout=timeout)

    def wait(
        self, what: str, probe: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.1
    ) -> Any:
        """Call ``probe`` until it returns something truthy; ``TimeoutError`` naming ``what``."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            try:
                got = probe()
                if got:
                    return got
            except ApiError as e:  # e.g. a kind not served yet
                last_error = e
            if time.monotonic() > deadline:
                extra = f" (last error: {last_error})" if last_error else ""
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
            time.sleep(interval)


def load_manifests(text: str) -> Iterable[dict[str, Any]]:
    """The mappings of a multi-document YAML text (``List`` kinds flattened)."""
    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict):
            if doc.get("kind") == "List":
                yield from (i for i in doc.get("items") or [] if isinstance(i, dict))
            else:
                yield doc
