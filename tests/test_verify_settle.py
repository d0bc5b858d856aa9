"""verify's settling: a pod the scheduler judged before its claim reached the scheduler's
cache is not taken as Pending while the claim exists (the scheduler tries it again)."""

from __future__ import annotations

from typing import Any

from edgewise.verify.run import _claim_now_exists

MESSAGE = ('running PreFilter plugin "VolumeBinding": error getting PVC "shop-region/data-db-0": '
           'could not find v1.PersistentVolumeClaim "shop-region/data-db-0"')


class Claims:
    """A stand-in for the lab client's get, holding some claims."""

    def __init__(self, *names: tuple[str, str]) -> None:
        self.names = set(names)
        self.asked: list[tuple[str, str, str, str]] = []

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        self.asked.append((api_version, kind, namespace, name))
        return {"metadata": {"name": name}} if (namespace, name) in self.names else None


def pod(message: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "shop-region", "name": "db-0"}, "spec": {},
            "status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                       "message": message}]}}


def test_a_pod_waiting_on_a_claim_that_exists_now_is_not_settled() -> None:
    client = Claims(("shop-region", "data-db-0"))
    assert _claim_now_exists(client, pod(MESSAGE))  # type: ignore[arg-type]
    assert client.asked == [("v1", "PersistentVolumeClaim", "shop-region", "data-db-0")]


def test_a_claim_still_missing_or_another_reason_is_the_scheduler_s_last_word() -> None:
    assert not _claim_now_exists(Claims(), pod(MESSAGE))  # type: ignore[arg-type]
    client = Claims(("shop-region", "data-db-0"))
    assert not _claim_now_exists(client, pod("0/7 nodes are available: 7 Insufficient cpu."))  # type: ignore[arg-type]
    assert not _claim_now_exists(client, {"metadata": {}, "spec": {"nodeName": "n1"}, "status": {}})  # type: ignore[arg-type]
    assert client.asked == []
