"""EW504: callers allowed to a service but not to its failover/redirect target."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_LZ, m, seq


class FailoverTargetWithoutIntention(Rule):
    id = "EW504"
    name = "failover-target-without-intention"
    severity = Severity.ERROR
    summary = "Intentions must allow the callers of a service to reach its failover target too."
    rationale = (
        f"{SEED_LZ}: traffic moves to the Region service on failover; Consul authorizes "
        "against the target service's intentions, so a caller allowed only to the zone "
        "copy is denied exactly when failover happens (DESIGN §2)."
    )
    fix = "add the same sources to the ServiceIntentions of the failover/redirect target"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        intentions = ctx.of_kind("ServiceIntentions")
        if not intentions:
            return
        allowed: dict[str, set[str]] = {}
        for o in intentions:
            dest = str(m(o.spec.get("destination")).get("name") or "")
            for s in seq(o.spec.get("sources")):
                s = m(s)
                if str(s.get("action") or "allow") == "allow" or s.get("permissions"):
                    allowed.setdefault(dest, set()).add(str(s.get("name")))
        wildcard = allowed.get("*", set())
        for o in ctx.of_kind("ServiceResolver"):
            sources = allowed.get(o.name, set())
            if not sources:
                continue
            targets: list[tuple[str, tuple[str | int, ...]]] = []
            red = m(o.spec.get("redirect"))
            if red.get("service"):
                targets.append((str(red["service"]), ("spec", "redirect")))
            for key, fo in m(o.spec.get("failover")).items():
                for t in [m(x) for x in seq(m(fo).get("targets"))] or [m(fo)]:
                    targets.append((str(t.get("service") or o.name), ("spec", "failover", key)))
            for target, path in targets:
                ok = allowed.get(target, set()) | wildcard
                missing = sorted(s for s in sources if s not in ok and "*" not in ok)
                if missing and target != o.name:
                    yield ctx.finding(
                        self,
                        o,
                        f"{', '.join(missing)} may call {o.name} but no "
                        f"intention allows them to reach its target {target}",
                        path=path,
                    )
