"""EW118: a pod in a Wavelength Zone without Carrier IPs whose image is not in the Region's ECR."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...spec import ZoneType
from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_WLZ, m, seq

ECR = re.compile(r"^\d{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/")


class ImageUnreachableFromZone(Rule):
    id = "EW118"
    name = "image-unreachable-from-zone"
    severity = Severity.ERROR
    summary = "Nodes in a Wavelength Zone without Carrier IPs can pull only from the Region's ECR."
    rationale = (
        "A Wavelength subnet's only way out is the carrier gateway, and only an instance with a "
        "Carrier IP can use it (https://docs.aws.amazon.com/wavelength/latest/developerguide/"
        f"wavelength-quotas.html; {SEED_WLZ}). Without one, public.ecr.aws and Docker Hub are "
        "unreachable: the node reaches only the VPC endpoints, i.e. its Region's ECR (ecr.api, "
        "ecr.dkr, and S3 for the layers). An ECR pull-through cache mirrors public.ecr.aws into "
        "that ECR (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html)."
    )
    fix = (
        "use <account>.dkr.ecr.<region>.amazonaws.com/... (e.g. the public.ecr.aws pull-through "
        "cache prefix), or give the zone's nodes Carrier IPs (carrierIp: true)"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        topo = ctx.topology
        if topo is None:
            return
        closed = {z.name for z in topo.of_kind(ZoneType.WAVELENGTH) if not z.carrier_ip}
        if not closed:
            return
        for w in ctx.inventory.workloads():
            zones = sorted(closed & set(w.zones))
            if not zones:
                continue
            for group in ("initContainers", "containers"):
                for i, c in enumerate(seq(w.pod_spec.get(group))):
                    image = str(m(c).get("image") or "")
                    found = ECR.match(image)
                    if found and found.group(1) == topo.region:
                        continue
                    where = "another Region's ECR" if found else "a registry outside ECR"
                    yield ctx.finding(
                        self,
                        w.obj,
                        f"{w.kind} {w.name} runs in {', '.join(zones)} (nodes without Carrier IPs), but its "
                        f"image {image!r} is in {where}: the nodes cannot pull it",
                        path=(*w.pod_path, group, i, "image"),
                    )
