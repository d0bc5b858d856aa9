"""The AWS emulator for the tests: moto's server on loopback, plus the smallest stand-ins
for what moto does not have. Every stand-in is named as such.

moto (5.x) is the real emulator: EC2 (VPCs, subnets, route tables, carrier gateways,
endpoints, instance type offerings of the Region AZs), CloudFormation (change sets, stacks,
events), EKS. What it lacks, and the stand-in for each:

* ``StandInEc2Front``: an HTTP front on loopback for EC2 that answers
  DescribeAvailabilityZones with the account's Local and Wavelength Zones (type, zone
  group, network border group, parent zone, opt-in status; moto knows Region AZs only and
  none of those fields), ModifyAvailabilityZoneGroup (absent in moto), and the instance
  type offerings of the edge zones (moto lists the Region AZs' offerings, which it serves
  itself); every other EC2 call goes to moto unchanged. It can also answer a chosen action
  with ``RequestLimitExceeded`` (throttling).
  CloudFormation calls pass through the same front to moto unchanged, so that a test can
  throttle one of them too, except that ``standin_template_body_quota`` answers a request
  whose ``TemplateBody`` is over 51,200 bytes as CloudFormation does (a ValidationError:
  "Template body size in a request", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html;
  moto takes any size).
* ``StandInOutposts`` (same front, REST paths): ListOutposts and GetOutpostInstanceTypes
  (moto has no Outposts API).
* ``standin_edge_zones_in_moto``: registers the edge zones in moto's zone table so moto's
  EC2 accepts subnets in them (it rejects any zone it does not know).
* ``standin_public_ssm_parameter``: the public EKS AMI parameter under /aws/service that
  the Wavelength template reads (moto has none of the EKS ones).
* ``standin_cfn_kms_key_tags``: moto's AWS::KMS::Key hands the template's ``{Key, Value}``
  tags to its KMS API, which wants ``{TagKey, TagValue}``, and fails.
* ``standin_cfn_carrier_gateway``: ``AWS::EC2::CarrierGateway`` for moto's CloudFormation
  (moto has the EC2 API for it, not the resource type).
* ``standin_change_set_outputs``: moto computes no Outputs for a stack created by
  executing a CREATE change set (the output map is built from the empty template of the
  change set's placeholder stack), registers none of its exports and resolves no
  Fn::ImportValue in it; the stand-in gives the change set's stack the Region's exports,
  rebuilds the outputs after the change set applies and registers the exports.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


@dataclass
class EdgeZone:
    name: str
    zone_id: str
    type: str  # local-zone | wavelength-zone
    group: str
    parent: str
    opt_in: str = "not-opted-in"
    instance_types: tuple[str, ...] = ()
    nbg: str = ""  # network border group; the zone group when empty


@dataclass
class Outpost:
    id: str
    arn: str
    name: str
    zone: str
    instance_types: tuple[str, ...]
    status: str = "ACTIVE"


@dataclass
class Account:
    """What the stand-ins serve: the edge zones per Region and the Outposts."""

    edge_zones: dict[str, list[EdgeZone]] = field(default_factory=dict)
    outposts: dict[str, list[Outpost]] = field(default_factory=dict)
    throttle: set[str] = field(default_factory=set)  # EC2 actions answered with RequestLimitExceeded
    calls: list[str] = field(default_factory=list)  # actions the front answered or forwarded


def _region(headers: Any) -> str:
    m = re.search(r"Credential=[^/]+/\d+/([a-z0-9-]+)/", headers.get("Authorization", ""))
    return m.group(1) if m else "us-east-1"


def _service(headers: Any) -> str:
    m = re.search(r"Credential=[^/]+/\d+/[a-z0-9-]+/([a-z0-9-]+)/", headers.get("Authorization", ""))
    return m.group(1) if m else "ec2"


def _filters(q: dict[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in q.items():
        m = re.fullmatch(r"Filter\.(\d+)\.Name", k)
        if m:
            n = m.group(1)
            out[v[0]] = [q[f"Filter.{n}.Value.{i}"][0] for i in range(1, 100) if f"Filter.{n}.Value.{i}" in q]
    return out


def _list(q: dict[str, list[str]], prefix: str) -> list[str]:
    return [q[f"{prefix}.{i}"][0] for i in range(1, 1000) if f"{prefix}.{i}" in q]


def _xml(action: str, body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{EC2_NS}">'
            f"<requestId>{uuid.uuid4()}</requestId>{body}</{action}Response>").encode()


def _item(**fields: str | None) -> str:
    return "<item>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items() if v is not None) + "</item>"


class _Front(BaseHTTPRequestHandler):
    server: _FrontServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self, body: bytes) -> tuple[int, bytes, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.moto_port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        ctype = resp.getheader("Content-Type", "text/xml")
        conn.close()
        return resp.status, data, ctype

    # -- StandInOutposts -------------------------------------------------------------

    def do_GET(self) -> None:
        acct = self.server.account
        region = _region(self.headers)
        ops = acct.outposts.get(region, [])
        acct.calls.append(f"outposts {self.path}")
        if self.path.split("?")[0] == "/outposts":
            out = [{"OutpostId": o.id, "OutpostArn": o.arn, "Name": o.name, "AvailabilityZone": o.zone,
                    "LifeCycleStatus": o.status, "OwnerId": o.arn.split(":")[4]} for o in ops]
            self._send(200, json.dumps({"Outposts": out}).encode(), "application/json")
            return
        m = re.fullmatch(r"/outposts/([^/?]+)/instanceTypes(\?.*)?", self.path)
        if m:
            op = next((o for o in ops if m.group(1) in (o.id, o.arn)), None)
            if op is None:
                err = {"Message": f"Outpost {m.group(1)} not found"}
                self.send_response(404)
                body = json.dumps(err).encode()
                self.send_header("x-amzn-ErrorType", "NotFoundException")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            out = {"InstanceTypes": [{"InstanceType": t} for t in op.instance_types], "OutpostId": op.id,
                   "OutpostArn": op.arn}
            self._send(200, json.dumps(out).encode(), "application/json")
            return
        self._send(404, b"{}", "application/json")

    # -- StandInEc2Front -------------------------------------------------------------

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        q = parse_qs(body.decode(), keep_blank_values=True)
        action = q.get("Action", [""])[0]
        acct = self.server.account
        acct.calls.append(action)
        region = _region(self.headers)
        zones = acct.edge_zones.get(region, [])
        if action in acct.throttle:
            if _service(self.headers) == "ec2":
                err = ("<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
                       "<Message>Request limit exceeded.</Message></Error></Errors>"
                       f"<RequestID>{uuid.uuid4()}</RequestID></Response>").encode()
                self._send(503, err, "text/xml")
            else:  # query-protocol services (CloudFormation)
                err = ("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                       "<Message>Rate exceeded</Message></Error>"
                       f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>").encode()
                self._send(400, err, "text/xml")
            return
        if _service(self.headers) != "ec2":
            template = q.get("TemplateBody", [""])[0]
            if len(template.encode()) > 51_200:  # standin_template_body_quota
                err = ("<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>"
                       "<Message>1 validation error detected: Value at 'templateBody' failed to satisfy "
                       "constraint: Member must have length less than or equal to 51200</Message></Error>"
                       f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>").encode()
                self._send(400, err, "text/xml")
                return
            status, data, ctype = self._forward(body)
            self._send(status, data, ctype)
            return
        if action == "DescribeAvailabilityZones":
            self._send(200, self._zones(q, region, zones), "text/xml")
            return
        if action == "ModifyAvailabilityZoneGroup":
            group, status = q["GroupName"][0], q["OptInStatus"][0]
            hit = [z for z in zones if z.group == group]
            if not hit:
                err = ("<Response><Errors><Error><Code>InvalidParameterValue</Code>"
                       f"<Message>unknown group {escape(group)}</Message></Error></Errors></Response>").encode()
                self._send(400, err, "text/xml")
                return
            for z in hit:
                z.opt_in = status
            self._send(200, _xml(action, "<return>true</return>"), "text/xml")
            return
        status, data, ctype = self._forward(body)
        if action == "DescribeInstanceTypeOfferings" and status == 200 and \
                q.get("LocationType", ["region"])[0] == "availability-zone":
            data = self._add_offerings(q, zones, data)
        self._send(status, data, ctype)

    def _zones(self, q: dict[str, list[str]], region: str, edge: list[EdgeZone]) -> bytes:
        from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

        flt = _filters(q)
        names = _list(q, "ZoneName")
        all_zones = q.get("AllAvailabilityZones", ["false"])[0] == "true"
        rows: list[dict[str, str | None]] = []
        edge_names = {z.name for z in edge}
        for z in RegionsAndZonesBackend.zones.get(region, []):
            if z.name in edge_names:
                continue
            rows.append({"zoneName": z.name, "zoneState": "available", "regionName": region, "zoneId": z.zone_id,
                         "zoneType": "availability-zone", "optInStatus": "opt-in-not-required",
                         "groupName": region, "networkBorderGroup": region, "parentZoneName": None})
        for z in edge:
            rows.append({"zoneName": z.name, "zoneState": "available", "regionName": region, "zoneId": z.zone_id,
                         "zoneType": z.type, "optInStatus": z.opt_in, "groupName": z.group,
                         "networkBorderGroup": z.nbg or z.group, "parentZoneName": z.parent})
        keys = {"group-name": "groupName", "zone-name": "zoneName", "zone-type": "zoneType",
                "opt-in-status": "optInStatus", "zone-id": "zoneId", "region-name": "regionName"}
        out = []
        for r in rows:
            if names and r["zoneName"] not in names:
                continue
            if not all_zones and not names and r["optInStatus"] == "not-opted-in":
                continue
            if any(r.get(keys.get(k, k)) not in v for k, v in flt.items()):
                continue
            out.append(_item(**r))
        return _xml("DescribeAvailabilityZones", "<availabilityZoneInfo>" + "".join(out) + "</availabilityZoneInfo>")

    def _add_offerings(self, q: dict[str, list[str]], edge: list[EdgeZone], data: bytes) -> bytes:
        flt = _filters(q)
        wanted = flt.get("location")
        types = flt.get("instance-type")
        extra = "".join(
            _item(instanceType=t, locationType="availability-zone", location=z.name)
            for z in edge
            if wanted is None or z.name in wanted
            for t in z.instance_types
            if types is None or t in types
        )
        text = data.decode()
        if "<instanceTypeOfferingSet/>" in text:
            text = text.replace("<instanceTypeOfferingSet/>",
                                f"<instanceTypeOfferingSet>{extra}</instanceTypeOfferingSet>")
        else:
            text = text.replace("</instanceTypeOfferingSet>", extra + "</instanceTypeOfferingSet>", 1)
        return text.encode()


class _FrontServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, moto_port: int, account: Account) -> None:
        super().__init__(("127.0.0.1", 0), _Front)
        self.moto_port = moto_port
        self.account = account


@contextmanager
def standin_front(moto_port: int, account: Account) -> Iterator[int]:
    """StandInEc2Front + StandInOutposts on a free loopback port; yields the port."""
    srv = _FrontServer(moto_port, account)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


@contextmanager
def standin_edge_zones_in_moto(account: Account) -> Iterator[None]:
    """Register the account's edge zones in moto's zone table (so subnets can go there)."""
    from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend, Zone

    added: list[tuple[str, Any]] = []
    for region, zones in account.edge_zones.items():
        table = RegionsAndZonesBackend.zones.setdefault(region, [])
        for z in zones:
            if not any(x.name == z.name for x in table):
                mz = Zone(region_name=region, name=z.name, zone_id=z.zone_id, zone_type=z.type)
                table.append(mz)
                added.append((region, mz))
    try:
        yield
    finally:
        for region, mz in added:
            RegionsAndZonesBackend.zones[region].remove(mz)


_installed = False


def install_moto_standins() -> None:
    """standin_cfn_carrier_gateway and standin_change_set_outputs (process-wide, once)."""
    global _installed
    if _installed:
        return
    _installed = True
    from moto.cloudformation import models as cfn_models
    from moto.cloudformation.parsing import OutputMap, get_model_list, get_model_map
    from moto.core.common_models import CloudFormationModel
    from moto.ec2.models import ec2_backends

    class StandInCfnCarrierGateway(CloudFormationModel):
        """standin_cfn_carrier_gateway: AWS::EC2::CarrierGateway through moto's EC2 backend."""

        __module__ = "moto.ec2.standin_carrier_gateway"  # moto's model registry keys models by service

        def __init__(self, gw: Any) -> None:
            self.gw = gw

        @property
        def physical_resource_id(self) -> str:
            return str(self.gw.id)

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::EC2::CarrierGateway"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("CarrierGatewayId", "OwnerId", "State")

        def get_cfn_attribute(self, attr: str) -> Any:
            return {"CarrierGatewayId": self.gw.id, "OwnerId": self.gw.owner_id, "State": self.gw.state}[attr]

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
            **kwargs: Any,
        ) -> Any:
            props = cloudformation_json["Properties"]
            tags = {t["Key"]: t["Value"] for t in props.get("Tags", [])}
            backend = ec2_backends[account_id][region_name]
            return cls(backend.create_carrier_gateway(props["VpcId"], tags))

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
            cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
            account_id: str, region_name: str,
        ) -> Any:
            return original_resource

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        ) -> None:
            return None

        def is_created(self) -> bool:
            return True

    get_model_list.cache_clear()
    get_model_map.cache_clear()

    original_apply = cfn_models.ChangeSet.apply

    def apply_with_outputs(self: Any) -> None:  # standin_change_set_outputs
        original_apply(self)
        self.stack.output_map = OutputMap(self.stack.resource_map, self.template_dict, self.stack.stack_id)

    cfn_models.ChangeSet.apply = apply_with_outputs

    original_execute = cfn_models.CloudFormationBackend.execute_change_set

    def execute_with_exports(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        # the change set's stack was made without the Region's exports: Fn::ImportValue fails
        for cs in self.change_sets.values():
            if change_set_name in (cs.change_set_name, cs.change_set_id):
                cs.stack.cross_stack_resources = self.exports
                cs.stack.resource_map.cross_stack_resources = self.exports
        original_execute(self, change_set_name, stack_name)  # standin_change_set_outputs: exports too
        for stack in self.stacks.values():
            for export in stack.exports:
                self.exports[export.name] = export

    cfn_models.CloudFormationBackend.execute_change_set = execute_with_exports

    # standin_cfn_kms_key_tags: AWS::KMS::Key takes Tags as {Key, Value} like every resource
    # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-kms-key.html);
    # moto passes them on to its KMS API, which wants {TagKey, TagValue}
    from moto.kms.models import Key as KmsKey

    original_kms = KmsKey.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def kms_with_tags(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
                      **kwargs: Any) -> Any:
        props = dict(cloudformation_json.get("Properties", {}))
        props["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} if "Key" in t else t
                         for t in props.get("Tags", [])]
        return original_kms(cls, resource_name, {**cloudformation_json, "Properties": props}, account_id,
                            region_name, **kwargs)

    KmsKey.create_from_cloudformation_json = classmethod(kms_with_tags)  # type: ignore[method-assign]


def standin_public_ssm_parameter(account_id: str, region: str, name: str, value: str) -> None:
    """standin_public_ssm_parameter: a public parameter AWS publishes under /aws/service
    (here the EKS-optimised AMI id the Wavelength template reads); moto has none of the
    EKS ones and, like AWS, refuses to let an account write under /aws."""
    import datetime

    from moto.ssm.models import Parameter, ssm_backends

    backend = ssm_backends[account_id][region]
    backend._parameters[name] = [
        Parameter(account_id=account_id, name=name, value=value, parameter_type="String", description=None,
                  allowed_pattern=None, keyid=None, last_modified_date=datetime.datetime.now(datetime.UTC),
                  version=1, data_type="aws:ec2:image")
    ]
