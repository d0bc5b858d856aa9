"""CloudFormation's hard quotas on one template, shared by ``plan`` (which splits its
templates to stay inside them) and ``check`` (EW122, EW123, which report templates that
do not).

https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
"""

from __future__ import annotations

__all__ = ["MAX_INLINE_TEMPLATE_BYTES", "MAX_S3_TEMPLATE_BYTES", "QUOTAS"]

#: (template section, most allowed); none of these can be raised
QUOTAS = (("Resources", 500), ("Outputs", 200), ("Parameters", 200), ("Mappings", 200))
#: the largest template body CloudFormation takes from an S3 object
MAX_S3_TEMPLATE_BYTES = 1_000_000
#: the largest template body CloudFormation takes in a request ("Template body size in a
#: request"); a larger one must be deployed from S3 (``--s3-bucket``, a TemplateURL)
MAX_INLINE_TEMPLATE_BYTES = 51_200
