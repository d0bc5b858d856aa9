"""EW122: a CloudFormation template over a hard CloudFormation quota."""

from __future__ import annotations

from collections.abc import Iterator

from ...cfnlimits import MAX_S3_TEMPLATE_BYTES, QUOTAS
from ..model import CheckContext, Finding, Rule, Severity
from ._common import m

__all__ = ["MAX_S3_TEMPLATE_BYTES", "QUOTAS", "CfnTemplateOverQuota"]


class CfnTemplateOverQuota(Rule):
    id = "EW122"
    name = "cfn-template-over-quota"
    # an error: CloudFormation refuses the whole stack. plan splits its own network,
    # Wavelength and Route 53 (apps/<app>/dns.cfn.yaml) templates into stacks that fit
    # (edgewise.plan.cluster.cfnsplit), so no plan is left unwritten by it
    severity = Severity.ERROR
    summary = "A CloudFormation template holds more resources, outputs, parameters or mappings than a stack may."
    rationale = (
        "CloudFormation rejects a template with more than 500 resources, 200 outputs, 200 "
        "parameters or 200 mappings, or a body over 1 MB even from S3, and none of these "
        "quotas can be raised "
        "(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html). "
        "A network template that grows with every edge zone (subnets, route tables, "
        "associations, carrier gateway routes) reaches 500 resources at about 90 edge "
        "zones: the stack cannot be created at all. edgewise plan splits such templates "
        "into a base stack and stacks of edge-zone groups that each stay within 80% of "
        "every quota, tied together by exports and Fn::ImportValue "
        "(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html)."
    )
    fix = (
        "split the template: a base stack for what every zone shares and one stack per group "
        "of edge zones, the later stacks importing (Fn::ImportValue) what the earlier export "
        "(edgewise plan does this for its network and Wavelength templates); or nested stacks"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for tpl in ctx.cfn_templates:
            for section, most in QUOTAS:
                have = len(m(tpl.body.get(section)))
                if have > most:
                    yield ctx.finding(
                        self, None, f"the template declares {have} {section.lower()}; a stack holds at most {most}, so "
                        "CloudFormation will refuse it",
                        path=(section,), source=tpl.source, object_ref="CloudFormation template",
                    )
            if tpl.size is not None and tpl.size > MAX_S3_TEMPLATE_BYTES:
                yield ctx.finding(
                    self, None,
                    f"the template is {tpl.size:,} bytes; CloudFormation takes at most {MAX_S3_TEMPLATE_BYTES:,}",
                    source=tpl.source, object_ref="CloudFormation template",
                )
