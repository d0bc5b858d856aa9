"""The output directory of ``edgewise plan``: which directories a plan may replace, and
replacing one atomically.

The rules (README, "The output directory"):

* DIR is written only when it is absent, an empty directory, or a plan edgewise wrote
  before: it holds the marker file :data:`MARKER`, which lists every file of that plan.
  A plan directory holding files its marker does not list (added by hand) is refused
  too, since replacing it would delete them. Anything else is refused with an
  :class:`~edgewise.errors.InputError` (exit 2) before anything is written.
* DIR must not be a symbolic link (its target is never touched), the file-system root,
  the home directory, the current directory, or a directory that contains one of them.
* New directories and files get the modes the user's umask allows.
* The new tree is built in a temporary sibling ``.edgewise.out.XXXXXXXX`` and swapped
  into place with ``renameat2(RENAME_EXCHANGE)`` (one atomic step: DIR always holds
  either the old plan or the new one); where the file system lacks it, two renames.
* Concurrent plans into one parent directory serialise on an ``flock`` of that
  directory while they check DIR and swap. Each temporary directory is ``flock``-ed by
  the run that owns it for as long as it lives, so a temporary directory nobody holds is
  debris of a killed run, and the next run removes it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..markers import CARRIED_FILES, KNOWN_EXTRA_FILES, PLAN_MARKER, TEMP_PREFIX

if TYPE_CHECKING:
    import ctypes

# json and shutil (which imports bz2 and lzma; ~3 ms together) are imported where they
# are used: this module is imported on the way to loading the spec, and a first plan reads
# no marker, removes no tree and copies no file before the spec is loaded

__all__ = ["MARKER", "TEMP_PREFIX", "OutputDir", "output_error", "previous_plan_files", "renameat2", "resolve_target"]

#: the file that makes a directory "a plan edgewise wrote"; the spec loader skips such
#: directories too (``plan . -o out`` must not read its own previous output)
MARKER = PLAN_MARKER
#: temporary siblings of DIR (TEMP_PREFIX): the tree being built, or the previous tree
#: being removed
MARKER_FORMAT = 1
#: how many unexpected files a refusal names
SHOWN = 5

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
AT_FDCWD = -100


def _renameat2_function() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """glibc's renameat2 (2.28+), or None (not Linux/glibc: fall back to rename).

    Looked up first among the symbols the interpreter already has (it links the C
    library), which costs nothing; ``ctypes.util.find_library("c")`` runs ``ldconfig -p``
    in a subprocess (~12 ms of CPU, 11-25 ms of wall here, at every plan), so it is only
    the fallback. Resolved on first
    use, so the plan's start-up does not load ctypes either."""
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        import ctypes.util

        try:
            fn = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).renameat2
        except (OSError, AttributeError):
            return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_UNRESOLVED: Any = object()
#: renameat2 from the C library: resolved on first use; None where there is none
_RENAMEAT2: Any = _UNRESOLVED


def renameat2(dir_fd: int, src: str, dst: str, flags: int) -> bool:
    """``renameat2(dir_fd, src, dir_fd, dst, flags)``. False when the system or the file
    system does not offer it (the caller falls back); raises OSError on a real failure."""
    global _RENAMEAT2
    if _RENAMEAT2 is _UNRESOLVED:
        _RENAMEAT2 = _renameat2_function()
    if _RENAMEAT2 is None:
        return False
    rc = _RENAMEAT2(dir_fd, os.fsencode(src), dir_fd, os.fsencode(dst), flags)
    if rc == 0:
        return True
    import ctypes  # loaded by the lookup above

    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), dst)


_HINTS = {
    errno.ENOSPC: "free space on that file system, or write the plan elsewhere",
    errno.EDQUOT: "free space within your quota, or write the plan elsewhere",
    errno.EACCES: "make the directory writable for you, or write the plan elsewhere",
    errno.EPERM: "make the directory writable for you, or write the plan elsewhere",
    errno.EROFS: "the file system is read-only: write the plan elsewhere",
    errno.ENAMETOOLONG: "use a shorter output path",
    errno.ENOTDIR: "a component of the path is a file, not a directory: choose another path",
    errno.EEXIST: "a component of the path is a file, not a directory: choose another path",
    errno.ELOOP: "the path has a symbolic-link loop: choose another path",
}


def output_error(target: Path | str, exc: OSError, doing: str) -> InputError:
    """An OSError while writing the plan, as the input error the CLI reports (exit 2)."""
    reason = exc.strerror or str(exc)
    return InputError.single(str(target), f"cannot {doing}: {reason}",
                             hint=_HINTS.get(exc.errno or 0, "check the path and try again"), field="--output")


def _refuse(target: Path | str, message: str, hint: str) -> InputError:
    return InputError.single(str(target), message, hint=hint, field="--output")


