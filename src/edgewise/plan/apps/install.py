"""What the cluster needs before an application's ``kubectl apply -k`` works, as RUNBOOK
steps: the mesh (consul-k8s or Istio at the versions and with the values of
:mod:`.mesh`, where the sources are cited) and the Secrets its env values reference;
then the DNS records over the load balancers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ...cfnlimits import MAX_INLINE_TEMPLATE_BYTES
from ...spec import Application, Routing
from ...topology import Topology
from ...yamlout import dump
from ..cluster.stacks import CFN_BUCKET_VAR, deploy_waves, wave_note
from ..cluster.steps import Action, Capture, DeployStack
from ..steps import RunbookStep
from .ingress import HOSTED_ZONE_VAR, carrier_record_name, dns_stack
from .mesh import (
    CONSUL_CHART_VERSION,
    CONSUL_CRDS,
    CONSUL_ENTERPRISE_IMAGE,
    CONSUL_NAMESPACE,
    ISTIO_CRDS,
    ISTIO_VERSION,
    LICENSE_SECRET,
    consul_values,
    istiod_values,
)
from .model import AppPlan
from .names import REGION_SITE

__all__ = [
    "CONSUL_CHART_VERSION",
    "CONSUL_ENTERPRISE_IMAGE",
    "ISTIO_VERSION",
    "consul_values",
    "dns_stack",
    "dns_steps",
    "install_steps",
    "istiod_values",
    "secret_env_var",
]

def secret_env_var(app: str, secret: str, key: str) -> str:
    """The shell variable the RUNBOOK reads a Secret value from."""
    raw = f"{app}_{secret}_{key}".upper()
    return "".join(c if c.isalnum() else "_" for c in raw)


def _consul_step(app: str, routing: Routing) -> RunbookStep:
    enterprise = routing is Routing.CONSUL_ENTERPRISE
    values = f"apps/{app}/consul-values.yaml"
    cmds = [f"kubectl create namespace {CONSUL_NAMESPACE} --dry-run=client -o yaml | kubectl apply -f -"]
    if enterprise:
        cmds += [
            ': "${CONSUL_LICENSE_FILE:?set CONSUL_LICENSE_FILE to your Consul Enterprise licence file (.hclic)}"',
            f"kubectl -n {CONSUL_NAMESPACE} create secret generic {LICENSE_SECRET} "
            '--from-literal="key=$(cat "$CONSUL_LICENSE_FILE")" --dry-run=client -o yaml | kubectl apply -f -',
        ]
    cmds += [
        f"helm upgrade --install consul consul --repo https://helm.releases.hashicorp.com "
        f"--version {CONSUL_CHART_VERSION} --namespace {CONSUL_NAMESPACE} -f {values} --wait --timeout 15m",
        "kubectl wait --for=condition=Established --timeout=5m "
        + " ".join(f"crd/{c}.consul.hashicorp.com" for c in CONSUL_CRDS),
        "# verify: servers ready, injector ready",
        f"kubectl -n {CONSUL_NAMESPACE} rollout status statefulset/consul-server --timeout=10m",
        f"kubectl -n {CONSUL_NAMESPACE} rollout status deployment/consul-connect-injector --timeout=5m",
    ]
    edition = "Consul Enterprise" if enterprise else "Consul"
    text = (
        f"{edition} (consul-k8s chart {CONSUL_CHART_VERSION}) with `{values}`: ACLs, TLS and gossip",
        "encryption on, servers on Region nodes with encrypted gp2 volumes.",
        "Set `CONSUL_LICENSE_FILE` to your licence file first." if enterprise else "",
    )
    return RunbookStep("mesh-consul", "Install the service mesh (Consul)", text, tuple(cmds))


def _istio_step(app: str) -> RunbookStep:
    repo = "--repo https://istio-release.storage.googleapis.com/charts"
    cmds = (
        f"helm upgrade --install istio-base base {repo} --version {ISTIO_VERSION} "
        "--namespace istio-system --create-namespace --wait",
        "kubectl wait --for=condition=Established --timeout=5m "
        + " ".join(f"crd/{c}" for c in ISTIO_CRDS),
        f"helm upgrade --install istiod istiod {repo} --version {ISTIO_VERSION} "
        f"--namespace istio-system -f apps/{app}/istiod-values.yaml --wait",
        "# verify: istiod ready",
        "kubectl -n istio-system rollout status deployment/istiod --timeout=5m",
    )
    text = (
        f"Istio {ISTIO_VERSION}: the `base` chart (CRDs) first, then `istiod` on Region nodes.",
    )
    return RunbookStep("mesh-istio", "Install the service mesh (Istio)", text, cmds)


def _apply_files(paths: Sequence[str]) -> str:
    """``kubectl apply -f`` of ``paths``; files of one name in sibling directories
    (``apps/<app>/<namespace>/namespace.yaml``) as one brace expansion."""
    if len(paths) == 1:
        return f"kubectl apply -f {paths[0]}"
    split = [p.rsplit("/", 2) for p in paths]
    if all(len(s) == 3 for s in split) and len({(s[0], s[2]) for s in split}) == 1:
        base, _, file = split[0]
        return f"kubectl apply -f {base}/{{{','.join(s[1] for s in split)}}}/{file}"
    return "kubectl apply " + " ".join(f"-f {p}" for p in paths)


def _secrets_step(app: Application, plan: AppPlan) -> RunbookStep | None:
    """Create every Secret the app's env values reference, in each namespace that uses it."""
    wanted: dict[tuple[str, str], set[str]] = {}  # (secret, key) -> namespaces
    svc_ns: dict[str, set[str]] = {}
    for site in plan.sites:
        for copy in site.services:
            svc_ns.setdefault(copy.service, set()).add(site.namespace)
    for svc in app.spec.services:
        for _var, ref in svc.secret_refs:
            wanted.setdefault((ref.name, ref.key), set()).update(svc_ns.get(svc.name, set()))
    if not wanted:
        return None
    name = app.metadata.name
    by_secret: dict[str, dict[str, set[str]]] = {}
    for (secret, key), nss in wanted.items():
        for ns in nss:
            by_secret.setdefault(secret, {}).setdefault(ns, set()).add(key)
    cmds: list[str] = []
    for (secret, key) in sorted(wanted):
        var = secret_env_var(name, secret, key)
        cmds.append(f': "${{{var}:?set {var} to the value of key {key} of Secret {secret}}}"')
    namespaces = sorted({ns for nss in wanted.values() for ns in nss})
    cmds.append(_apply_files(sorted({plan.namespace_files[ns] for ns in namespaces})))
    for secret in sorted(by_secret):
        for ns in sorted(by_secret[secret]):
            lits = " ".join(
                f'--from-literal={key}="${secret_env_var(name, secret, key)}"'
                for key in sorted(by_secret[secret][ns])
            )
            cmds.append(
                f"kubectl -n {ns} create secret generic {secret} {lits} --dry-run=client -o yaml "
                "| kubectl apply -f -"
            )
    text = (
        f"Values of `{name}` that come from Secrets (env `valueFrom.secretKeyRef`). Export each",
        "variable first (keep them out of shell history, e.g. read them from your secret store).",
    )
    return RunbookStep(f"secrets-{name}", f"Create the Secrets of {name}", text, tuple(cmds))


