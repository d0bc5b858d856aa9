"""The compiled YAML reader's entry for modules below the spec layer.

``edgewise._fastyaml`` (``rust/fastyaml``) parses YAML without the GIL and builds the
Python data itself; a plain scalar is typed by PyYAML's own resolver and constructor
(:func:`plain_resolver`), so the data equals ``yaml.safe_load``'s
(``tests/test_fastyaml.py`` holds the two together). :mod:`edgewise.spec.yamlsource`
builds on it for documents with positions; the zone catalog reads its data file with
:func:`load_plain`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

try:  # the compiled reader (rust/fastyaml); absent where it could not be built
    from . import _fastyaml
except ImportError:  # pragma: no cover - depends on the build
    _fastyaml = None  # type: ignore[assignment]

__all__ = ["MAX_DEPTH", "PLAIN", "YAML_SUFFIXES", "load_built", "load_plain", "plain_resolver", "warming"]

YAML_SUFFIXES = (".yaml", ".yml")

#: deepest nesting of collections a document may have (Kubernetes objects and
#: CloudFormation templates stay far below; Python's own stack does not allow much more)
MAX_DEPTH = 100

_STR_TAG = "tag:yaml.org,2002:str"
_MISSING = object()


def plain_resolver() -> tuple[Callable[[str], Any], str] | None:
    """PyYAML's typing of a plain scalar (its resolver, then its constructor), cached per
    value, and the first characters it keys on; None when a resolver keys on any."""
    resolvers = yaml.SafeLoader.yaml_implicit_resolvers
    if None in resolvers:
        return None
    loader = yaml.SafeLoader("")
    cache: dict[str, Any] = {}

    def resolve(value: str) -> Any:
        hit = cache.get(value, _MISSING)
        if hit is not _MISSING:
            return hit
        tag = loader.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
        if tag == _STR_TAG:
            out: Any = value
        else:
            node = yaml.ScalarNode(tag, value)
            try:
                out = loader.construct_object(node, deep=True)
            except Exception:  # the slow path reports it with its position
                raise ValueError(value) from None
            finally:
                loader.constructed_objects.pop(node, None)
        if len(cache) < 100_000:
            cache[value] = out
        return out

    return resolve, "".join(k for k in resolvers if k)


#: the resolver every compiled read uses (one cache for the process)
PLAIN = plain_resolver()


def load_built(text: str) -> list[tuple[int, int, Any, Any, bool]] | None:
    """What the compiled reader builds of ``text``: per document its index, first line,
    data, positions and whether it is empty; None when the reader is not built or leaves
    this text to PyYAML (an alias, a tag, a scalar PyYAML must report, ...)."""
    if _fastyaml is None or PLAIN is None:
        return None
    try:
        return _fastyaml.load(text, PLAIN[0], PLAIN[1], MAX_DEPTH)
    except UnicodeEncodeError:  # lone surrogates: not text the compiled reader can hold
        return None


def load_plain(text: str) -> list[Any] | None:
    """The data of every document of ``text``, read by the compiled reader, as
    ``yaml.safe_load_all`` gives it; None when the reader leaves this text to PyYAML
    (then read it with PyYAML: the answer is the same)."""
    found = load_built(text)
    return None if found is None else [data for _index, _line, data, _positions, _empty in found]


#: threads that parse files ahead of a read (:func:`warming`): one, beside the caller
#: that meanwhile imports and loads on the other CPU
WARM_THREADS = 1
#: at most this many bytes of text are parsed ahead (what was parsed waits, in memory,
#: for the read that takes it)
WARM_BUDGET = 64 << 20


@contextlib.contextmanager
def warming(paths: Sequence[Path]) -> Iterator[None]:
    """Parse the YAML files under ``paths`` on another thread while the block runs,
    until the block starts reading them: the compiled reader's read-ahead
    (:class:`~edgewise.spec.yamlsource.ReadAhead`) then takes each file's parse rather
    than parsing it again, and the rest is parsed as before. ``edgewise check`` runs its
    imports and loads its topology in such a block: at 200 x 40 the parse is what its
    read waits for. What is read is the same either way: a file parsed here is taken
    only while its device, inode, size and modification time are unchanged. Files are
    listed without following links (the read follows them: those are parsed then);
    nothing happens without the compiled reader."""
    if _fastyaml is None or PLAIN is None or not paths:
        yield
        return
    handle = _fastyaml.warm(_yaml_files(paths), PLAIN[1], MAX_DEPTH, WARM_THREADS, WARM_BUDGET)
    try:
        yield
    finally:
        handle.close()


#: the listing for :func:`warming` stops after this many directory entries (a tree that
#: large is mostly not YAML: its walk would only delay the command)
WARM_LIST_ENTRIES = 100_000


def _yaml_files(paths: Sequence[Path]) -> list[str]:
    """The YAML files under ``paths`` in the order check walks a tree (each directory's
    entries sorted by name, a subdirectory where its name sorts; check reads a
    kustomization's resources in its own order), listed until :data:`WARM_LIST_ENTRIES`
    entries were seen. Links are not followed here (check's read parses those itself)."""
    out: list[str] = []
    seen = 0

    def walk(directory: str) -> bool:
        nonlocal seen
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return True
        seen += len(entries)
        if seen > WARM_LIST_ENTRIES:
            return False
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                if not walk(e.path):
                    return False
            elif e.name.endswith(YAML_SUFFIXES):
                out.append(e.path)
        return True

    for path in paths:
        p = os.fspath(path)
        if p.endswith(YAML_SUFFIXES):
            out.append(p)
        elif not walk(p):
            break
    return out
