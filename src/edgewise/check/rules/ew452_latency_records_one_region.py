"""EW452: Route 53 latency records of one name in one AWS Region."""

from __future__ import annotations

import json
from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity


class LatencyRecordsOneRegion(Rule):
    id = "EW452"
    name = "latency-records-one-region"
    severity = Severity.ERROR
    summary = "Route 53 allows one latency record per AWS Region for a name and type."
    rationale = (
        "Latency-based routing chooses between AWS Regions; a record set holds at most one "
        "latency record per Region for the same name and type (Route 53 developer guide, "
        "'Latency-based routing' and 'Values specific for latency records': the Region "
        "identifies the record). Every ALB of an EKS cluster -- Region, Local Zone, Wavelength "
        "or Outpost -- belongs to the cluster's one parent Region, so latency records over "
        "per-zone ALBs cannot be created (and could not rank the zones if they could)."
    )
    fix = (
        "use geoproximity records (Local Zones by LocalZoneGroup), weighted records, or "
        "failover records, each with EvaluateTargetHealth"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for tpl in ctx.cfn_templates:
            seen: dict[tuple[str, str, str, str], str] = {}
            for lid, props in tpl.of_type("AWS::Route53::RecordSet"):
                region = props.get("Region")
                if region is None:
                    continue
                key = (
                    json.dumps(props.get("HostedZoneId") or props.get("HostedZoneName"), sort_keys=True),
                    json.dumps(props.get("Name"), sort_keys=True),
                    str(props.get("Type")),
                    json.dumps(region, sort_keys=True),
                )
                if key in seen:
                    yield ctx.cfn_finding(
                        self,
                        tpl,
                        lid,
                        f"latency record {lid} has the same name, type and Region ({key[3]}) as "
                        f"{seen[key]}: Route 53 rejects the second one",
                        "Properties",
                        "Region",
                    )
                else:
                    seen[key] = lid
