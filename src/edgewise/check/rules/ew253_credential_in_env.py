"""EW253: a credential written into a container's environment."""

from __future__ import annotations

from collections.abc import Iterator

from ...spec.credentials import looks_like_credential
from ..model import CheckContext, Finding, Rule, Severity
from ._common import m, seq
from ._pods import containers, pod_templates


class CredentialInEnv(Rule):
    id = "EW253"
    name = "credential-in-env"
    severity = Severity.WARNING
    summary = "A literal env value that looks like a credential should come from a Secret."
    rationale = (
        "A literal env value is stored in the workload object itself: anyone who can read "
        "the Deployment (or the manifests in git) reads the password. A Secret is a separate "
        "object with its own RBAC and can be encrypted at rest "
        "(https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-environment-variables). "
        "Flagged: variables named like credentials (*_PASSWORD, *_TOKEN, *_SECRET, *API_KEY, ...) "
        "with a literal value, and values that carry one (a URL or connection string with a "
        "password, an AWS access key id, a private key)."
    )
    fix = "move the value into a Secret and use valueFrom.secretKeyRef"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for pod in pod_templates(ctx):
            for path, c in containers(pod):
                for i, e in enumerate(seq(c.get("env"))):
                    env = m(e)
                    value = env.get("value")
                    if not isinstance(value, str):
                        continue
                    why = looks_like_credential(str(env.get("name", "")), value)
                    if why:
                        yield ctx.finding(
                            self,
                            pod.obj,
                            f"{pod.obj.ref}: container {c.get('name', path[-1])} env "
                            f"{env.get('name')} {why}",
                            path=(*path, "env", i),
                        )
