"""Deterministic YAML emission for everything edgewise writes.

Objects are plain dicts built in a fixed key order (apiVersion, kind, metadata, spec,
...); we never sort keys on output, so the order the generators chose is the order
users read. Lists are emitted as built. The C-accelerated dumper is used when PyYAML
has it. No timestamps, no anchors/aliases: the same input gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

__all__ = ["dump", "dump_all"]

_Base: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def dump(obj: Any) -> str:
    out: str = yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True, width=4096)
    return out


def dump_all(objs: Iterable[Any]) -> str:
    out: str = yaml.dump_all(list(objs), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                             allow_unicode=True, width=4096, explicit_start=True)
    return out
