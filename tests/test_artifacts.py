"""Writing a plan tree: all or nothing, and unchanged files reused from the previous tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgewise.errors import InputError
from edgewise.plan import artifacts
from edgewise.plan.artifacts import TreeWriter, write_tree
from edgewise.plan.outdir import MARKER


def tree(root: Path) -> dict[str, bytes]:
    """The files under ``root``, without the marker (tested on its own)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != MARKER}


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_first_write_creates_the_tree(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, {"a.yaml": "a: 1\n", "d/e/b.yaml": "b: 2\n", "café.md": "é\n"})
    assert tree(out) == {"a.yaml": b"a: 1\n", "d/e/b.yaml": b"b: 2\n", "café.md": "é\n".encode()}
    assert leftovers(tmp_path) == []


def test_rewrite_links_unchanged_files_writes_changed_and_drops_stale(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, {"same.yaml": "x: 1\n", "changed.yaml": "y: 1\n", "stale.yaml": "z: 1\n",
                     "resized.yaml": "w: 1\n"})
    before = {name: os.stat(out / name).st_ino for name in ("same.yaml", "changed.yaml", "resized.yaml")}
    with TreeWriter(out) as writer:
        writer.add({"same.yaml": "x: 1\n", "changed.yaml": "y: 2\n", "resized.yaml": "w: 10\n", "new.yaml": "n\n"})
        writer.commit()
    assert tree(out) == {"same.yaml": b"x: 1\n", "changed.yaml": b"y: 2\n", "resized.yaml": b"w: 10\n",
                         "new.yaml": b"n\n"}
    assert os.stat(out / "same.yaml").st_ino == before["same.yaml"], "an unchanged file keeps its inode"
    assert os.stat(out / "changed.yaml").st_ino != before["changed.yaml"]
    assert (writer.reused, writer.written) == (1, 3)
    assert leftovers(tmp_path) == [], "the previous tree and the temporary directory are gone"


def test_a_symlink_in_the_previous_tree_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere.yaml"
    secret.write_text("x: 1\n")
    out = tmp_path / "out"
    write_tree(out, {"a.yaml": "y: 1\n"})
    (out / "a.yaml").unlink()
    (out / "a.yaml").symlink_to(secret)
    write_tree(out, {"a.yaml": "x: 1\n"})
    assert not (out / "a.yaml").is_symlink()
    assert os.stat(out / "a.yaml").st_ino != os.stat(secret).st_ino
    assert secret.read_text() == "x: 1\n"


def test_without_hard_links_files_are_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_tree(out, {"a.yaml": "a: 1\n"})

    def no_links(*_args: object, **_kwargs: object) -> None:
        raise OSError("Operation not permitted")

    monkeypatch.setattr(artifacts.os, "link", no_links)
    with TreeWriter(out) as writer:
        writer.add({"a.yaml": "a: 1\n"})
        writer.commit()
    assert tree(out) == {"a.yaml": b"a: 1\n"}
    assert (writer.reused, writer.written) == (0, 1)


def test_leaving_without_commit_keeps_the_previous_tree(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, {"keep.yaml": "k: 1\n"})
    with pytest.raises(RuntimeError), TreeWriter(out) as writer:
        writer.add({"keep.yaml": "k: 2\n", "other.yaml": "o\n"})
        raise RuntimeError("check found errors")
    assert tree(out) == {"keep.yaml": b"k: 1\n"}
    assert leftovers(tmp_path) == []


def test_a_failed_write_is_reported_and_the_previous_tree_kept(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_tree(out, {"keep.yaml": "k: 1\n"})
    real_open = open

    def failing_open(path: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if "w" in mode and str(path).endswith("b.yaml"):
            raise OSError(28, "No space left on device")
        return real_open(path, mode, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(InputError, match="cannot write the plan: No space left on device"):
        write_tree(out, {"a.yaml": "a\n", "b.yaml": "b\n", "keep.yaml": "k: 2\n"})
    monkeypatch.undo()
    assert tree(out) == {"keep.yaml": b"k: 1\n"}
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("path", ["a/b.yaml", "/a", "//a", "a/../b", "..", "a/..", "./a", "a//b", "a/./b",
                                  ".../x", "a/..b", "..a/b", "a/b/"])
def test_artifact_paths_are_refused_exactly_when_absolute_or_leaving_the_output(path: str) -> None:
    from pathlib import PurePosixPath

    outside = PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts
    if outside:
        with pytest.raises(ValueError, match="relative and inside the output"):
            artifacts.Artifact(path, text="x")
    else:
        assert artifacts.Artifact(path, text="x").path == path
