"""EW451: an internet-facing ALB that serves plain HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import ALB_SCHEME, is_alb, m, seq

LISTEN_PORTS = "alb.ingress.kubernetes.io/listen-ports"
SSL_REDIRECT = "alb.ingress.kubernetes.io/ssl-redirect"


def _listens_https(value: str | None) -> bool:
    if not value:
        return False
    try:
        ports = json.loads(value)
    except ValueError:
        return "HTTPS" in value
    return any(isinstance(p, dict) and "HTTPS" in p for p in seq(ports))


class InternetAlbWithoutTls(Rule):
    id = "EW451"
    name = "internet-alb-without-tls"
    severity = Severity.WARNING
    summary = "An internet-facing ALB should listen on HTTPS and redirect HTTP to it."
    rationale = (
        "Without an HTTPS listener every request and cookie crosses the internet (or the "
        "carrier network) in clear text. The AWS Load Balancer Controller adds an HTTPS "
        "listener when listen-ports names it, with the certificate from certificate-arn or "
        "discovered in ACM by the Ingress hosts, and ssl-redirect turns every HTTP listener "
        "into a redirect (https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/"
        "guide/ingress/annotations/, .../guide/ingress/cert_discovery/)."
    )
    fix = (
        "add alb.ingress.kubernetes.io/listen-ports: '[{\"HTTP\": 80}, {\"HTTPS\": 443}]', "
        "alb.ingress.kubernetes.io/ssl-redirect: '443' and a certificate-arn (or spec.tls hosts); "
        "edgewise: spec.tls"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for ing in ctx.of_kind("Ingress"):
            if not is_alb(ing) or ing.annotations.get(ALB_SCHEME) != "internet-facing":
                continue
            https = _listens_https(ing.annotations.get(LISTEN_PORTS))
            if not https:
                yield ctx.finding(
                    self, ing, f"internet-facing ALB Ingress {ing.namespace}/{ing.name} serves plain HTTP only",
                    path=("metadata", "annotations"),
                )
            elif SSL_REDIRECT not in ing.annotations and not seq(m(ing.body.get("spec")).get("tls")):
                yield ctx.finding(
                    self, ing,
                    f"internet-facing ALB Ingress {ing.namespace}/{ing.name} listens on HTTPS but does not "
                    "redirect HTTP to it",
                    path=("metadata", "annotations"),
                )
