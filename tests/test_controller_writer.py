"""Concurrent, coalesced EndpointSlice writes (:mod:`edgewise.controller.writer`) and the
controller publishing through them. No timing: threads are held and released with events."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest

from edgewise.controller.endpoints import ManagedService, Selection
from edgewise.controller.state import Controller
from edgewise.controller.writer import SliceWriter

WAIT = 30.0  # generous: only reached when something is wrong


class Gate:
    """A write function that blocks until released, recording what it wrote and when
    several writes were in flight at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.started: list[tuple[str, int]] = []
        self.written: list[tuple[str, int]] = []
        self.in_flight: set[str] = set()
        self.max_in_flight = 0
        self.both_started = threading.Event()
        self.one_started = threading.Event()

    def write(self, key: str, payload: int) -> None:
        with self.lock:
            assert key not in self.in_flight, f"two writes of {key} at once"
            self.in_flight.add(key)
            self.started.append((key, payload))
            self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
            self.one_started.set()
            if len(self.in_flight) >= 2:
                self.both_started.set()
        assert self.release.wait(WAIT)
        with self.lock:
            self.in_flight.discard(key)
            self.written.append((key, payload))


def test_a_service_changed_while_its_write_is_in_flight_is_written_again_with_the_latest_only() -> None:
    g = Gate()
    done: list[tuple[str, int, Exception | None]] = []
    w: SliceWriter[str, int] = SliceWriter(g.write, lambda k, p, e: done.append((k, p, e)), workers=4)
    w.submit("a", 1)
    assert g.one_started.wait(WAIT)  # the first write is in flight
    w.submit("a", 2)
    w.submit("a", 3)  # replaces 2 before any worker took it
    g.release.set()
    assert w.flush(WAIT)
    assert g.written == [("a", 1), ("a", 3)]
    assert [(k, p) for k, p, _ in done] == [("a", 1), ("a", 3)]
    assert w.coalesced == 1


def test_different_services_are_written_concurrently_within_the_bound() -> None:
    g = Gate()
    w: SliceWriter[str, int] = SliceWriter(g.write, lambda k, p, e: None, workers=2)
    for i, k in enumerate("abcde"):
        w.submit(k, i)
    assert g.both_started.wait(WAIT)  # two writes in flight at the same time
    g.release.set()
    assert w.flush(WAIT)
    assert sorted(g.written) == [(k, i) for i, k in enumerate("abcde")]
    assert g.max_in_flight == 2  # never more than the bound


def test_a_failed_write_is_reported_and_the_writer_goes_on() -> None:
    done: list[tuple[str, int, str | None]] = []

    def write(key: str, payload: int) -> None:
        if key == "bad":
            raise RuntimeError("API said no")

    w: SliceWriter[str, int] = SliceWriter(write, lambda k, p, e: done.append((k, p, e and str(e))), workers=1)
    w.submit("bad", 1)
    w.submit("good", 2)
    assert w.flush(WAIT)
    assert done == [("bad", 1, "API said no"), ("good", 2, None)]
    with pytest.raises(ValueError, match="at least 1"):
        SliceWriter(write, lambda k, p, e: None, workers=0)


class SlowApi:
    """The controller's Api: slice writes wait for a gate; one can be made to fail."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.slices: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.fail: set[tuple[str, str]] = set()
        self.lock = threading.Lock()

    def apply(self, obj: Mapping[str, Any]) -> None:
        assert self.gate.wait(WAIT)
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if key in self.fail:
            raise RuntimeError("the API is away")
        with self.lock:
            self.slices[key] = obj

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        pass

    def owned(self, app: str) -> list[tuple[str, str, str, str]]:
        return []

    def patch_status(self, name: str, status: Mapping[str, Any]) -> None:
        pass

    def event(self, service: ManagedService, selection: Selection) -> None:
        pass


def _node(name: str, zone: str, kind: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"edgewise.dev/zone": zone, "edgewise.dev/zone-type": kind,
                                                  "topology.kubernetes.io/zone": zone}}}


def _pod(zone: str, svc: str, ip: str, ready: bool) -> dict[str, Any]:
    return {"metadata": {"namespace": f"ns-{zone}", "name": f"{svc}-{zone}", "uid": f"u-{svc}-{zone}",
                         "labels": {"app": "shop", "svc": svc}},
            "spec": {"nodeName": f"n-{zone}"},
            "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def _service(zone: str, svc: str) -> dict[str, Any]:
    return {"metadata": {"namespace": f"ns-{zone}", "name": svc, "annotations": {
        "edgewise.dev/endpoints": "edge-failover", "edgewise.dev/endpoint-selector": f"app=shop,svc={svc}",
        "edgewise.dev/zone": zone}}, "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


def _addresses(obj: Mapping[str, Any]) -> list[str]:
    return [a for e in obj["endpoints"] for a in e["addresses"]]


def test_a_zone_burst_is_written_concurrently_and_ends_in_the_final_state() -> None:
    """A whole zone goes unready (one change per service): the events return without
    waiting for the API, every Service ends on the Region's pods, and a Service whose
    write failed is written again by retry_failed()."""
    api = SlowApi()
    c = Controller(api, write_workers=4)
    assert c.writer is not None
    c.node_event("ADDED", _node("n-az", "az", "availability-zone"))
    c.node_event("ADDED", _node("n-lz", "lz", "local"))
    services = [f"s{i}" for i in range(6)]
    for i, s in enumerate(services):
        c.service_event("ADDED", _service("lz", s))
        c.pod_event("ADDED", _pod("lz", s, f"10.0.1.{i + 1}", True))
        c.pod_event("ADDED", _pod("az", s, f"10.0.0.{i + 1}", True))
    api.gate.set()
    assert c.writer.flush(WAIT)
    assert {k[1]: _addresses(v) for k, v in api.slices.items()} == {
        f"{s}-edgewise": [f"10.0.1.{i + 1}"] for i, s in enumerate(services)}
    api.gate.clear()
    api.fail.add(("ns-lz", "s0-edgewise"))
    for i, s in enumerate(services):  # the burst: returns while every write is held
        assert c.pod_event("MODIFIED", _pod("lz", s, f"10.0.1.{i + 1}", False)) == 1
    api.gate.set()
    assert c.writer.flush(WAIT)
    assert {k[1]: _addresses(v) for k, v in api.slices.items() if k[1] != "s0-edgewise"} == {
        f"{s}-edgewise": [f"10.0.0.{i + 1}"] for i, s in enumerate(services) if s != "s0"}
    assert set(c.failed) == {("ns-lz", "s0")}
    api.fail.clear()
    assert c.retry_failed() == 1
    assert c.writer.flush(WAIT)
    assert _addresses(api.slices[("ns-lz", "s0-edgewise")]) == ["10.0.0.1"]
    assert not c.failed
