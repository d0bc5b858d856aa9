"""Fixtures of the AWS tests: moto's server on loopback with the stand-ins in front.

No test here may reach a real AWS endpoint: the fixture sets AWS_ENDPOINT_URL (and the
per-service overrides) to loopback with dummy credentials, and every botocore client
created while a test runs is checked to point at 127.0.0.1, or the test fails.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest

from .aws_standin import (
    Account,
    EdgeZone,
    Outpost,
    install_moto_standins,
    standin_edge_zones_in_moto,
    standin_front,
    standin_public_ssm_parameter,
)

ACCOUNT_ID = "123456789012"  # moto's default account


@pytest.fixture(scope="session")
def moto_port() -> Iterator[int]:
    from moto.server import ThreadedMotoServer

    install_moto_standins()
    # the emulated account needs no public AMIs: skipping them makes each reset region fast
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1"
    try:
        yield port
    finally:
        server.stop()


def default_account() -> Account:
    """The emulated account: edge zones (some opted in) and two Outposts in us-west-2."""
    wl = ("t3.medium", "t3.xlarge", "r5.2xlarge", "g4dn.2xlarge")
    return Account(
        edge_zones={
            "us-east-1": [
                EdgeZone("us-east-1-wl1-bos-wlz-1", "use1-wl1-bos-wlz1", "wavelength-zone", "us-east-1-wl1",
                         "us-east-1a", "opted-in", wl, nbg="us-east-1-wl1-bos-wlz-1"),
                EdgeZone("us-east-1-wl1-nyc-wlz-1", "use1-wl1-nyc-wlz1", "wavelength-zone", "us-east-1-wl1",
                         "us-east-1a", "opted-in", wl, nbg="us-east-1-wl1-nyc-wlz-1"),
                EdgeZone("us-east-1-bos-1a", "use1-bos1-az1", "local-zone", "us-east-1-bos-1", "us-east-1a",
                         "not-opted-in", ("c5.2xlarge", "t3.xlarge", "r5.2xlarge")),
            ],
            "us-west-2": [
                EdgeZone("us-west-2-lax-1a", "usw2-lax1-az1", "local-zone", "us-west-2-lax-1", "us-west-2a",
                         "opted-in", ("c5d.2xlarge", "m5.large", "t3.xlarge")),
                EdgeZone("us-west-2-las-1a", "usw2-las1-az1", "local-zone", "us-west-2-las-1", "us-west-2a",
                         "not-opted-in", ("c5d.2xlarge", "t3.xlarge")),
                EdgeZone("us-west-2-phx-2a", "usw2-phx2-az1", "local-zone", "us-west-2-phx-2", "us-west-2a",
                         "opted-in", ("c5.2xlarge", "t3.xlarge")),
                EdgeZone("us-west-2-wl1-den-wlz-1", "usw2-wl1-den-wlz1", "wavelength-zone", "us-west-2-wl1",
                         "us-west-2a", "opted-in", wl, nbg="us-west-2-wl1-den-wlz-1"),
            ],
        },
        outposts={
            "us-west-2": [
                Outpost("op-0a1b2c3d4e5f60001", "arn:aws:outposts:us-west-2:111122223333:outpost/op-0a1b2c3d4e5f60001",
                        "Rack One", "us-west-2a", ("m5.large", "m5.xlarge")),
                Outpost("op-0a1b2c3d4e5f60002", "arn:aws:outposts:us-west-2:111122223333:outpost/op-0a1b2c3d4e5f60002",
                        "Rack Two", "us-west-2b", ("m5.large",)),
            ]
        },
    )


@dataclass
class Emulator:
    account: Account
    moto_url: str
    front_url: str

    def client(self, service: str, region: str = "us-west-2") -> object:
        import boto3

        return boto3.client(service, region_name=region)


@pytest.fixture
def aws(moto_port: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A fresh emulated account per test; the AWS environment points only at loopback."""
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{moto_port}/moto-api/reset", method="POST"))
    account = default_account()
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    with standin_edge_zones_in_moto(account), standin_front(moto_port, account) as front_port:
        moto_url, front_url = f"http://127.0.0.1:{moto_port}", f"http://127.0.0.1:{front_port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", front_url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_OUTPOSTS", front_url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", front_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-never-printed")
        monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
        _guard_loopback(monkeypatch)
        _no_real_tools(monkeypatch)
        from edgewise.plan.cluster.wavelength import ami_parameter

        for region in account.edge_zones:
            for version in ("1.30", "1.31"):
                for arch in ("x86_64", "arm64"):
                    standin_public_ssm_parameter(ACCOUNT_ID, region, ami_parameter(version, arch),
                                                 "ami-0123456789abcdef0")
        yield Emulator(account, moto_url, front_url)


def _guard_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any botocore client that would talk to something other than 127.0.0.1."""
    import botocore.session

    original = botocore.session.Session.create_client

    def create_client(self: botocore.session.Session, *args: object, **kwargs: object) -> object:
        client = original(self, *args, **kwargs)  # type: ignore[arg-type]
        host = urlparse(client.meta.endpoint_url).hostname
        if host != "127.0.0.1":
            raise AssertionError(f"a test tried to reach {client.meta.endpoint_url}: only the loopback emulator")
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)


def _no_real_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's apply uses the real ShellRunner; in these tests no step may reach it (the
    real tools would talk to the network): the tests that get that far use FakeTools."""
    from edgewise.aws.apply import ShellRunner

    def refuse(self: ShellRunner, script: str, **kwargs: object) -> object:
        raise AssertionError(f"a test tried to run real tools: {script[:200]}")

    monkeypatch.setattr(ShellRunner, "run", refuse)
