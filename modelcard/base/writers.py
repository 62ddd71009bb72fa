"""Write outputs so that nothing is ever left half-written, and the card set only ever as a whole.

Two writers live here:

`write_text(path, text)` writes one file (a probe result, `probes.json`): a temporary file beside the target,
fsynced, renamed over it, the folder fsynced.

`write_files(folder, files)` writes a *set* (card.json, README.md, card.html) so that the folder always holds
one complete set from one run, never card.json from run A beside README.md from run B:

1. An advisory lock (`fcntl.flock` on `.modelcard.lock` in the folder) is taken, exclusively, only around the
   write and the swap; a second run waits for it (bounded: `lock_timeout`, 60 s by default, then one clear
   error line). Readers that must see one set take it shared (`locked(folder, shared=True)`). The lock file is
   removed when the last holder lets go (a holder checks after locking that the path still names the file it
   locked, so removing it is safe), so nothing but the card files is left in the folder.
2. Every file is written into a private hidden subfolder of the target (`.modelcard-tmp-*`: the same
   filesystem, so the swap is a rename), with `O_EXCL` and mode 0666 (the kernel applies the umask: 0644
   under umask 022, 0600 under 077), and fsynced with its folder. A full disk or any other error here leaves
   the previous set untouched; the subfolder is removed.
3. The swap: each new file is exchanged with the old one (Linux `renameat2(RENAME_EXCHANGE)`, through ctypes)
   or renamed into place where there was none. Renames allocate no data, so a full disk has already failed in
   step 2. Should a rename still fail, the files swapped so far are swapped back: the previous set stays.
   Where `renameat2` is missing (not Linux, an old kernel, a filesystem without it) a plain `os.replace` is
   used; every precondition (no target is a folder) is checked first, so it cannot fail half-way for a reason
   known in advance.
4. The old files, now in the subfolder, are removed with it; the folder is fsynced; the lock is released.

Why not a true directory swap (build `OUT.tmp/` beside `OUT/` and exchange the two folders)? It would replace
the folder itself, and with it everything a user keeps there: `probes/` written by `modelcard probe`
(possibly by a run in progress at that moment, whose files would land in the folder swapped away), notes,
a `.git`. Moving those across is itself a non-atomic, racy step. It would also change the folder's inode,
owner, mode and ACLs, break a shell or a bind mount sitting in it, and fail outright when `OUT` is a mount
point (a CI volume, EBUSY/EXDEV); and its lock would have to live outside `OUT`, which modelcard must not touch.
The per-file exchange under the lock keeps the folder, leaves every other file alone, never writes outside
`OUT`, and gives the same guarantee to every modelcard writer and locking reader. What it cannot give: a
process killed (SIGKILL, power loss) between the three renames (microseconds, no I/O) leaves a mixed set
until the next run, which removes the leftovers and writes a whole set again; a reader that does not lock
might, in that same microsecond window, see one file new and one old.

Nothing is ever written through a symlink: renames replace a link, never follow it, and the temporary files
are created with `O_NOFOLLOW | O_EXCL`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from modelcard.base.errors import BadInput

try:
    import fcntl
except ImportError:  # not a POSIX system: no advisory lock, the files are still written whole
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".modelcard.lock"
TEMP_PREFIX = ".modelcard-tmp-"
LOCK_TIMEOUT_S = 60.0
_POLL_S = 0.05
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)

_PROBLEMS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "a folder is in the way",
    errno.ELOOP: "a symlink is in the way",
    errno.ENAMETOOLONG: "the path is too long",
    errno.EEXIST: "something that is not a folder is in the way",
}


def os_problem(error: OSError) -> str:
    """A short, content-free description of an OS error (no file content, no traceback)."""
    return _PROBLEMS.get(error.errno or 0) or (error.strerror or type(error).__name__).lower()


# --- one file --------------------------------------------------------------------------------------------


def _write_bytes(path: Path, data: bytes) -> None:
    """Create `path` (it must not exist: O_EXCL, never through a symlink) with mode 0666 & ~umask, write `data`
    and fsync it."""
    fd = os.open(path, NEW_FILE_FLAGS, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems cannot fsync a folder; the renames are still atomic
        pass
    finally:
        os.close(fd)


def write_text(path: Path, text: str) -> None:
    """Write one file atomically: a temporary file beside it, fsynced, renamed over it. Created files and
    folders respect the umask. An OS error (full disk, read-only folder) is BadInput with one line."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            _write_bytes(tmp, text.encode("utf-8"))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(path.parent)
    except OSError as error:
        raise BadInput(path, f"cannot write it: {os_problem(error)}") from None


