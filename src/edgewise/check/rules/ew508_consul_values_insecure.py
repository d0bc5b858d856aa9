"""EW508: consul-k8s Helm values that install Consul without ACLs, TLS or gossip encryption."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import m

DOCS = "https://developer.hashicorp.com/consul/docs/k8s/helm"


class ConsulValuesInsecure(Rule):
    id = "EW508"
    name = "consul-values-insecure"
    severity = Severity.WARNING
    summary = (
        "consul-k8s values should turn on ACLs, TLS and gossip encryption and give the servers a "
        "StorageClass (and an Enterprise image a licence)."
    )
    rationale = (
        f"consul-k8s Helm chart ({DOCS}): global.acls.manageSystemACLs bootstraps ACLs (without "
        "them intentions do not bind callers to identities); global.tls.enabled encrypts agent "
        "and dataplane RPC; global.gossipEncryption (autoGenerate or a Secret) encrypts "
        "server gossip. server.storageClass: the servers keep their Raft data on a "
        "PersistentVolumeClaim, and EKS clusters from 1.30 on have no default StorageClass, so "
        "without one the servers stay Pending. Consul Enterprise needs global.enterpriseLicense "
        "(https://developer.hashicorp.com/consul/docs/k8s/deployment-configurations/consul-enterprise)."
    )
    fix = (
        "set global.acls.manageSystemACLs: true, global.tls.enabled: true, "
        "global.gossipEncryption.autoGenerate: true and server.storageClass (edgewise plans "
        "write these in apps/<app>/consul-values.yaml)"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for values in ctx.of_kind("ConsulHelmValues"):
            g = m(values.body.get("global"))
            gaps = []
            if m(g.get("acls")).get("manageSystemACLs") is not True:
                gaps.append("ACLs are off (global.acls.manageSystemACLs)")
            if m(g.get("tls")).get("enabled") is not True:
                gaps.append("TLS is off (global.tls.enabled)")
            gossip = m(g.get("gossipEncryption"))
            if gossip.get("autoGenerate") is not True and not gossip.get("secretName"):
                gaps.append("gossip is not encrypted (global.gossipEncryption)")
            server = m(values.body.get("server"))
            if server.get("enabled", True) is not False and not server.get("storageClass"):
                gaps.append("server.storageClass is not set (EKS 1.30+ has no default StorageClass)")
            if str(g.get("image") or "").endswith("-ent") and not m(g.get("enterpriseLicense")).get("secretName"):
                gaps.append("an Enterprise image without global.enterpriseLicense")
            if gaps:
                yield ctx.finding(
                    self, values, f"Consul Helm values {values.name}: " + "; ".join(gaps), path=("global",)
                )
