"""The output folder, checked before any model work: a read-only, full or mistaken `-o` is found in a second,
not after every probe ran, and nothing is written when it is refused.

The rules (`check_output_folder`):
- the folder exists as a folder, or can be created (its nearest existing ancestor is a folder);
- it is writable: a small file is created, written, fsynced and removed in it, so a read-only filesystem,
  missing permissions or a disk already full are reported as one line. A folder still to be created is not
  written into its parent (nothing outside `-o` is touched): the parent's filesystem is asked instead
  (read-only flag, access for the effective user, free blocks);
- it is not a symlink: `-o link` would silently write somewhere else; the real folder must be named (or
  `--force` given, where the command has it). Symlinks higher up the path are the user's own layout and
  are followed;
- a card file name in it (card.json, README.md, card.html) is not a folder;
- it is not the documented model's own folder (compared as resolved paths): `generate M -o M` would replace
  the model's README.md. `--force` allows it (a Hub repository whose README.md is meant to be the card).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from modelcard.base.errors import BadInput
from modelcard.base.writers import NEW_FILE_FLAGS, os_problem

CARD_FILES = ("card.json", "README.md", "card.html")
_CHECK_PREFIX = ".modelcard-check-"
_CHECK_BYTES = 4096


def model_folders(spec: str | None) -> list[Path]:
    """The folders a model spec reads from (a local folder, a config's folder, the bundled demo); empty for a
    Hub id or a module (nothing of theirs can be named without loading them)."""
    from modelcard.base.resources import bundled_demo

    demo = bundled_demo(spec)
    if demo is not None:
        return [demo]
    assert spec is not None, "bundled_demo gives the demo for no spec"
    path = Path(spec)
    try:
        if path.is_dir():
            return [path]
        if path.is_file():
            return [path.parent]
    except OSError:
        pass
    return []


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except (OSError, ValueError):
        return False


def _probe_write(where: Path, folder: Path) -> None:
    """Create, write, fsync and remove a small file in `where`; any failure is BadInput about `folder`."""
    probe = where / f"{_CHECK_PREFIX}{secrets.token_hex(6)}"
    try:
        fd = os.open(probe, NEW_FILE_FLAGS, 0o600)
    except OSError as error:
        raise BadInput(folder, f"cannot write here: {os_problem(error)}") from None
    try:
        try:
            os.write(fd, b"\0" * _CHECK_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        raise BadInput(folder, f"cannot write here: {os_problem(error)}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(probe)


def check_output_folder(folder: Path, *, force: bool = False, can_force: bool = True,
                        names: Iterable[str] = (), model_dirs: Iterable[Path] = ()) -> None:
    """Refuse an output folder that cannot or should not receive the outputs (module docstring), with
    BadInput naming it; writes nothing that stays. `force` allows a symlinked folder and the model's own
    folder; `can_force` says whether the command has `--force` (for the message)."""
    folder = Path(folder)
    hint = ", or pass --force to write there" if can_force else ""
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        raise BadInput(folder, "cannot create this folder: a part of its path is a file") from None
    except OSError as error:
        raise BadInput(folder, f"cannot use this output folder: {os_problem(error)}") from None
    if info is None:
        _check_creatable(folder)
        return
    if os.path.islink(folder) and not force:
        raise BadInput(folder, f"is a symlink (to {os.readlink(folder)}); name the real folder{hint}")
    if not os.path.isdir(folder):
        raise BadInput(folder, "exists and is not a folder")
    for model_dir in model_dirs:
        if _same(folder, model_dir) and not force:
            raise BadInput(folder, "is the model's own folder: the card would replace its README.md; "
                                   f"choose another -o{hint}")
    for name in names:
        target = folder / name
        if os.path.isdir(target) and not os.path.islink(target):
            raise BadInput(target, "is a folder; the card file cannot replace it")
    _probe_write(folder, folder)


def _check_creatable(folder: Path) -> None:
    """`folder` does not exist: its nearest existing ancestor must be a writable folder."""
    ancestor = Path(os.path.abspath(folder)).parent
    while True:
        try:
            os.stat(ancestor)
            break
        except FileNotFoundError:
            if ancestor.parent == ancestor:
                raise BadInput(folder, "cannot create this folder: no part of its path exists") from None
            ancestor = ancestor.parent
        except NotADirectoryError:
            raise BadInput(folder, "cannot create this folder: a part of its path is a file") from None
        except OSError as error:
            raise BadInput(folder, f"cannot create this folder: {os_problem(error)}") from None
    if not os.path.isdir(ancestor):
        raise BadInput(folder, f"cannot create this folder: {ancestor} is not a folder")
    # Nothing is written outside the output folder, not even for a moment: ask instead of trying.
    try:
        fs = os.statvfs(ancestor)
    except OSError as error:
        raise BadInput(folder, f"cannot create this folder: {os_problem(error)}") from None
    if fs.f_flag & os.ST_RDONLY:
        raise BadInput(folder, "cannot create this folder: read-only file system")
    if not os.access(ancestor, os.W_OK | os.X_OK, effective_ids=os.access in os.supports_effective_ids):
        raise BadInput(folder, f"cannot create this folder: permission denied in {ancestor}")
    free = fs.f_bfree if os.geteuid() == 0 else fs.f_bavail
    if fs.f_blocks and free * fs.f_frsize < _CHECK_BYTES:
        raise BadInput(folder, "cannot create this folder: no space left on device")
