"""EW123: a CloudFormation template too large to be sent inline."""

from __future__ import annotations

from collections.abc import Iterator

from ...cfnlimits import MAX_INLINE_TEMPLATE_BYTES
from ..model import CheckContext, Finding, Rule, Severity

__all__ = ["MAX_INLINE_TEMPLATE_BYTES", "CfnTemplateTooLargeInline"]


class CfnTemplateTooLargeInline(Rule):
    id = "EW123"
    name = "cfn-template-too-large-inline"
    severity = Severity.WARNING
    summary = "A CloudFormation template over 51,200 bytes must be deployed from an S3 bucket."
    rationale = (
        "A template passed in the request (TemplateBody of CreateStack or CreateChangeSet, "
        "`aws cloudformation deploy --template-file` without `--s3-bucket`) may be at most "
        "51,200 bytes "
        "(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html); "
        "a larger one is refused before anything is created. The network template grows "
        "with every edge zone and passes that size at about two dozen edge zones. edgewise's "
        "RUNBOOK deploys exactly the templates this rule names with `--s3-bucket \"$CFN_BUCKET\"` "
        "(and `edgewise apply --s3-bucket BUCKET` uploads them), so in a plan this is a reminder "
        "that the deployment needs a bucket."
    )
    fix = (
        "deploy it with `aws cloudformation deploy --s3-bucket <bucket> ...` (or a TemplateURL), "
        "or split the template into smaller stacks"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for tpl in ctx.cfn_templates:
            if tpl.size is not None and tpl.size > MAX_INLINE_TEMPLATE_BYTES:
                yield ctx.finding(
                    self, None,
                    f"the template is {tpl.size:,} bytes, over the {MAX_INLINE_TEMPLATE_BYTES:,} bytes "
                    "CloudFormation takes in a request",
                    source=tpl.source, object_ref="CloudFormation template",
                )
