"""Where a configuration value names a host: one reading for the plan and for ``check``.

Call inference (:mod:`edgewise.routing.calls`) reads environment values and ConfigMap text
with these patterns to find the Services a workload calls; the application plan reads
environment values with the same patterns to point a zone's copy at its zone's services
(routing ``istio``), so what the plan rewrites is exactly what ``check`` sees as a call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping

__all__ = ["IN_TEXT", "NOT_HOST_ENV", "WHOLE", "host_spans", "rename_hosts", "text_hosts"]

#: a whole value that is a host: ``name``, ``name:port``, ``scheme://[user@]name[:port][/path]``
WHOLE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/\s]+@)?(?P<host>[a-z0-9][-a-z0-9.]*)(?::(?P<port>\d+))?(?:/\S*)?$",
    re.IGNORECASE,
)
#: hosts inside text: URLs, libpq ``host=``, nginx ``server``, ``name:port``
IN_TEXT = (
    re.compile(r"[a-z][a-z0-9+.-]*://(?:[^@/\s\"']+@)?(?P<host>[a-z0-9][-a-z0-9.]*)(?![\w.-])", re.I),
    re.compile(r"\bhost\s*=\s*(?P<host>[a-z0-9][-a-z0-9.]*)(?![\w.-])", re.I),
    re.compile(r"\bserver\s+(?P<host>[a-z0-9][-a-z0-9.]*)(?![\w.-])", re.I),
    re.compile(r"(?<![\w./-])(?P<host>[a-z][-a-z0-9.]*[a-z0-9]):\d{2,5}\b", re.I),
)
#: env names whose bare value is a user/database name, not a host
NOT_HOST_ENV = re.compile(
    r"(USER|USERNAME|PASSWORD|PASS|SECRET|TOKEN|DB|DBNAME|DATABASE|NAME|"
    r"PATH|FILE|DIR|LEVEL|MODE)$",
    re.I,
)


def _norm(host: str) -> str:
    return host.lower().rstrip(".")


def text_hosts(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, host lower-cased) of every host the text patterns find, in pattern order."""
    for rx in IN_TEXT:
        for m in rx.finditer(text):
            yield m.start("host"), m.end("host"), _norm(m.group("host"))


def host_spans(value: str, env_name: str, is_host: Callable[[str], bool]) -> tuple[bool, list[tuple[int, int, str]]]:
    """Where environment value ``value`` (of variable ``env_name``) names a host for which
    ``is_host`` holds: ``(True, [span])`` when the whole value is that host (with a port or
    a scheme, or under a name that is not a user/database/path name), else ``(False,
    spans)`` of the hosts found in it as text, each span once, in pattern order."""
    stripped = value.strip()
    m = WHOLE.match(stripped)
    if m and is_host(_norm(m.group("host"))) and (
        m.group("port") is not None or "://" in value or not NOT_HOST_ENV.search(env_name)
    ):
        lead = len(value) - len(value.lstrip())
        return True, [(lead + m.start("host"), lead + m.end("host"), _norm(m.group("host")))]
    seen: dict[tuple[int, int], str] = {}
    for start, end, host in text_hosts(value):
        if is_host(host):
            seen.setdefault((start, end), host)
    return False, [(s, e, h) for (s, e), h in seen.items()]


def rename_hosts(value: str, env_name: str, names: Mapping[str, str], namespace: str) -> str:
    """``value`` with every host that :func:`host_spans` finds and that names a key of
    ``names`` (by its short name, ``name.<namespace>``, ``name.<namespace>.svc`` or the
    FQDN) renamed to the mapped name; everything else, the rest of the host included, kept."""
    forms = ("", namespace, f"{namespace}.svc", f"{namespace}.svc.cluster.local")

    def named(host: str) -> bool:
        first, _, rest = host.partition(".")
        return first in names and rest in forms

    _, spans = host_spans(value, env_name, named)
    out, done = value, len(value)
    for start, end, host in sorted(spans, reverse=True):
        if end > done:
            continue  # overlaps a host already renamed
        first = host.partition(".")[0]
        out = out[:start] + names[first] + out[start + len(first):]
        done = start
    return out
