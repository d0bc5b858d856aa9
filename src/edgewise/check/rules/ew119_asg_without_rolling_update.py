"""EW119: a self-managed node Auto Scaling group without an update policy or autoscaler tags."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import m, seq

CA_ENABLED = "k8s.io/cluster-autoscaler/enabled"


class AsgWithoutRollingUpdate(Rule):
    id = "EW119"
    name = "asg-without-rolling-update"
    severity = Severity.WARNING
    summary = "A node Auto Scaling group needs a rolling update policy and the cluster-autoscaler discovery tags."
    rationale = (
        "Without UpdatePolicy (AutoScalingRollingUpdate or AutoScalingReplacingUpdate), a new "
        "launch template version (a new AMI) reaches only instances launched later; running "
        "nodes keep the old image "
        "(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-updatepolicy.html). "
        "cluster-autoscaler finds groups by the tags k8s.io/cluster-autoscaler/enabled and "
        "k8s.io/cluster-autoscaler/<cluster> (https://github.com/kubernetes/autoscaler/blob/master/"
        "cluster-autoscaler/cloudprovider/aws/README.md); an untagged group never scales."
    )
    fix = (
        "add UpdatePolicy: {AutoScalingRollingUpdate: {MinInstancesInService: <min>, MaxBatchSize: 1}} "
        "and the tags k8s.io/cluster-autoscaler/enabled=true, k8s.io/cluster-autoscaler/<cluster>=owned"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for tpl in ctx.cfn_templates:
            for lid, props in tpl.of_type("AWS::AutoScaling::AutoScalingGroup"):
                if "LaunchTemplate" not in props and "MixedInstancesPolicy" not in props:
                    continue
                policy = m(m(tpl.resources.get(lid)).get("UpdatePolicy"))
                if not ({"AutoScalingRollingUpdate", "AutoScalingReplacingUpdate"} & set(policy)):
                    yield ctx.cfn_finding(
                        self, tpl, lid, "Auto Scaling group has no rolling update policy: running nodes keep old AMIs"
                    )
                keys = {str(m(t).get("Key")) for t in seq(props.get("Tags"))}
                if CA_ENABLED not in keys or not any(k.startswith("k8s.io/cluster-autoscaler/") and k != CA_ENABLED
                                                     for k in keys):
                    yield ctx.cfn_finding(
                        self, tpl, lid, "Auto Scaling group lacks the cluster-autoscaler discovery tags", "Properties"
                    )
