"""EW251: a pod without the restricted security settings."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import m, seq
from ._pods import containers, pod_templates


class PodNotRestricted(Rule):
    id = "EW251"
    name = "pod-not-restricted"
    severity = Severity.WARNING
    summary = (
        "A container should not allow privilege escalation, should drop ALL capabilities, and its pod "
        "should use the RuntimeDefault seccomp profile and run as non-root (or say it runs as root)."
    )
    rationale = (
        "Kubernetes Pod Security Standards, 'restricted' profile "
        "(https://kubernetes.io/docs/concepts/security/pod-security-standards/): "
        "allowPrivilegeEscalation false, capabilities drop ALL (only NET_BIND_SERVICE may be "
        "added back), seccompProfile RuntimeDefault or Localhost, runAsNonRoot true. Edge "
        "nodes sit in carrier and customer sites outside the Region's data centres, so a "
        "container escape there is worse, not better. An image that must start as root says "
        "so explicitly with runAsUser: 0, which this rule accepts (the other settings still apply)."
    )
    fix = (
        "set securityContext.allowPrivilegeEscalation: false and capabilities.drop: [ALL] on "
        "each container, and seccompProfile.type: RuntimeDefault and runAsNonRoot: true (or "
        "runAsUser: 0 for images that need root) on the pod"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for pod in pod_templates(ctx):
            psc = m(pod.spec.get("securityContext"))
            missing: list[str] = []
            seccomp_pod = m(psc.get("seccompProfile")).get("type")
            for path, c in containers(pod):
                sc = m(c.get("securityContext"))
                gaps = []
                if sc.get("allowPrivilegeEscalation") is not False:
                    gaps.append("allowPrivilegeEscalation is not false")
                if "ALL" not in [str(x) for x in seq(m(sc.get("capabilities")).get("drop"))]:
                    gaps.append("capabilities are not dropped (drop: [ALL])")
                seccomp = m(sc.get("seccompProfile")).get("type") or seccomp_pod
                if seccomp not in ("RuntimeDefault", "Localhost"):
                    gaps.append("no RuntimeDefault seccomp profile")
                non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
                user = sc.get("runAsUser", psc.get("runAsUser"))
                if non_root is not True and user != 0:
                    gaps.append("runAsNonRoot is not set (and runAsUser is not an explicit 0)")
                if gaps:
                    name = c.get("name", path[-1])
                    missing.append(f"container {name}: " + "; ".join(gaps))
            if missing:
                yield ctx.finding(
                    self,
                    pod.obj,
                    f"{pod.obj.ref} is not restricted: " + " | ".join(missing),
                    path=pod.path,
                )
