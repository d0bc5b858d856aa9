"""EW116: Kubernetes Secrets without envelope encryption."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import m


class SecretsNotEncrypted(Rule):
    id = "EW116"
    name = "secrets-not-encrypted"
    severity = Severity.WARNING
    summary = "Encrypt Kubernetes Secrets with a KMS key (secretsEncryption.keyARN)."
    rationale = (
        "Without envelope encryption, Secrets sit in etcd encrypted only by the storage layer; "
        "EKS encrypts them with a customer managed KMS key when the cluster names one "
        "(https://docs.aws.amazon.com/eks/latest/userguide/envelope-encryption.html). eksctl "
        "takes it as secretsEncryption.keyARN (https://docs.aws.amazon.com/eks/latest/eksctl/"
        "kms-encryption.html). A key costs about 1 USD a month, so it is on by default."
    )
    fix = "add secretsEncryption: {keyARN: arn:aws:kms:<region>:<account>:key/<id>}"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for cfg in ctx.cluster_configs:
            if m(cfg.body.get("outpost")).get("controlPlaneOutpostARN"):
                continue  # local clusters on Outposts: eksctl says KMS encryption is not supported there
            key = m(cfg.body.get("secretsEncryption")).get("keyARN")
            if not key:
                yield ctx.finding(self, cfg, "Kubernetes Secrets are not encrypted with a KMS key", path=("metadata",))
