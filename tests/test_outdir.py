"""The output directory of `edgewise plan`: plan never destroys files it did not write.

Each case of issue 18 part 1 and the output-path rows of part 3: the directories plan
refuses (exit 2, a clear message, nothing touched), the ones it writes, modes from the
umask, debris of killed runs removed, and write failures reported as input errors."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLES_DIR
from edgewise.cli import cli
from edgewise.errors import InputError
from edgewise.plan import outdir
from edgewise.plan.artifacts import write_tree
from edgewise.plan.outdir import MARKER, TEMP_PREFIX

SPEC = str(EXAMPLES_DIR / "outposts")


def plan(out: str | Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["plan", SPEC, "-o", str(out), "-q", "--simulate", "never", *extra])
    assert "Traceback" not in res.output
    assert res.exit_code in (0, 2), res.output
    return res.exit_code, res.output


def snapshot(root: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry under ``root`` (links not followed): mode and content or link target."""
    out: dict[str, tuple[int, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = (st.st_mode, os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = (st.st_mode, p.read_bytes())
            else:
                out[rel] = (st.st_mode, b"")
    return out


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's project folder: files, a subdirectory and a .git."""
    root = tmp_path / "project"
    (root / ".git" / "objects").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "notes.md").write_text("my notes\n")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('hi')\n")
    return root


def test_current_directory_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(project)
    monkeypatch.chdir(project)
    for spelling in (".", "./", str(project), "src/.."):
        code, output = plan(spelling)
        assert code == 2
        assert "refusing to write a plan to the current directory" in output and "fix:" in output
    assert snapshot(project) == before


def test_a_directory_containing_the_current_one_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(project)
    monkeypatch.chdir(project / "src")
    code, output = plan("..")
    assert code == 2 and "contains the current directory" in output
    assert snapshot(project) == before


def test_home_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(project))
    before = snapshot(project)
    code, output = plan(os.path.expanduser("~"))
    assert code == 2 and "your home directory" in output
    code, output = plan(project.parent)
    assert code == 2 and "contains your home directory" in output
    assert snapshot(project) == before


def test_root_is_refused() -> None:
    code, output = plan("/")
    assert code == 2 and "the file-system root" in output


def test_a_symlink_is_refused_and_its_target_untouched(project: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(project)
    before = snapshot(project)
    for spelling in (str(link), str(link) + "/"):
        code, output = plan(spelling)
        assert code == 2 and "is a symbolic link" in output and str(project) in output
    # a link to a previous plan is refused too: the plan is reached by its real name
    real = tmp_path / "real"
    assert plan(real)[0] == 0
    planned = snapshot(real)
    link.unlink()
    link.symlink_to(real)
    assert plan(link)[0] == 2
    assert snapshot(project) == before and snapshot(real) == planned and link.is_symlink()


def test_a_dangling_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    assert plan(tmp_path / "link")[0] == 2
    assert not (tmp_path / "nowhere").exists()


def test_a_non_empty_directory_that_is_not_a_plan_is_refused(project: Path) -> None:
    before = snapshot(project)
    code, output = plan(project)
    assert code == 2
    assert "not empty and is not a plan edgewise wrote" in output and "notes.md" in output
    assert snapshot(project) == before


def test_an_empty_or_absent_directory_is_written_and_a_plan_is_replaced(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert plan(empty)[0] == 0
    assert plan(tmp_path / "new" / "deeper")[0] == 0
    first = snapshot(empty)
    assert plan(empty)[0] == 0, "a previous plan is replaced"
    assert snapshot(empty) == first
    assert snapshot(tmp_path / "new" / "deeper") == first
    listed = json.loads((empty / MARKER).read_text())["files"]
    assert sorted(listed) == sorted(k for k, v in first.items() if stat.S_ISREG(v[0]) and k != MARKER)


def test_a_plan_with_files_added_by_hand_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert plan(out)[0] == 0
    (out / "apps" / "mine.yaml").write_text("kind: Mine\n")
    before = snapshot(out)
    code, output = plan(out)
    assert code == 2 and "files edgewise did not write (apps/mine.yaml)" in output
    assert snapshot(out) == before


def test_a_damaged_marker_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert plan(out)[0] == 0
    (out / MARKER).write_text("not json")
    code, output = plan(out)
    assert code == 2 and "damaged" in output


def test_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("data\n")
    code, output = plan(tmp_path / "afile")
    assert code == 2 and "is a file" in output  # click's own check of -o
    with pytest.raises(InputError, match="exists and is not a directory"):
        write_tree(tmp_path / "afile", {"a.yaml": "a\n"})
    code, output = plan(tmp_path / "afile" / "sub")
    assert code == 2 and "--output" in output
    assert (tmp_path / "afile").read_text() == "data\n"


def test_a_legal_250_character_name_is_written(tmp_path: Path) -> None:
    name = "p" * 250
    assert plan(tmp_path / name)[0] == 0
    assert (tmp_path / name / "RUNBOOK.md").is_file()
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize(("mask", "dir_mode", "file_mode"), [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600),
                                                             (0o002, 0o775, 0o664)])
def test_modes_follow_the_umask(tmp_path: Path, umask: None, mask: int, dir_mode: int, file_mode: int) -> None:
    os.umask(mask)
    assert plan(tmp_path / "out")[0] == 0
    modes = {stat.S_IMODE(m) for _, (m, _) in snapshot(tmp_path / "out").items()
             if not stat.S_ISDIR(m)}
    dmodes = {stat.S_IMODE(m) for _, (m, _) in snapshot(tmp_path / "out").items() if stat.S_ISDIR(m)}
    assert modes == {file_mode}
    assert dmodes | {stat.S_IMODE(os.stat(tmp_path / "out").st_mode)} == {dir_mode}


def test_debris_of_dead_runs_is_removed_and_live_runs_kept(tmp_path: Path) -> None:
    dead = tmp_path / f"{TEMP_PREFIX}deadbeef"
    (dead / "apps").mkdir(parents=True)
    (dead / "apps" / "half.yaml").write_text("kind: Half\n")
    live = tmp_path / f"{TEMP_PREFIX}0a1b2c3d"
    live.mkdir()
    fd = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another run, still alive, owns it
        assert plan(tmp_path / "out")[0] == 0
        assert not dead.exists(), "a temporary directory nobody holds is debris: removed"
        assert live.exists(), "a temporary directory another run holds is left alone"
    finally:
        os.close(fd)
    assert plan(tmp_path / "out")[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_without_renameat2_the_swap_still_replaces_the_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_tree(out, {"a.yaml": "a: 1\n", "gone.yaml": "g\n"})
    monkeypatch.setattr(outdir, "_RENAMEAT2", None)
    write_tree(out, {"a.yaml": "a: 2\n"})
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "a.yaml"]
    assert (out / "a.yaml").read_text() == "a: 2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_renameat2_exchanges_two_directories(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "from-a").touch()
    (tmp_path / "b").mkdir()
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if not outdir.renameat2(fd, "a", "b", outdir.RENAME_EXCHANGE):
            pytest.skip("renameat2(RENAME_EXCHANGE) is not available here")
        with pytest.raises(FileExistsError):
            outdir.renameat2(fd, "a", "b", outdir.RENAME_NOREPLACE)
    finally:
        os.close(fd)
    assert (tmp_path / "b" / "from-a").exists() and not (tmp_path / "a" / "from-a").exists()


@pytest.mark.parametrize(("code", "says"), [(errno.ENOSPC, "No space left on device"),
                                            (errno.EACCES, "Permission denied"),
                                            (errno.EROFS, "Read-only file system")])
def test_write_failures_exit_2_and_leave_the_previous_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           code: int, says: str) -> None:
    out = tmp_path / "out"
    assert plan(out)[0] == 0
    before = snapshot(out)
    real_open = open

    def failing_open(path: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if "w" in mode and str(path).endswith("RUNBOOK.md"):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, mode, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", failing_open)
    (out / "RUNBOOK.md").unlink()  # so the run must write it (unchanged files are hard-linked)
    before.pop("RUNBOOK.md")
    status, output = plan(out)
    monkeypatch.undo()
    assert status == 2 and f"cannot write the plan: {says}" in output and "fix:" in output
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_a_read_only_parent_exits_2(tmp_path: Path) -> None:  # pragma: no cover - root in CI
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, output = plan(ro / "out")
        assert code == 2 and "Permission denied" in output
    finally:
        ro.chmod(0o755)


def test_a_read_only_parent_exits_2_injected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same as root: the parent refuses new entries (EACCES from mkdir)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    real_mkdir = os.mkdir

    def no_mkdir(path: object, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        if dir_fd is not None or str(path).startswith(str(ro)):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        real_mkdir(path, mode, dir_fd=dir_fd)  # type: ignore[arg-type]

    monkeypatch.setattr(outdir.os, "mkdir", no_mkdir)
    code, output = plan(ro / "out")
    assert code == 2 and "Permission denied" in output
    monkeypatch.undo()
    assert list(ro.iterdir()) == []


def test_input_error_is_raised_before_any_work(tmp_path: Path, project: Path) -> None:
    from edgewise.workflow import run_plan

    with pytest.raises(InputError, match="not empty"):
        run_plan([Path(SPEC)], project, with_simulation=False)
    assert not [p for p in project.parent.iterdir() if p.name.startswith(".")]


def test_apply_state_is_carried_over_and_apply_leftovers_do_not_block(tmp_path: Path) -> None:
    from edgewise.aws.apply import STATE_FILE
    from edgewise.markers import CARRIED_FILES

    assert STATE_FILE in CARRIED_FILES, "plan must know the file apply keeps in a plan directory"
    out = tmp_path / "out"
    assert plan(out)[0] == 0
    (out / STATE_FILE).write_text('{"done": {"network": "abc"}}\n')
    (out / ".edgewise-apply.tmp").write_text("half-written state\n")
    code, output = plan(out)
    assert code == 0, output
    assert (out / STATE_FILE).read_text() == '{"done": {"network": "abc"}}\n', "what apply did is not forgotten"
    assert not (out / ".edgewise-apply.tmp").exists()
    assert STATE_FILE not in json.loads((out / MARKER).read_text())["files"]


def test_a_read_raced_by_a_concurrent_swap_is_decided_again_under_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first look at DIR is taken without the lock: a concurrent plan swapping DIR
    can make it fail (a listed file gone). That failure is not final; the same check
    under the lock, where no swap happens, decides."""
    out = tmp_path / "out"
    write_tree(out, {"a.yaml": "a: 1\n"})
    real = outdir.previous_plan_files
    calls: list[Path] = []

    def raced_once(target: Path) -> set[str] | None:
        calls.append(target)
        if len(calls) == 1:
            gone = OSError(errno.ENOENT, "No such file or directory")
            raise outdir.output_error(target, gone, "read the previous plan")
        return real(target)

    monkeypatch.setattr(outdir, "previous_plan_files", raced_once)
    od = outdir.OutputDir(out)
    os.close(od.parent_fd)
    assert len(calls) == 2


def test_a_refusal_holds_under_the_lock_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper" / "out"
    out.parent.mkdir(parents=True)
    out.mkdir()
    (out / "mine.txt").write_text("user data\n")
    with pytest.raises(InputError, match="not a plan edgewise wrote"):
        outdir.OutputDir(out)
    assert (out / "mine.txt").read_text() == "user data\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]


def test_renameat2_is_found_without_running_ldconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The C library's renameat2 is looked up among the interpreter's own symbols, on
    first use: ctypes.util.find_library (which runs ldconfig in a subprocess) is only the
    fallback where that fails."""
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("the interpreter's own symbols hold renameat2 with glibc on Linux")
    try:
        ctypes.CDLL(None).renameat2  # noqa: B018 - glibc before 2.28 has none
    except AttributeError:
        pytest.skip("this glibc has no renameat2")

    def no_ldconfig(_name: str) -> str:
        raise AssertionError("find_library must not run where the process's symbols have renameat2")

    monkeypatch.setattr(ctypes.util, "find_library", no_ldconfig)
    monkeypatch.setattr(outdir, "_RENAMEAT2", outdir._UNRESOLVED)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "from-a").touch()
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert outdir.renameat2(fd, "a", "b", outdir.RENAME_EXCHANGE)
    finally:
        os.close(fd)
    assert (tmp_path / "b" / "from-a").exists()
    assert outdir._RENAMEAT2 is not None and outdir._RENAMEAT2 is not outdir._UNRESOLVED
