"""The spec a plan was made from, kept in the plan directory (``spec/``).

``plan -o DIR`` copies the spec files it read, byte for byte, to ``DIR/spec/`` under
their paths relative to the directory that holds them all (``plan examples/wavelength``
writes ``spec/topology.yaml`` and ``spec/app.yaml``). A copy rather than a normalised
dump: comments and layout stay, a diff of ``spec/`` in git reads like a diff of the spec
itself, and every file:line a later command reports points at a line the user wrote.
The files are the ones the loader read (:func:`edgewise.spec.yamlsource.iter_yaml_files`)
in its order, so the copy loads to the same spec, and a rerun writes identical bytes.

``edgewise verify DIR`` and ``edgewise check DIR`` read it when no ``--topology`` is
given (``check`` finds the Topology document among its inputs).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ..errors import InputError
from ..spec.yamlsource import iter_yaml_files

__all__ = ["SPEC_DIR", "snapshot_files", "snapshot_paths"]

#: the folder of a plan directory holding the spec it was made from
SPEC_DIR = "spec"


def snapshot_files(spec_paths: Sequence[Path]) -> dict[str, str]:
    """``{"spec/<relative path>": text}`` for every spec file ``spec_paths`` names.

    Paths are relative to the deepest directory holding every file, so the snapshot
    does not depend on where the spec lives. Raises :class:`InputError` if a file cannot
    be read (the loader has read them already, so only a file changed meanwhile)."""
    files = [Path(os.path.abspath(f)) for f in iter_yaml_files(list(spec_paths))]
    if not files:
        return {}
    base = Path(os.path.commonpath([str(f.parent) for f in files]))
    out: dict[str, str] = {}
    for f in files:
        rel = PurePosixPath(*f.relative_to(base).parts)
        try:
            text = f.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError.single(str(f), f"cannot copy the spec file into the plan: {exc}",
                                    hint="check that the spec did not change while plan ran, and rerun") from None
        out[f"{SPEC_DIR}/{rel}"] = text
    return dict(sorted(out.items()))


def snapshot_paths(plan_dir: Path) -> list[Path]:
    """The spec snapshot of ``plan_dir`` as paths for :func:`edgewise.spec.load_spec`.

    Raises :class:`InputError` (exit 2) when the plan holds none: written before plans
    kept their spec, or the folder was removed."""
    snap = plan_dir / SPEC_DIR
    if not snap.is_dir() or not any(p.suffix in (".yaml", ".yml") for p in snap.rglob("*")):
        raise InputError.single(
            str(snap),
            "the plan directory holds no spec snapshot (spec/ is missing or has no .yaml file), "
            "so the spec it was made from is unknown",
            hint="pass the spec with --topology SPEC, or plan again (`edgewise plan SPEC -o DIR` writes DIR/spec/)",
        )
    return [snap]
