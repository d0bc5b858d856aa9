"""EW122: a CloudFormation template over a hard CloudFormation quota."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import m

#: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
#: (section, most allowed); none of these can be raised
QUOTAS = (("Resources", 500), ("Outputs", 200), ("Parameters", 200), ("Mappings", 200))
#: the largest template body CloudFormation takes from an S3 object (same page)
MAX_S3_TEMPLATE_BYTES = 1_000_000


class CfnTemplateOverQuota(Rule):
    id = "EW122"
    name = "cfn-template-over-quota"
    # a warning, not an error, only because plan has no split of its own yet: an error
    # would leave a plan of ~90+ edge zones unwritten with nothing the spec can change
    severity = Severity.WARNING
    summary = "A CloudFormation template holds more resources, outputs, parameters or mappings than a stack may."
    rationale = (
        "CloudFormation rejects a template with more than 500 resources, 200 outputs, 200 "
        "parameters or 200 mappings, or a body over 1 MB even from S3, and none of these "
        "quotas can be raised "
        "(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html). "
        "A network template that grows with every edge zone (subnets, route tables, "
        "associations, carrier gateway routes) reaches 500 resources at about 90 edge "
        "zones: the stack cannot be created at all."
    )
    fix = (
        "split the template: one stack per group of edge zones (or nested stacks), "
        "exporting what the others import"
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
