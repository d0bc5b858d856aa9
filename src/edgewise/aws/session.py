"""One AWS session per command: credentials from the standard chain, clear errors.

Credentials come only from botocore's default chain (environment, shared config and
credentials files, SSO, container and instance metadata); edgewise never reads, prints or
writes them. Every AWS failure becomes an :class:`~edgewise.errors.InputError` (exit 2)
that says what failed and what to do: no credentials, unknown Region, throttling, access
denied, endpoint unreachable.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import InputError

__all__ = ["Aws", "aws_errors"]

#: error codes AWS uses for throttling; botocore retries them (standard mode) before we see one
# https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
}
CREDENTIAL_ERRORS = {
    "AuthFailure",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
}
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


def _boto() -> Any:
    try:
        import boto3
    except ImportError:  # pragma: no cover - depends on the installation
        raise InputError.single(
            "aws", "the AWS commands need boto3", hint="pip install 'edgewise[aws]'"
        ) from None
    return boto3


_LOADER: Any = None


def _botocore_session() -> Any:
    """A fresh botocore session (own profile and credentials) that shares one loader of the
    service models: the EC2 model alone takes a noticeable time to parse."""
    global _LOADER
    import botocore.loaders
    import botocore.session

    if _LOADER is None:
        _LOADER = botocore.loaders.create_loader()
    session = botocore.session.Session()
    session.register_component("data_loader", _LOADER)
    return session


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn botocore's exceptions raised while doing ``what`` into an InputError."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )
    from botocore.parsers import ResponseParserError

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise InputError.single(
            "aws",
            f"{what}: no AWS credentials found",
            hint="credentials come from the standard AWS chain: set AWS_PROFILE or --profile, "
            "run `aws configure` or `aws sso login`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        ) from None
    except ProfileNotFound as exc:
        raise InputError.single("--profile", f"{what}: {exc}",
                                hint="list profiles with `aws configure list-profiles`") from None
    except NoRegionError:
        raise InputError.single("--region", f"{what}: no Region given", hint="pass --region") from None
    except EndpointConnectionError as exc:
        raise InputError.single("aws", f"{what}: cannot reach the AWS endpoint ({exc})",
                                hint="check the network and the Region name") from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        op = exc.operation_name
        message = str(err.get("Message", "")).strip()
        if code in THROTTLING:
            attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            raise InputError.single(
                "aws",
                f"{what}: AWS throttled {op} ({code}) and {attempts} retries did not get through",
                hint="wait a minute and rerun; raise AWS_MAX_ATTEMPTS to retry longer",
            ) from None
        if code in CREDENTIAL_ERRORS:
            raise InputError.single("aws", f"{what}: AWS rejected the credentials ({code}) on {op}",
                                    hint="refresh them (`aws sso login`, new keys) or pick another --profile") from None
        if code in ACCESS_DENIED:
            raise InputError.single("aws", f"{what}: access denied on {op} ({code})",
                                    hint=f"the credentials need permission for {op}") from None
        raise InputError.single("aws", f"{what}: {op} failed: {code}: {message}") from None
    except ResponseParserError as exc:
        first = str(exc).splitlines()[0]
        raise InputError.single("aws", f"{what}: the AWS endpoint sent a response that is not valid ({first})",
                                hint="rerun; if it persists, check AWS_ENDPOINT_URL and any proxy") from None
    except BotoCoreError as exc:
        raise InputError.single("aws", f"{what}: {exc}") from None


class Aws:
    """A boto3 session for one Region (and optional named profile)."""

    def __init__(self, region: str, profile: str | None = None) -> None:
        boto3 = _boto()
        with aws_errors("starting an AWS session"):
            self.session = boto3.Session(profile_name=profile, region_name=region,
                                         botocore_session=_botocore_session())
        known = set(self.session.get_available_regions("ec2"))
        for partition in ("aws-us-gov", "aws-cn"):
            known |= set(self.session.get_available_regions("ec2", partition_name=partition))
        if region not in known:
            near = difflib.get_close_matches(region, sorted(known), n=1)
            raise InputError.single(
                "--region",
                f"unknown AWS Region {region!r}",
                hint=(f"did you mean '{near[0]}'? " if near else "") + "Regions: " + ", ".join(sorted(known)),
            )
        self.region = region
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        """A client with standard retries (throttling is retried with backoff first)."""
        if service not in self._clients:
            from botocore.config import Config

            with aws_errors(f"creating the {service} client"):
                self._clients[service] = self.session.client(
                    service, config=Config(retries={"mode": "standard"}, user_agent_extra="edgewise")
                )
        return self._clients[service]

    def check_credentials(self) -> None:
        """Fail early, and clearly, when the chain has no credentials."""
        with aws_errors("reading AWS credentials"):
            if self.session.get_credentials() is None:
                from botocore.exceptions import NoCredentialsError

                raise NoCredentialsError()

    def pages(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        """Every item under ``key`` of every page of ``operation``."""
        client = self.client(service)
        out: list[Any] = []
        if client.can_paginate(operation):
            for page in client.get_paginator(operation).paginate(**kwargs):
                out += page.get(key, [])
        else:
            out += getattr(client, operation)(**kwargs).get(key, [])
        return out