def install_steps(topology: Topology, apps: Sequence[tuple[Application, AppPlan]]) -> list[RunbookStep]:
    """Steps before ``kubectl apply -k``: one mesh install per mesh, then each app's Secrets."""
    del topology  # the values files already carry the topology
    steps: list[RunbookStep] = []
    seen: set[str] = set()
    for app, _plan in apps:
        routing = Routing(app.spec.routing)
        step = None
        if routing in (Routing.CONSUL, Routing.CONSUL_ENTERPRISE):
            step = _consul_step(app.metadata.name, routing)
        elif routing is Routing.ISTIO:
            step = _istio_step(app.metadata.name)
        if step is not None and step.key not in seen:
            seen.add(step.key)
            steps.append(step)
    for app, plan in apps:
        s = _secrets_step(app, plan)
        if s is not None:
            steps.append(s)
    return steps


def values_text(values: dict[str, Any]) -> str:
    return dump(values)


#: how long the DNS step waits for the load balancer controller to give an Ingress its ALB
INGRESS_WAIT_TIMEOUT = "10m"
#: the hosted zone's own name, read from Route 53 when an application names no domain
HOSTED_ZONE_NAME_VAR = "HOSTED_ZONE_NAME"
DNS_STEP_PREFIX = "dns-"


def _shell_var(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", "_".join(parts)).strip("_").upper()


def dns_steps(topology: Topology, apps: Sequence[tuple[Application, AppPlan]]) -> list[RunbookStep]:
    """After ``kubectl apply -k``: per application with ALBs, deploy ``dns.cfn.yaml`` over them.

    The ALBs exist only once the AWS Load Balancer Controller has reconciled each Ingress,
    so the step waits for each Ingress's hostname (``kubectl wait --for=jsonpath='{...}'``
    without a value waits until the field exists:
    https://kubernetes.io/docs/reference/kubectl/generated/kubectl_wait/), reads it, and
    looks up that ALB's canonical hosted zone id (``CanonicalHostedZoneId`` of
    ``DescribeLoadBalancers``, the alias target's hosted zone for a load balancer:
    https://docs.aws.amazon.com/Route53/latest/APIReference/API_AliasTarget.html). The
    parameter names are the template's own (:func:`~.ingress.dns_parameter_sites`).

    A template split into stacks (:func:`~.ingress.dns_parts`) is deployed in waves
    (:func:`~..cluster.stacks.deploy_waves`: the stacks import nothing from one another,
    so after the base stack, which a split template's other stacks wait for, the edge
    stacks go together, and a failover PRIMARY's stack, whose alias points at the edge
    records' name, after them), each with only the parameters it declares
    (CloudFormation refuses a parameter the template does not declare)."""
    steps: list[RunbookStep] = []
    hz = HOSTED_ZONE_VAR
    for app, plan in apps:
        if not plan.dns:
            continue
        name = app.metadata.name
        domain = app.spec.domain
        record = domain or f"{name}.${HOSTED_ZONE_NAME_VAR}"
        carriers = [p for p in plan.dns if p.carrier_record_param]
        stacks = plan.dns_stacks
        where = ("the stack `" + dns_stack(topology, name) + "` puts" if len(stacks) <= 1 else
                 "the stacks `" + dns_stack(topology, name) + "` and `" + dns_stack(topology, name) + "-*` put")
        text = [
            f"The load balancer controller creates one ALB per Ingress of {name}; once each has its",
            f"DNS name, {where} the Route 53 alias records",
            f"over them (`apps/{name}/dns.cfn.yaml`). Set `{hz}` to the id of the public hosted zone",
            "that holds them (`edgewise apply --hosted-zone-id` or the same environment variable).",
        ]
        if not domain:
            text.append(
                f"The spec gives {name} no `domain`, so its name is `{name}.<the hosted zone's name>`"
                + (", and each Wavelength Zone's carrier-facing name `<zone>.carrier.<that name>`" if carriers else "")
                + "."
            )
        cmds: list[str | Action] = [
            f': "${{{hz}:?set {hz} to the id of the Route 53 hosted zone for the records of {name}}}"'
        ]
        if not domain:
            cmds.append(Capture(HOSTED_ZONE_NAME_VAR,
                                f'aws route53 get-hosted-zone --id "${hz}" --query HostedZone.Name --output text'))
        params: list[tuple[str, str]] = [("HostedZoneId", f'"${hz}"')]
        if not domain:
            params.append(("RecordName", f'"{record}"'))
        for p in plan.dns:
            var = _shell_var(name, p.site)
            dns_var, zone_var = f"ALB_DNS_{var}", f"ALB_ZONE_{var}"
            jsonpath = "'{.status.loadBalancer.ingress[0].hostname}'"
            cmds += [
                f"kubectl -n {p.namespace} wait ingress/{p.ingress} --for=jsonpath={jsonpath} "
                f"--timeout={INGRESS_WAIT_TIMEOUT}",
                Capture(dns_var, f"kubectl -n {p.namespace} get ingress {p.ingress} -o jsonpath={jsonpath}"),
                Capture(zone_var, f"aws elbv2 describe-load-balancers --region {topology.region} "
                                  f"--query \"LoadBalancers[?DNSName=='${dns_var}'].CanonicalHostedZoneId\" "
                                  "--output text"),
                f': "${{{zone_var}:?no load balancer has the DNS name ${dns_var} (Ingress {p.ingress})}}"',
            ]
            params += [(p.dns_name_param, f'"${dns_var}"'), (p.hosted_zone_param, f'"${zone_var}"')]
            if p.carrier_record_param and not domain:
                params.append((p.carrier_record_param, f'"{carrier_record_name(p.carrier_slug, record)}"'))
        paths = {stack.path for stack in stacks}
        deploys = deploy_waves(
            [DeployStack(stack.stack, stack.path, topology.region,
                         parameters=tuple((k, v) for k, v in params if k in set(stack.parameters)),
                         s3_bucket=f'"${CFN_BUCKET_VAR}"' if stack.via_s3 else "")
             for stack in stacks],
            {a.path: a.docs[0] for a in plan.artifacts if a.docs and a.path in paths})
        cmds += deploys
        if len(stacks) > 1:
            groups = [s for s in stacks[1:] if s.zones]
            text += [
                f"{len(plan.dns)} ALBs are more records and parameters than one stack holds within",
                "CloudFormation's quotas (200 parameters, 500 resources a template), so the records are",
                f"{len(stacks)} stacks: `{stacks[0].stack}` ("
                + ("the Region's record" if any(p.site == REGION_SITE for p in plan.dns) else "no Region ALB") + "),",
                f"{len(groups)} stacks of edge zones (`apps/{name}/dns-edge-NN.cfn.yaml`: a zone's group is a",
                "hash of its name, so adding or removing a zone moves no other zone's records)"
                + (f" and `{stacks[-1].stack}` (the failover PRIMARY, an alias of the edge records' name)."
                   if not stacks[-1].zones else "."),
                "The stacks import nothing from one another.",
                wave_note(deploys),
            ]
        big = [s for s in stacks if s.via_s3]
        if big:
            what = "The template is" if len(stacks) == 1 else f"{len(big)} of these templates are"
            text.append(
                f"{what} over the {MAX_INLINE_TEMPLATE_BYTES:,} bytes CloudFormation takes in a request:"
                f" {'it is' if len(stacks) == 1 else 'they are'} uploaded to the S3 bucket `{CFN_BUCKET_VAR}`"
                " names (`edgewise apply --s3-bucket`)."
            )
        internal = len(plan.dns) < sum(1 for s in plan.sites if s.ingress_subnets)
        if internal:
            text.append("Internal ALBs (an Outpost without a customer-owned IP pool) get no record.")
        steps.append(RunbookStep(f"{DNS_STEP_PREFIX}{name}", f"Publish the DNS names of {name}", tuple(text),
                                 tuple(cmds), after_apps=True))
    return steps