def _real(path: str) -> str:
    return os.path.realpath(path)


def _inside(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip("/") + "/")


def resolve_target(target: Path | str) -> Path:
    """The absolute path plan will replace: its parent resolved, its own name kept (so a
    symbolic link named as DIR is seen, not followed). Refuses the root, the home and the
    current directory and anything containing them."""
    raw = os.fspath(target)
    shown = raw
    if not raw.strip():
        raise _refuse("''", "the output directory is empty", "give a directory name, e.g. -o plan")
    if "\x00" in raw:
        raise _refuse(shown.replace("\x00", "\\0"), "the output path contains a NUL byte", "give a plain path")
    stripped = raw.rstrip("/") or "/"
    parent_raw, name = os.path.split(stripped)
    if name in ("", ".", ".."):
        real = _real(stripped)
        parent_raw, name = os.path.split(real)
    parent = _real(parent_raw or ".")
    path = os.path.join(parent, name) if name else parent
    protected = [("the file-system root", "/"), ("the current directory", _real(os.getcwd()))]
    home = os.path.expanduser("~")
    if home and home != "~":
        protected.append(("your home directory", _real(home)))
    for what, where in protected:
        if path == where or _inside(where, path):
            which = what if path == where else f"a directory that contains {what}"
            raise _refuse(shown, f"refusing to write a plan to {which} ({path}): plan replaces its "
                          "output directory whole", "give a new or empty directory, e.g. -o plan")
    return Path(path)


def _listed(marker: Path) -> set[str] | None:
    import json

    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return set(files)


def _found(root: Path) -> Iterator[str]:
    """Relative paths of every non-directory under ``root`` (links are not followed)."""
    def fail(exc: OSError) -> None:
        raise exc

    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        rel = os.path.relpath(dirpath, root)
        for name in filenames:
            yield name if rel == "." else f"{rel}/{name}"
        for name in dirnames:
            if os.path.islink(os.path.join(dirpath, name)):
                yield name if rel == "." else f"{rel}/{name}"


def previous_plan_files(target: Path) -> set[str] | None:
    """What ``target`` holds now: None when absent or empty, else the files of the
    previous plan it is. Raises InputError when plan must not replace it."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise output_error(target, exc, "inspect the output directory") from None
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(target, "the output directory is a symbolic link: plan never writes through one",
                      f"give the real directory ({os.path.realpath(target)}) or a new name")
    if not stat.S_ISDIR(st.st_mode):
        raise _refuse(target, "the output path exists and is not a directory",
                      "choose another name, or remove that file")
    try:
        entries = os.listdir(target)
    except OSError as exc:
        raise output_error(target, exc, "read the output directory") from None
    if not entries:
        return None
    if MARKER not in entries:
        names = ", ".join(sorted(entries)[:SHOWN]) + (", ..." if len(entries) > SHOWN else "")
        raise _refuse(target, f"the output directory is not empty and is not a plan edgewise wrote (no {MARKER}; "
                      f"it holds {names}): plan would replace it whole",
                      "give a new or empty directory, e.g. -o plan")
    listed = _listed(target / MARKER)
    if listed is None:
        raise _refuse(target, f"{MARKER} in the output directory is damaged, so which files are edgewise's "
                      "cannot be told", "give a new or empty directory, or remove the old plan by hand")
    try:
        extra = sorted(set(_found(target)) - listed - {MARKER, *KNOWN_EXTRA_FILES})
    except OSError as exc:
        raise output_error(target, exc, "read the previous plan") from None
    if extra:
        names = ", ".join(extra[:SHOWN]) + (f" and {len(extra) - SHOWN} more" if len(extra) > SHOWN else "")
        raise _refuse(target, f"the previous plan in the output directory holds files edgewise did not write "
                      f"({names}): replacing it would delete them", "move them out, or give another directory")
    return listed


def _lock(fd: int, *, block: bool) -> bool | None:
    """flock ``fd`` exclusively: True locked, False held elsewhere, None unsupported."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def _open_dir(name: str, dir_fd: int | None = None) -> int:
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