# --- the lock --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def locked(folder: Path, shared: bool = False, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the folder's advisory lock: exclusive for writers, shared for readers that must see one whole set.
    Waits at most `timeout` seconds, then raises BadInput. OSError (a read-only folder) propagates."""
    folder = Path(folder)
    if fcntl is None:
        yield
        return
    lock_path = folder / LOCK_NAME
    deadline = time.monotonic() + timeout
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                     0o666)
        try:
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise BadInput(folder, f"another modelcard run has held {LOCK_NAME} here for more than "
                                               f"{timeout:g} s; try again when it has finished") from None
                    time.sleep(_POLL_S)
            # The last holder removes the lock file; if it did so while we waited, we hold a lock on a file no
            # longer in the folder: start again on the current one.
            if _names(lock_path, fd):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        try:
            if shared:  # remove the file only when no one else holds the lock
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Only the file we lock exclusively, and only while the folder still names it: no one else can
            # remove or replace it meanwhile (they would have to hold it exclusively too).
            if _names(lock_path, fd):
                os.unlink(lock_path)
        except OSError:  # another holder is still there; it removes the file when it is done
            pass
        finally:
            os.close(fd)


def _names(path: Path, fd: int) -> bool:
    """Whether `path` is (still) the file open as `fd`."""
    try:
        current = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev)


# --- the set ---------------------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_renameat2 = None


def _load_renameat2():
    global _renameat2
    if _renameat2 is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            function = libc.renameat2
            function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            function.restype = ctypes.c_int
            _renameat2 = function
        except (OSError, AttributeError):
            _renameat2 = False
    return _renameat2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths; False when this system cannot (then nothing happened)."""
    function = _load_renameat2()
    if not function:
        return False
    if function(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _remove_temp_folder(tmp: Path) -> None:
    """Remove one of our temporary subfolders: the plain files directly in it, then the folder. Nothing is
    followed through a symlink; anything else in it (which we never create) is left, and so is the folder."""
    try:
        entries = list(os.scandir(tmp))
    except OSError:
        return
    for entry in entries:
        if entry.is_file(follow_symlinks=False) or entry.is_symlink():
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    with contextlib.suppress(OSError):
        os.rmdir(tmp)


def _remove_stale_temp_folders(folder: Path) -> None:
    """Leftovers of a run that was killed mid-write (we hold the exclusive lock: no live run owns one)."""
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(TEMP_PREFIX) and entry.is_dir(follow_symlinks=False):
                _remove_temp_folder(Path(entry.path))


def _swap_in(folder: Path, tmp: Path, names: list[str]) -> None:
    """Move every new file from `tmp` into `folder`; on an error, undo the moves already made."""
    for name in names:
        try:
            mode = os.stat(folder / name, follow_symlinks=False).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(folder / name))
    done: list[tuple[str, str]] = []  # (name, how: "exchanged" | "created" | "replaced")
    try:
        for name in names:
            source, target = tmp / name, folder / name
            if os.path.lexists(target) and _exchange(source, target):
                done.append((name, "exchanged"))
            else:
                how = "replaced" if os.path.lexists(target) else "created"
                os.replace(source, target)
                done.append((name, how))
    except BaseException:
        for name, how in reversed(done):
            with contextlib.suppress(OSError):
                if how == "exchanged":
                    _exchange(tmp / name, folder / name)
                elif how == "created":  # there was no old file: take the new one out again
                    os.rename(folder / name, tmp / name)
                # "replaced" (no renameat2 here): the old file is gone and cannot come back
        raise


def _remove_regular_files(folder: Path, names: list[str]) -> None:
    """Delete each named file that is a regular file (never a link's target, never a folder)."""
    for name in names:
        path = folder / name
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
        except OSError:  # gone already, or not ours to delete: a stale chart left behind harms nothing
            continue


def write_files(folder: Path, files: Mapping[str, str | bytes], lock_timeout: float = LOCK_TIMEOUT_S,
                remove: Iterable[str] = ()) -> list[Path]:
    """Write `files` ({name: text or bytes}, produced in memory beforehand) into `folder` as one set (module
    docstring). `remove` names files of an earlier set that this one no longer has (a chart that is not drawn
    any more): each that is a regular file is deleted under the same lock, after the swap. Any OS error (a full
    disk, a read-only folder) is BadInput with one line; the files already in the folder are then unchanged and
    no temporary file is left."""
    folder = Path(folder)
    names = list(files)
    stale = [name for name in remove if name not in files]
    for name in [*names, *stale]:
        if not name or "/" in name or name in (".", "..") or name.startswith(TEMP_PREFIX) or name == LOCK_NAME:
            raise ValueError(f"not a plain file name for the card set: {name!r}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with locked(folder, timeout=lock_timeout):
            _remove_stale_temp_folders(folder)
            tmp = folder / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
            os.mkdir(tmp, 0o700)
            try:
                for name in names:
                    data = files[name]
                    _write_bytes(tmp / name, data.encode("utf-8") if isinstance(data, str) else data)
                _fsync_dir(tmp)
                _swap_in(folder, tmp, names)
                _remove_regular_files(folder, stale)
                _fsync_dir(folder)
            finally:
                _remove_temp_folder(tmp)
    except OSError as error:
        problem = os_problem(error)
        if error.errno == errno.ENOSPC:
            raise BadInput(folder, "no space left on device writing the card set; the files already there are "
                                   "unchanged") from None
        where = error.filename if error.errno == errno.EISDIR and error.filename else folder
        raise BadInput(where, f"cannot write the card set: {problem}; the files already there are unchanged") \
            from None
    return [folder / name for name in names]
