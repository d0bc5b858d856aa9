"""``RUNBOOK.md``: the ordered, exact commands that deploy THIS topology.

Every command is generated from the topology: the zone groups to opt in to, the Outposts
to check, the stack outputs to export (the same names eksctl.yaml uses as ``${VAR}``),
the apps to apply. Commands are for bash with the AWS CLI v2, eksctl, kubectl, helm and
``envsubst`` (GNU gettext).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ...spec import EndpointAccess, ZoneType
from ...topology import Topology
from ..artifacts import Artifact
from ..labels import K8S_ZONE_LABEL, REGION_NODE_LABEL, ROLE_LABEL, ZONE_LABEL
from ..steps import RunbookStep
from .addons import COREDNS_PATCH_PATH, LBC_VALUES_PATH, NTH_VALUES_PATH, STORAGE_CLASS_PATH
from .cfnsplit import MAX_INLINE_TEMPLATE_BYTES
from .eksctl import eksctl_env_refs, eksctl_zones, needs_operator_cidr, network_makes_secrets_key
from .names import (
    CLUSTER_TAG,
    NTH_QUEUE_URL,
    OPERATOR_CIDR,
    SECRETS_KEY_ARN,
    network_stack,
    zone_names,
)
from .network import ECR_PUBLIC_CACHE_PREFIX, intra_vpc_routes, local_zone_public_zones
from .stacks import CFN_BUCKET_VAR, ClusterStacks, StackFile, cluster_stacks, deploy_waves, wave_note
from .steps import (
    Action,
    Block,
    Capture,
    CheckOutpostType,
    Code,
    Command,
    DeployStack,
    ExportClusterAttributes,
    ExportStackOutputs,
    OptIn,
    Prose,
    RenderTemplate,
    Runbook,
    Step,
    VerifyCluster,
    runbook_to_json,
    stack_deploys,
)
from .wavelength import imports_subnets, wavelength_zones

__all__ = [
    "RUNBOOK_JSON_PATH",
    "RUNBOOK_PATH",
    "opt_in_groups",
    "runbook",
    "runbook_artifacts",
    "runbook_text",
]

RUNBOOK_PATH = "RUNBOOK.md"
#: Helm chart versions the RUNBOOK pins (a rerun installs what was verified). Both are
#: release tags of the charts' repositories: aws-load-balancer-controller chart 3.5.0
#: (app v3.5.0) in https://github.com/aws/eks-charts (tag v0.0.242), published at
#: https://aws.github.io/eks-charts; aws-node-termination-handler chart 0.27.6 (app
#: v1.25.6) in https://github.com/aws/aws-node-termination-handler (tag v1.25.6), published
#: at oci://public.ecr.aws/aws-ec2/helm/aws-node-termination-handler. `edgewise verify`
#: installs these charts (tools/charts/).
LBC_CHART_VERSION = "3.5.0"
NTH_CHART_VERSION = "0.27.6"
#: the same steps as data, for ``edgewise apply``
RUNBOOK_JSON_PATH = "runbook.json"
RENDERED_EKSCTL = "cluster/eksctl.rendered.yaml"

_KIND_NAMES = {
    ZoneType.AVAILABILITY_ZONE: "Region AZ",
    ZoneType.LOCAL: "Local Zone",
    ZoneType.OUTPOST: "Outpost",
}


def opt_in_groups(topology: Topology) -> list[str]:
    """Distinct opt-in zone groups of the Local and Wavelength Zones, sorted."""
    edge = (ZoneType.LOCAL, ZoneType.WAVELENGTH)
    return sorted({z.group for z in topology.zones if z.kind in edge and z.group})


@dataclass
class _Doc:
    """The runbook under construction: a preamble, then steps of prose and code blocks."""

    t: Topology
    stacks: ClusterStacks
    title: str = ""
    preamble: list[Block] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    @property
    def r(self) -> str:
        return f"--region {self.t.region}"

    @property
    def vpc(self) -> str:
        return self.t.vpc_id if self.t.vpc_id is not None else "$VPC_ID"

    def _blocks(self) -> list[Block]:
        return self.steps[-1].blocks if self.steps else self.preamble

    def section(self, key: str, title: str, *intro: str, apply: bool = True) -> None:
        self.steps.append(Step(key, title, apply=apply))
        self.text(*intro)

    def text(self, *para: str) -> None:
        words = " ".join(p for p in para if p)
        if words:
            self._blocks().append(Prose(words))

    def code(self, *cmds: str | Action) -> None:
        self._blocks().append(Code(tuple(Command(c) if isinstance(c, str) else c for c in cmds)))

    def stack_outputs(self, *exports: tuple[str, str]) -> list[Action]:
        """``out KEY`` prints one output of a network stack; export each ``(var, key)``
        from the stack that holds it (one action per stack, in deploy order)."""
        by_stack: dict[str, list[tuple[str, str]]] = {s.stack: [] for s in self.stacks.network}
        for var, key in exports:
            by_stack[self.stacks.output_stack(key)].append((var, key))
        return [ExportStackOutputs(stack, self.t.region, tuple(ex)) for stack, ex in by_stack.items() if ex]

    def deploy(self, f: StackFile, capabilities: tuple[str, ...] = (),
               parameters: Sequence[tuple[str, str]] = ()) -> DeployStack:
        """Deploy one stack with the overrides it declares; from S3 when it is too large."""
        return DeployStack(
            f.stack, f.path, self.t.region, capabilities,
            tuple((k, v) for k, v in parameters if k in f.parameters),
            s3_bucket=f'"${CFN_BUCKET_VAR}"' if f.via_s3 else "",
        )

    def s3_note(self, files: Sequence[StackFile]) -> None:
        big = [f for f in files if f.via_s3]
        if not big:
            return
        self.text(
            f"{'This template is' if len(big) == 1 else f'{len(big)} of these templates are'} over the "
            f"{MAX_INLINE_TEMPLATE_BYTES:,} bytes CloudFormation takes in a request, so `aws cloudformation",
            "deploy` uploads them to an S3 bucket you own in",
            f"{self.t.region} (`--s3-bucket`) and CloudFormation reads them from there: set",
            f"`{CFN_BUCKET_VAR}` to that bucket (`edgewise apply --s3-bucket BUCKET` does the same).",
        )

    def deploy_all(self, files: Sequence[StackFile], capabilities: tuple[str, ...] = (),
                   parameters: Sequence[tuple[str, str]] = ()) -> list[Action]:
        """Deploy ``files`` in waves of stacks that import nothing from one another."""
        return list(deploy_waves([self.deploy(f, capabilities, parameters) for f in files], self.stacks.templates))

    def split_note(self, files: Sequence[StackFile], what: str, base: str, deploys: Sequence[Action]) -> None:
        if len(files) < 2:
            return
        groups = [f for f in files if f.zones]
        self.text(
            f"The {what} is too large for one CloudFormation stack (500 resources, 200 outputs), so it is",
            f"{len(files)} stacks: `{files[0].stack}` ({base}),",
            f"{len(groups)} stacks of at most {max(len(f.zones) for f in groups)} edge zones each"
            + (f", and `{files[-1].stack}`, which gathers them" if not files[-1].zones
               and len(files) > len(groups) + 1 else "") + ".",
            "The later stacks import what the earlier ones export (`Fn::ImportValue`), so CloudFormation",
            "refuses to delete them out of order.",
            wave_note(deploys),
            "Add new edge zones at the end of the spec: a zone that",
            "moves to another group's stack is deleted from one stack and created in the next.",
        )


def _private_only(t: Topology) -> bool:
    """Only a private-only endpoint needs the create-then-lock-down dance."""
    return t.endpoint_access is EndpointAccess.PRIVATE


def _eksctl_config_path(t: Topology) -> str:
    return RENDERED_EKSCTL if eksctl_env_refs(t) or needs_operator_cidr(t) else "cluster/eksctl.yaml"


def _intro(d: _Doc) -> None:
    t = d.t
    zones = ", ".join(f"`{z.name}` ({z.kind.value})" for z in t.zones)
    d.title = f"RUNBOOK: EKS cluster `{t.name}` in {t.region}"
    d.text(
        f"Kubernetes {t.kubernetes_version}, API endpoint `{t.endpoint_access.value}`,",
        f"zones: {zones}.",
    )
    d.text(
        "Run the steps in order from the root of this directory",
        "(bash, AWS CLI v2, eksctl, kubectl, helm, envsubst).",
        "`spec/` holds the spec this plan was made from (`edgewise verify .` and",
        "`edgewise check .` read it); plan again from it after editing.",
    )
    d.code(f"export AWS_REGION={t.region}")


def _opt_in(d: _Doc) -> None:
    groups = opt_in_groups(d.t)
    if not groups:
        return
    d.section(
        "opt-in",
        "Opt in to the zone groups",
        "Local Zones and Wavelength Zones are off until the account opts in to their group.",
    )
    d.code(
        *[OptIn(g, d.t.region) for g in groups],
        f"aws ec2 describe-availability-zones --all-availability-zones {d.r} "
        f"--filters Name=group-name,Values={','.join(groups)} "
        "--query 'AvailabilityZones[].[ZoneName,OptInStatus]' --output table",
    )


def _outpost_types(d: _Doc) -> None:
    outposts = [z for z in d.t.of_kind(ZoneType.OUTPOST) if z.node_group and z.outpost_arn]
    if not outposts:
        return
    d.section(
        "outpost-types",
        "Check the instance types each Outpost has",
        "An Outpost runs only the instance types installed in it;",
        "each command must print the type.",
    )
    checks: list[Action] = []
    for z in outposts:
        assert z.outpost_arn is not None and z.node_group is not None
        checks.append(
            CheckOutpostType(z.name, z.outpost_arn.rsplit("/", 1)[-1], z.node_group.instance_type, d.t.region)
        )
    d.code(*checks)


def _network(d: _Doc) -> None:
    t = d.t
    parts = (
        ["VPC, one subnet per zone, routing"] if t.vpc_id is None else [f"Reuses VPC {t.vpc_id} and the zones' subnets"]
    )
    if t.of_kind(ZoneType.WAVELENGTH):
        parts.append(
            "carrier route table" + (f" (over the VPC's carrier gateway {t.carrier_gateway_id})"
                                     if t.carrier_gateway_id else " and carrier gateway")
        )
    if t.needs_endpoints:
        parts.append("VPC endpoints")
    if t.of_kind(ZoneType.OUTPOST):
        parts.append("shared node security group, placement groups, termination queue")
    lz_public = local_zone_public_zones(t)
    if intra_vpc_routes(t):
        parts.append("local gateway route table associations and routes between the Outpost subnets")
    if network_makes_secrets_key(t):
        parts.append("KMS key for Secrets encryption (kept when the stack is deleted)")
    d.section(
        "network",
        "Deploy the network stack" + ("s" if len(d.stacks.network) > 1 else ""),
        ", ".join(parts) + ".",
        f"Each Local Zone also gets a public subnet (`{t.name}-public-<zone>`, 0.0.0.0/0 to the internet "
        "gateway) that holds only its internet-facing ALB; the Local Zone nodes stay in the zone subnet, "
        "which goes out through a Region NAT gateway."
        if lz_public
        else "",
    )
    net = d.stacks.network
    overrides = [("VpcCidr", "$VPC_CIDR")] if t.vpc_id is not None else []
    deploys = d.deploy_all(net, parameters=overrides)
    d.split_note(net, "network", "the VPC and everything that is not one edge zone's", deploys)
    d.s3_note(net)
    if t.vpc_id is None:
        d.code(*deploys)
        return
    if t.of_kind(ZoneType.LOCAL):
        d.text(
            "An application's Local Zone ALB goes into the Local Zone subnet the spec names: that subnet",
            "must route 0.0.0.0/0 to an internet gateway, or the internet-facing ALB is not reachable",
            "from the internet.",
        )
    if t.of_kind(ZoneType.WAVELENGTH):
        d.text(
            "The stack associates the Wavelength subnets with its carrier route table; a subnet",
            "that already has an explicit route table association must be disassociated first",
            "(`aws ec2 disassociate-route-table`).",
        )
    pre: list[str | Action] = [
        Capture(
            "VPC_CIDR", f"aws ec2 describe-vpcs --vpc-ids {t.vpc_id} {d.r} --query 'Vpcs[0].CidrBlock' --output text"
        )
    ]
    if t.of_kind(ZoneType.WAVELENGTH) and t.carrier_gateway_id is None:
        pre += [
            "# a VPC has at most one carrier gateway; the stack creates one, so none may exist yet",
            "# (if this prints an id, set vpc.carrierGatewayId to it in the spec and plan again)",
            f"aws ec2 describe-carrier-gateways {d.r} --filters Name=vpc-id,Values={t.vpc_id} "
            "--query 'CarrierGateways[].CarrierGatewayId' --output text",
        ]
    if t.private_endpoint:
        pre.append("# a private endpoint needs DNS support and DNS hostnames on the VPC")
        pre += [
            f"aws ec2 modify-vpc-attribute --vpc-id {t.vpc_id} {d.r} --enable-dns-{attr}"
            for attr in ("support", "hostnames")
        ]
    if t.existing_endpoints:
        ids = " ".join(sorted(t.existing_endpoints.values()))
        pre += [
            "# the VPC endpoints the spec names are reused; each must be available",
            f"aws ec2 describe-vpc-endpoints {d.r} --vpc-endpoint-ids {ids} "
            "--query 'VpcEndpoints[].[ServiceName,State]' --output table",
        ]
    d.code(*pre, *deploys)
    d.text(
        "The stack adds no route to a route table it does not own. The existing zone subnets",
        "need their own path to S3 (image layers), e.g. the VPC's S3 gateway endpoint on their",
        "route tables, or a NAT gateway.",
    )
    if t.outpost_intra_vpc and t.of_kind(ZoneType.OUTPOST):
        d.text(
            "Outpost to Outpost traffic (outpostIntraVpc) needs, in the existing VPC: the VPC",
            "associated with each Outpost's local gateway route table, and in each Outpost subnet's",
            "route table a route for every other Outpost subnet's CIDR to its local gateway.",
            "Check both; each command must list the association or the routes:",
        )
        cmds = [
            f"aws ec2 describe-local-gateway-route-table-vpc-associations {d.r} "
            f"--filters Name=vpc-id,Values={t.vpc_id} --query "
            "'LocalGatewayRouteTableVpcAssociations[].[LocalGatewayRouteTableId,State]' --output table"
        ]
        for z in t.of_kind(ZoneType.OUTPOST):
            if z.subnet_id is not None:
                cmds.append(
                    f"aws ec2 describe-route-tables {d.r} --filters Name=association.subnet-id,Values={z.subnet_id} "
                    "--query 'RouteTables[].Routes[?LocalGatewayId!=null].[DestinationCidrBlock,LocalGatewayId]' "
                    f"--output table  # {z.name}"
                )
        d.code(*cmds)


def _cluster(d: _Doc) -> None:
    t = d.t
    kinds = [name for kind, name in _KIND_NAMES.items() if any(z.kind is kind for z in eksctl_zones(t))]
    per = ", ".join(kinds[:-1]) + " and " + kinds[-1] if len(kinds) > 1 else "".join(kinds)
    d.section(
        "cluster",
        "Create the cluster with eksctl",
        "Control plane in the Region AZ subnets only (`vpc.controlPlaneSubnetIDs`);",
        f"one self-managed node group per {per}." if per else "",
        "Wavelength node groups come in a later step (eksctl cannot build them)." if wavelength_zones(t) else "",
    )
    refs = eksctl_env_refs(t)
    config = _eksctl_config_path(t)
    operator = needs_operator_cidr(t)
    if refs or operator:
        d.text(
            "`cluster/eksctl.yaml` holds `${VAR}` placeholders for values known only at deploy time.",
            "Export them from the stack outputs and render the file:" if refs else "Export them and render the file:",
        )
        actions: list[str | Action] = [*d.stack_outputs(*[(ref.var, ref.output) for ref in refs])] if refs else []
        if operator:
            actions += [
                "# the public endpoint eksctl needs while it creates the cluster admits only this address",
                Capture(OPERATOR_CIDR.var, 'echo "$(curl -fsS https://checkip.amazonaws.com)/32"'),
                f"export {OPERATOR_CIDR.var}",
            ]
        variables = (*(ref.var for ref in refs), *((OPERATOR_CIDR.var,) if operator else ()))
        d.code(*actions, RenderTemplate("cluster/eksctl.yaml", config, variables))
    d.code(f"eksctl create cluster -f {config}")
    if _private_only(t):
        who = "your own address (`OPERATOR_CIDR`)" if operator else "the addresses in `publicAccessCidrs`"
        d.text(
            "The endpoint is `private`, but eksctl cannot create a private-only endpoint",
            "(it must reach the API to join the nodes), so the cluster starts with both; the",
            f"public one admits only {who} from the start, never 0.0.0.0/0,",
            'until the step "Make the API endpoint private" turns it off.',
        )
    _lifecycle_hooks(d)


def _lifecycle_hooks(d: _Doc) -> None:
    t = d.t
    outposts = [z for z in t.of_kind(ZoneType.OUTPOST) if z.node_group is not None]
    if not outposts:
        return
    names = zone_names(t)
    d.text(
        "Termination handling on the Outposts: a lifecycle hook on each Outpost Auto Scaling",
        "group lets aws-node-termination-handler drain a node before it goes.",
    )
    cmds = []
    for z in outposts:
        var = "ASG_" + names[z.name].var
        cmds += [
            f"{var}=$(aws autoscaling describe-auto-scaling-groups {d.r} --filters "
            f"Name=tag:{CLUSTER_TAG},Values={t.name} Name=tag:edgewise.dev/zone,Values={z.name} "
            "--query 'AutoScalingGroups[0].AutoScalingGroupName' --output text)",
            f'aws autoscaling put-lifecycle-hook {d.r} --auto-scaling-group-name "${var}" '
            "--lifecycle-hook-name nth-terminate "
            "--lifecycle-transition autoscaling:EC2_INSTANCE_TERMINATING "
            "--default-result CONTINUE --heartbeat-timeout 300",
        ]
    d.code(*cmds)


def _wavelength(d: _Doc) -> None:
    t = d.t
    wlzs = wavelength_zones(t)
    if not wlzs:
        return
    carrier = any(z.carrier_ip for z in wlzs)
    d.section(
        "wavelength",
        "Deploy the Wavelength node groups",
        "Self-managed Auto Scaling groups per Wavelength Zone (gp2, IMDSv2, nodeadm",
        "bootstrap with the edge labels and taint"
        + (", Carrier IPs" if carrier else "")
        + "); the access entry lets the nodes join.",
    )
    params = [
        ("ClusterEndpoint", "$CLUSTER_ENDPOINT"),
        ("ClusterCertificateAuthority", "$CLUSTER_CA"),
        ("ServiceCidr", "$SERVICE_CIDR"),
        ("ClusterSecurityGroupId", "$CLUSTER_SG"),
    ]
    if imports_subnets(t):
        params.append(("NetworkStackName", network_stack(t)))
    wl = d.stacks.wavelength
    deploys = d.deploy_all(wl, ("CAPABILITY_IAM",), params)
    d.split_note(wl, "Wavelength node group template", "node role, instance profile and access entry", deploys)
    d.s3_note(wl)
    d.code(
        ExportClusterAttributes(
            t.name,
            t.region,
            (
                ("CLUSTER_ENDPOINT", "cluster.endpoint"),
                ("CLUSTER_CA", "cluster.certificateAuthority.data"),
                ("SERVICE_CIDR", "cluster.kubernetesNetworkConfig.serviceIpv4Cidr"),
                ("CLUSTER_SG", "cluster.resourcesVpcConfig.clusterSecurityGroupId"),
            ),
        ),
        *deploys,
    )
    if all(z.carrier_ip for z in wlzs):
        d.text(
            "Images: the Wavelength nodes pull public images (public.ecr.aws, Docker Hub) over",
            "the carrier gateway with their Carrier IPs; ECR image layers come through the S3",
            "gateway endpoint where the stack has one.",
        )
    else:
        private = ", ".join(f"`{z.name}`" for z in wlzs if not z.carrier_ip)
        d.text(
            f"Images: the nodes in {private} have no Carrier IP and so no internet path. They reach",
            "the AWS APIs through the VPC endpoints and pull from ECR only: image layers through the",
            "S3 gateway endpoint on the carrier route table, public.ecr.aws images through the",
            "pull-through cache, as",
            f"`<account>.dkr.ecr.{t.region}.amazonaws.com/{ECR_PUBLIC_CACHE_PREFIX}/<repository>:<tag>`.",
            "Docker Hub images must be copied into ECR first.",
        )


def _addons(d: _Doc) -> None:
    d.section(
        "addons",
        "Install the add-ons",
        "CoreDNS is pinned to Region nodes with required anti-affinity (an edge pod must",
        "never query a CoreDNS pod in another edge zone); the CoreDNS add-on configuration",
        "in eksctl.yaml carries the same pinning, so add-on updates keep it.",
    )
    cmds: list[str | Action] = [
        f"kubectl -n kube-system patch deployment coredns --type strategic --patch-file {COREDNS_PATCH_PATH}",
        "kubectl -n kube-system rollout status deployment/coredns --timeout=5m",
        f"kubectl apply -f {STORAGE_CLASS_PATH}",
        "helm upgrade --install aws-load-balancer-controller aws-load-balancer-controller "
        f"--repo https://aws.github.io/eks-charts --version {LBC_CHART_VERSION} --namespace kube-system "
        f"-f {LBC_VALUES_PATH} --set vpcId={d.vpc}",
    ]
    if d.t.of_kind(ZoneType.OUTPOST):
        cmds += [
            *d.stack_outputs((NTH_QUEUE_URL.var, NTH_QUEUE_URL.output)),
            "helm upgrade --install aws-node-termination-handler "
            "oci://public.ecr.aws/aws-ec2/helm/aws-node-termination-handler "
            f'--version {NTH_CHART_VERSION} --namespace kube-system -f {NTH_VALUES_PATH} '
            f'--set queueURL="${NTH_QUEUE_URL.var}"',
        ]
    d.code(*cmds)


def _controller(d: _Doc) -> None:
    from .controller import CONTROLLER_IMAGE, CONTROLLER_NAMESPACE, CONTROLLER_PATH

    d.section(
        "controller",
        "Install the edgewise controller",
        "With routing `kubernetes` each edge zone's copy of a service that fails over is a",
        "Service without selector; the edgewise controller keeps its endpoints: the zone's",
        "Ready pods, else the Region's, never another edge zone's. It runs on Region nodes,",
        "2 replicas, one leader (Lease). Its image is built from the edgewise repository's",
        "Dockerfile: `docker build -t <registry>/edgewise-controller:<tag> .`, push it where",
        "the nodes pull from, and set it on the Deployment (`kubectl -n",
        f"{CONTROLLER_NAMESPACE} set image deployment/edgewise-controller",
        f"controller=<registry>/edgewise-controller:<tag>`; the manifest says {CONTROLLER_IMAGE}).",
    )
    d.code(
        f"kubectl apply -f {CONTROLLER_PATH}",
        f"kubectl -n {CONTROLLER_NAMESPACE} rollout status deployment/edgewise-controller --timeout=5m",
    )


def _apps(d: _Doc, app_names: Sequence[str], app_steps: Sequence[RunbookStep] = ()) -> None:
    # what the applications need first (mesh install, Secrets), from the application plan,
    # and what follows them (the DNS records over their ALBs)
    for step in (s for s in app_steps if not s.after_apps):
        d.section(step.key, step.title, *step.text)
        d.code(*step.commands)
    if app_names:
        d.section("apps", "Apply the applications")
        d.code(*[f"kubectl apply -k apps/{a}" for a in app_names])
    for step in (s for s in app_steps if s.after_apps):
        d.section(step.key, step.title, *step.text)
        d.code(*step.commands)


def _verify(d: _Doc) -> None:
    t = d.t
    d.section("verify", "Verify")
    nodes = tuple((z.name, z.node_group.desired) for z in t.zones if z.node_group)
    expected = ", ".join(f"{name}: {n}" for name, n in nodes)
    d.text(f"Nodes per zone (desired): {expected}.")
    d.code(VerifyCluster(nodes, K8S_ZONE_LABEL, ZONE_LABEL, ROLE_LABEL, REGION_NODE_LABEL))
    if t.private_endpoint:
        d.code(
            f"aws ec2 describe-vpc-endpoints {d.r} --filters Name=vpc-id,Values={d.vpc} "
            "--query 'VpcEndpoints[].[ServiceName,State]' --output table"
        )
    if _private_only(t):
        d.section(
            "private-endpoint",
            "Make the API endpoint private",
            "From now on run kubectl from inside the VPC (a bastion reached with SSM,",
            "a VPN or Direct Connect).",
        )
        d.code(
            f"eksctl utils update-cluster-vpc-config --cluster {t.name} {d.r} "
            "--private-access=true --public-access=false --approve"
        )


def _cleanup(d: _Doc, app_names: Sequence[str], app_steps: Sequence[RunbookStep] = ()) -> None:
    t = d.t
    # stacks deployed after the applications (the DNS records over their ALBs) go first
    late = [a.stack for s in app_steps if s.after_apps
            for a in stack_deploys(c for c in s.commands if not isinstance(c, str))]
    net = network_stack(t)
    d.section(
        "cleanup",
        "Clean up",
        "Delete in reverse order;" + (" the DNS records over the load balancers first, then" if late else ""),
        "the applications" + ("" if late else " first") + ", so that the load balancers",
        "they created are gone before the VPC.",
        "With the private endpoint, run kubectl and eksctl from inside the VPC." if _private_only(t) else "",
        apply=False,
    )
    cmds: list[str | Action] = []
    for stack in reversed(late):
        cmds += [
            f"aws cloudformation delete-stack --stack-name {stack} {d.r}",
            f"aws cloudformation wait stack-delete-complete --stack-name {stack} {d.r}",
        ]
    cmds += [f"kubectl delete -k apps/{a} --ignore-not-found" for a in app_names]
    if t.of_kind(ZoneType.OUTPOST):
        cmds.append("helm uninstall aws-node-termination-handler --namespace kube-system")
    cmds.append("helm uninstall aws-load-balancer-controller --namespace kube-system")
    for f in reversed(d.stacks.wavelength):  # the stacks that import first
        cmds += [
            f"aws cloudformation delete-stack --stack-name {f.stack} {d.r}",
            f"aws cloudformation wait stack-delete-complete --stack-name {f.stack} {d.r}",
        ]
    cmds.append(f"eksctl delete cluster -f {_eksctl_config_path(t)} --wait")
    for z in t.of_kind(ZoneType.WAVELENGTH):
        # The nodes' Carrier IPs come with their instances and go with them. Only addresses
        # tagged with this topology were allocated for it: never release any other.
        nbg = z.network_border_group
        cmds += [
            f"# Carrier IPs of {z.name} allocated for this topology (tagged {CLUSTER_TAG}={t.name}); none other",
            f"for a in $(aws ec2 describe-addresses {d.r} "
            f"--filters Name=network-border-group,Values={nbg} Name=tag:{CLUSTER_TAG},Values={t.name} "
            "--query 'Addresses[?AssociationId==null].AllocationId' --output text); do "
            f'aws ec2 release-address {d.r} --allocation-id "$a" '
            f"--network-border-group {nbg}; done",
        ]
    if t.needs_endpoints:
        cmds.append("# the VPC endpoints the network stack made go with it")
    if network_makes_secrets_key(t):
        cmds += [
            "# the Secrets key outlives the stack (DeletionPolicy Retain); note it before the stack goes",
            f"{SECRETS_KEY_ARN.var}=$(aws cloudformation describe-stacks --stack-name {net} {d.r} "
            f"--query \"Stacks[0].Outputs[?OutputKey=='{SECRETS_KEY_ARN.output}'].OutputValue\" --output text)",
        ]
    if len(d.stacks.network) > 1:
        cmds.append("# the network stacks in reverse order: a stack whose exports another imports cannot go first")
    for f in reversed(d.stacks.network):
        cmds += [
            f"aws cloudformation delete-stack --stack-name {f.stack} {d.r}",
            f"aws cloudformation wait stack-delete-complete --stack-name {f.stack} {d.r}",
        ]
    if network_makes_secrets_key(t):
        cmds.append(
            f'aws kms schedule-key-deletion --key-id "${SECRETS_KEY_ARN.var}" --pending-window-in-days 30 {d.r}'
        )
    if t.needs_endpoints and t.vpc_id is None:
        cmds.append(
            f"aws ec2 describe-vpc-endpoints {d.r} --filters Name=vpc-id,Values={d.vpc} "
            "--query 'VpcEndpoints[].VpcEndpointId' --output text  # must print nothing"
        )
    d.code(*cmds)


def runbook(
    topology: Topology,
    app_names: Sequence[str] = (),
    app_steps: Sequence[RunbookStep] = (),
    *,
    controller: bool = False,
    stacks: ClusterStacks | None = None,
) -> Runbook:
    """The RUNBOOK's steps; ``RUNBOOK.md`` renders them and ``edgewise apply`` runs them.
    ``stacks``: the plan's CloudFormation stacks (made from the topology when not given)."""
    d = _Doc(topology, stacks if stacks is not None else cluster_stacks(topology))
    _intro(d)
    _opt_in(d)
    _outpost_types(d)
    _network(d)
    _cluster(d)
    _wavelength(d)
    _addons(d)
    if controller:
        _controller(d)
    _apps(d, app_names, app_steps)
    _verify(d)
    _cleanup(d, app_names, app_steps)
    return Runbook(d.title, d.preamble, d.steps, topology.region, topology.name)


def runbook_text(
    topology: Topology,
    app_names: Sequence[str] = (),
    app_steps: Sequence[RunbookStep] = (),
    *,
    controller: bool = False,
    stacks: ClusterStacks | None = None,
) -> str:
    return runbook(topology, app_names, app_steps, controller=controller, stacks=stacks).render()


def runbook_artifacts(
    topology: Topology,
    app_names: Sequence[str] = (),
    app_steps: Sequence[RunbookStep] = (),
    *,
    controller: bool = False,
    stacks: ClusterStacks | None = None,
) -> list[Artifact]:
    """``RUNBOOK.md`` for people and ``runbook.json`` for ``edgewise apply``, from the same steps."""
    rb = runbook(topology, app_names, app_steps, controller=controller, stacks=stacks)
    return [Artifact(RUNBOOK_PATH, text=rb.render()), Artifact(RUNBOOK_JSON_PATH, text=runbook_to_json(rb))]