class OutputDir:
    """The parent directory of DIR, held open, with the temporary directories this run
    owns. Not thread-safe; one per plan run."""

    def __init__(self, target: Path | str) -> None:
        self.target = resolve_target(target)
        # refuse before any work; read without the lock, so a concurrent plan's swap can
        # change DIR under this read (a file listed, then gone): a failure is decided
        # again below, under the lock, where no swap happens
        try:
            previous_plan_files(self.target)
            unsure: InputError | None = None
        except InputError as exc:
            unsure = exc
        parent = self.target.parent
        self._made: list[Path] = []
        missing = []
        p = parent
        while not p.exists() and p != p.parent:
            missing.append(p)
            p = p.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(self.target, exc, "create the parent directory") from None
        self._made = missing  # deepest first: removed again if nothing is committed
        try:
            self.parent_fd = _open_dir(str(parent))
        except OSError as exc:
            self._remove_made()
            raise output_error(self.target, exc, "open the parent directory") from None
        self._temps: dict[str, int] = {}
        if unsure is not None:
            try:
                with self.locked():
                    previous_plan_files(self.target)
            except BaseException:
                os.close(self.parent_fd)
                self._remove_made()
                raise

    # -- locking and debris ------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the parent directory's lock (concurrent plans into it serialise)."""
        got = _lock(self.parent_fd, block=True)
        try:
            yield
        finally:
            if got:
                fcntl.flock(self.parent_fd, fcntl.LOCK_UN)

    def sweep(self) -> list[str]:
        """Remove temporary directories of runs that died (nobody holds their lock).
        Call with the parent lock held."""
        removed = []
        for name in os.listdir(self.parent_fd):
            if not name.startswith(TEMP_PREFIX) or name in self._temps:
                continue
            try:
                fd = _open_dir(name, self.parent_fd)
            except OSError:
                continue  # gone already, a symbolic link, or not ours to open
            try:
                if _lock(fd, block=False):
                    import shutil

                    shutil.rmtree(name, ignore_errors=True, dir_fd=self.parent_fd)
                    removed.append(name)
            finally:
                os.close(fd)
        return removed

    def make_temp(self) -> Path:
        """A new temporary sibling of DIR (mode from the umask), locked for this run.
        Call with the parent lock held, so a sweep never sees it unlocked."""
        for _ in range(100):
            name = TEMP_PREFIX + secrets.token_hex(4)
            try:
                os.mkdir(name, 0o777, dir_fd=self.parent_fd)
            except FileExistsError:
                continue
            fd = _open_dir(name, self.parent_fd)
            _lock(fd, block=False)
            self._temps[name] = fd
            return self.target.parent / name
        raise OSError(errno.EEXIST, "no free temporary name", str(self.target.parent))

    def drop_temp(self, path: Path) -> None:
        """Remove a temporary directory of this run and release it."""
        import shutil

        name = path.name
        shutil.rmtree(name, ignore_errors=True, dir_fd=self.parent_fd)
        fd = self._temps.pop(name, None)
        if fd is not None:
            os.close(fd)

    # -- the swap ------------------------------------------------------------------------
    def swap_in(self, tmp: Path, files: Iterable[str]) -> None:
        """Write the marker into ``tmp`` and put ``tmp`` in DIR's place (atomically where
        the file system allows). Call with the parent lock held; :meth:`close` then
        removes the previous tree (left under a temporary name)."""
        previous_plan_files(self.target)  # again: another process may have written there
        listed = sorted(files)
        marker = {"format": MARKER_FORMAT, "generator": "edgewise", "files": listed}
        import json

        with open(tmp / MARKER, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(marker, indent=0, ensure_ascii=False) + "\n")
        for carried in CARRIED_FILES:
            src = self.target / carried
            if os.path.isfile(src) and not os.path.islink(src) and carried not in listed:
                try:
                    os.link(src, tmp / carried)
                except OSError:
                    import shutil

                    shutil.copyfile(src, tmp / carried)
        name, tname = self.target.name, tmp.name
        exists = os.path.lexists(self.target)
        if exists and renameat2(self.parent_fd, tname, name, RENAME_EXCHANGE):
            return  # tmp now holds the previous tree: the caller drops it
        if not exists and renameat2(self.parent_fd, tname, name, RENAME_NOREPLACE):
            return
        # no renameat2 here: set the previous tree aside, then rename (two steps; a kill
        # between them leaves DIR absent and the previous plan in a temporary directory)
        if exists:
            aside = self.make_temp()
            os.rename(name, f"{aside.name}/old", src_dir_fd=self.parent_fd, dst_dir_fd=self.parent_fd)
            try:
                os.rename(tname, name, src_dir_fd=self.parent_fd, dst_dir_fd=self.parent_fd)
            except BaseException:
                os.rename(f"{aside.name}/old", name, src_dir_fd=self.parent_fd, dst_dir_fd=self.parent_fd)
                raise
        else:
            os.rename(tname, name, src_dir_fd=self.parent_fd, dst_dir_fd=self.parent_fd)

    def _remove_made(self) -> None:
        for p in self._made:
            with contextlib.suppress(OSError):
                p.rmdir()

    def close(self, committed: bool) -> None:
        for name in list(self._temps):
            self.drop_temp(self.target.parent / name)
        if not committed:
            self._remove_made()
        with contextlib.suppress(OSError):
            os.close(self.parent_fd)
