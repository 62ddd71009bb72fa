"""The card set is written as a whole: two runs into one folder, a disk that fills mid-write, a failed swap,
the advisory lock, the umask, leftovers of a killed run (modelcard/base/writers.py)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mounts import mounted_tmpfs

from modelcard.base import writers as atomic
from modelcard.base.errors import EXIT_BAD_INPUT, EXIT_OK, BadInput
from modelcard.base.writers import LOCK_NAME, locked, write_files, write_text
from modelcard.card.render import RECORD_MARKER, read_embedded_record

CARD_FILES = {"card.json", "README.md", "card.html"}
GENERATED = CARD_FILES | {"modelcard-kv-cache.png"}  # what `generate --suite none` writes: the demo's KV chart too


# --- helpers ---------------------------------------------------------------------------------------------


def read_card_set(folder: Path) -> tuple[dict, dict, str]:
    """card.json's record, the record embedded in README.md, and card.html."""
    record = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert f"<!-- {RECORD_MARKER} " in readme
    embedded = read_embedded_record(readme)
    return record, embedded, (folder / "card.html").read_text(encoding="utf-8")


def assert_one_matching_set(folder: Path, uses: tuple[str, ...]) -> str:
    """The folder holds exactly one card set from one run; returns that run's intended use."""
    assert {p.name for p in folder.iterdir()} >= CARD_FILES
    record, embedded, html = read_card_set(folder)
    assert record == embedded, "card.json and README.md come from different runs"
    use = record["disclosures"]["intended_use"]
    assert use in uses
    assert use in html, "card.html comes from another run"
    assert all(other not in html for other in uses if other != use)
    return use


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def disclosures(tmp_path: Path):
    """Write a disclosures YAML whose intended use names the run."""

    def write(use: str) -> Path:
        path = tmp_path / f"{use.replace(' ', '-')}.yaml"
        path.write_text(f"intended_use: {use}\ntool_access: none\n", encoding="utf-8")
        return path

    return write


@contextlib.contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def fill_disk(where: Path, leave_pages: int = 0) -> Path:
    """Fill the filesystem of `where` up, then give `leave_pages` 4 KiB pages back."""
    filler = where / "filler"
    block = b"\xff" * 4096
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while True:
            os.write(fd, block)
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)
    if leave_pages:
        size = filler.stat().st_size
        os.truncate(filler, max(0, size - size % 4096 - 4096 * leave_pages))
    return filler


# --- two runs at once ------------------------------------------------------------------------------------


def test_threads_writing_one_folder_never_mix_their_sets(tmp_path):
    """Many writers, each writing a set whose three files name it; a reader holding the shared lock always
    sees three files naming one writer, and so does anyone after the last write."""
    out = tmp_path / "out"
    pad = "x" * 50_000  # big enough that a write is not instantaneous
    stop = threading.Event()
    seen: list[str] = []
    problems: list[str] = []

    def writer(name: str) -> None:
        try:
            for i in range(25):
                tag = f"{name}-{i}"
                write_files(out, {"card.json": f"{tag}\n{pad}", "README.md": f"{tag}\n{pad}",
                                  "card.html": f"{tag}\n{pad}"})
        except BaseException as error:  # noqa: BLE001 - reported below
            problems.append(repr(error))

    def reader() -> None:
        while not stop.is_set():
            if (out / "card.json").exists():
                with locked(out, shared=True):
                    tags = {(out / n).read_text().split("\n", 1)[0] for n in CARD_FILES}
                if len(tags) != 1:
                    problems.append(f"mixed set: {tags}")
                seen.extend(tags)
            time.sleep(0.001)

    threads = [threading.Thread(target=writer, args=(name,)) for name in "ABCD"]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()
    assert not problems, problems
    assert seen
    assert {(out / n).read_text().split("\n", 1)[0] for n in CARD_FILES} in ({f"{w}-24"} for w in "ABCD")
    assert {p.name for p in out.iterdir()} == CARD_FILES  # no lock file, no temporary folder left


def test_two_generate_processes_into_one_folder_leave_one_whole_set(tmp_path, disclosures):
    """Two processes, each running `modelcard generate` 15 times into one folder with its own disclosures; a
    reader taking the shared lock never sees a mixed set, and the folder ends with a whole set."""
    out = tmp_path / "out"
    uses = ("Summarising tickets for run A", "Answering questions for run B")
    script = ("import sys\nfrom modelcard.cli import main\n"
              "for _ in range(15):\n"
              "    code = main(['generate', '--suite', 'none', '-o', sys.argv[1], '--disclosures', sys.argv[2]])\n"
              "    if code:\n        sys.exit(code)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    runs = [subprocess.Popen([sys.executable, "-c", script, str(out), str(disclosures(use))], cwd=tmp_path,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for use in uses]
    checks, seen = 0, set()
    while any(run.poll() is None for run in runs):
        if (out / "card.json").exists():
            with locked(out, shared=True):
                seen.add(assert_one_matching_set(out, uses))
            checks += 1
        time.sleep(0.005)
    for run in runs:
        _, err = run.communicate()
        assert run.returncode == EXIT_OK, err
    assert checks > 0
    assert_one_matching_set(out, uses)
    assert {p.name for p in out.iterdir()} == GENERATED


def test_a_second_writer_waits_for_the_lock_then_writes(tmp_path):
    out = tmp_path / "out"
    write_files(out, {"card.json": "old"})
    released = []

    def hold() -> None:
        with locked(out):
            time.sleep(0.5)
            released.append(time.monotonic())

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.1)
    write_files(out, {"card.json": "new"})
    done = time.monotonic()
    holder.join()
    assert released and done >= released[0]
    assert (out / "card.json").read_text() == "new"
    assert {p.name for p in out.iterdir()} == {"card.json"}


def test_a_lock_held_too_long_is_one_clear_error_and_changes_nothing(tmp_path):
    out = tmp_path / "out"
    write_files(out, {"card.json": "old"})
    with locked(out):
        started = time.monotonic()
        with pytest.raises(BadInput, match="another modelcard run has held .modelcard.lock"):
            write_files(out, {"card.json": "new"}, lock_timeout=0.3)
        assert 0.25 < time.monotonic() - started < 5
    assert (out / "card.json").read_text() == "old"
    assert {p.name for p in out.iterdir()} == {"card.json"}


def test_the_lock_excludes_writers_from_each_other_and_from_readers(tmp_path):
    """Writers and readers taking and letting go of the lock (whose file comes and goes) in a tight loop:
    never two writers at once, never a reader beside a writer."""
    out = tmp_path / "out"
    out.mkdir()
    state = {"writers": 0, "readers": 0}
    guard = threading.Lock()
    problems: list[str] = []

    def enter(kind: str) -> None:
        with guard:
            state[kind] += 1
            if state["writers"] > 1 or (state["writers"] and state["readers"]):
                problems.append(dict(state).__repr__())

    def leave(kind: str) -> None:
        with guard:
            state[kind] -= 1

    def worker(shared: bool) -> None:
        kind = "readers" if shared else "writers"
        for _ in range(150):
            with locked(out, shared=shared):
                enter(kind)
                time.sleep(0.0002)
                leave(kind)

    threads = [threading.Thread(target=worker, args=(i % 2 == 0,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not problems, problems[:5]
    assert not (out / LOCK_NAME).exists()


def test_the_lock_file_is_removed_by_its_last_holder_only(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with locked(out, shared=True):
        with locked(out, shared=True):
            assert (out / LOCK_NAME).exists()
        assert (out / LOCK_NAME).exists()  # the first reader still holds it
    assert not (out / LOCK_NAME).exists()


# --- a full disk, a failed swap --------------------------------------------------------------------------


def test_no_space_on_the_second_file_keeps_the_previous_set(tmp_path, run_cli, disclosures, monkeypatch):
    out = tmp_path / "out"
    assert run_cli("generate", "--suite", "none", "-o", out, "--disclosures", disclosures("Run A use")).code == 0
    before = snapshot(out)
    real, calls = atomic._write_bytes, []

    def full_on_second(path: Path, data: bytes) -> None:
        calls.append(path.name)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(atomic, "_write_bytes", full_on_second)
    result = run_cli("generate", "--suite", "none", "-o", out, "--disclosures", disclosures("Run B use"))
    assert result.code == EXIT_BAD_INPUT
    line = one_line(result.err)
    assert "no space left on device writing the card set" in line and str(out) in line
    assert len(calls) == 2
    assert snapshot(out) == before
    assert {p.name for p in out.iterdir()} == GENERATED  # no temporary folder or file, no lock file
    assert_one_matching_set(out, ("Run A use",))


def test_a_disk_that_fills_mid_write_keeps_the_previous_set(tmp_path, run_cli, disclosures):
    """A real full filesystem: a 512 KiB tmpfs with two pages left, enough for the check before the model
    work and for the first file of the set, not for the second."""
    with mounted_tmpfs(tmp_path / "disk", "size=512k,mode=0755") as disk:
        out = disk / "out"
        first = run_cli("generate", "--suite", "none", "-o", out, "--disclosures", disclosures("Run A use"))
        assert first.code == EXIT_OK, first.err
        before = snapshot(out)
        fill_disk(disk, leave_pages=2)
        result = run_cli("generate", "--suite", "none", "-o", out, "--disclosures", disclosures("Run B use"))
        assert result.code == EXIT_BAD_INPUT, result.err
        assert "no space left on device writing the card set" in one_line(result.err)
        assert snapshot(out) == before
        assert {p.name for p in out.iterdir()} == GENERATED
        assert {p.name for p in disk.iterdir()} == {"out", "filler"}
        assert_one_matching_set(out, ("Run A use",))


def test_a_swap_that_fails_half_way_is_undone(tmp_path, monkeypatch):
    out = tmp_path / "out"
    old = {"card.json": "old json", "README.md": "old readme", "card.html": "old html"}
    write_files(out, old)
    real, calls = atomic._exchange, []

    def fail_second(a: Path, b: Path) -> bool:
        calls.append(b.name)
        if len(calls) == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(b))
        return real(a, b)

    monkeypatch.setattr(atomic, "_exchange", fail_second)
    with pytest.raises(BadInput, match="the files already there are unchanged"):
        write_files(out, {"card.json": "new json", "README.md": "new readme", "card.html": "new html"})
    assert {name: (out / name).read_text() for name in old} == old
    assert {p.name for p in out.iterdir()} == set(old)


def test_without_renameat2_the_set_is_still_written(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_files(out, {"card.json": "1", "README.md": "1"})
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    write_files(out, {"card.json": "2", "README.md": "2"})
    assert {p.name: p.read_text() for p in out.iterdir()} == {"card.json": "2", "README.md": "2"}


def test_renameat2_exchange_is_used_where_the_kernel_has_it(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("a")
    b.write_text("b")
    if not atomic._exchange(a, b):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here; the fallback is tested above")
    assert (a.read_text(), b.read_text()) == ("b", "a")


# --- what else is in the folder --------------------------------------------------------------------------


def test_other_files_in_the_folder_are_kept(tmp_path, run_cli):
    out = tmp_path / "out"
    (out / "probes").mkdir(parents=True)
    (out / "probes" / "mask-leak.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    assert run_cli("generate", "--suite", "none", "-o", out).code == EXIT_OK
    assert run_cli("generate", "--suite", "none", "-o", out).code == EXIT_OK
    assert {p.name for p in out.iterdir()} == GENERATED | {"probes", "notes.txt"}
    assert (out / "probes" / "mask-leak.json").read_text() == "{}"
    assert (out / "notes.txt").read_text() == "mine"


def test_a_card_file_that_is_a_symlink_is_replaced_not_written_through(tmp_path, run_cli):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere.md"
    out.mkdir()
    elsewhere.write_text("not yours")
    (out / "README.md").symlink_to(elsewhere)
    assert run_cli("generate", "--suite", "none", "-o", out).code == EXIT_OK
    assert elsewhere.read_text() == "not yours"
    assert not (out / "README.md").is_symlink()
    assert RECORD_MARKER in (out / "README.md").read_text()


def test_leftovers_of_a_killed_run_are_removed_and_nothing_is_followed(tmp_path):
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (outside / "card.json").write_text("keep me")
    stale = out / f"{atomic.TEMP_PREFIX}999-dead"
    stale.mkdir()
    (stale / "card.json").write_text("half")
    (out / f"{atomic.TEMP_PREFIX}evil").symlink_to(outside, target_is_directory=True)
    write_files(out, {"card.json": "new"})
    assert not stale.exists()
    assert (outside / "card.json").read_text() == "keep me"
    assert (out / "card.json").read_text() == "new"


def test_set_names_must_be_plain_file_names(tmp_path):
    for bad in ("../x", "a/b", LOCK_NAME, f"{atomic.TEMP_PREFIX}x", ""):
        with pytest.raises(ValueError):
            write_files(tmp_path, {bad: "x"})


# --- umask -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700),
                                                              (0o002, 0o664, 0o775)])
def test_created_files_and_folders_respect_the_umask(tmp_path, mask, file_mode, dir_mode):
    out = tmp_path / "new" / "out"
    with umask(mask):
        write_files(out, {"card.json": "{}", "README.md": "x"})
        write_text(tmp_path / "probes" / "result.json", "{}")
    assert mode(out / "card.json") == mode(out / "README.md") == file_mode
    assert mode(out) == mode(tmp_path / "new") == dir_mode
    assert mode(tmp_path / "probes" / "result.json") == file_mode
    assert mode(tmp_path / "probes") == dir_mode


@pytest.mark.parametrize(("mask", "file_mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_generate_respects_the_umask(tmp_path, run_cli, mask, file_mode):
    with umask(mask):
        result = run_cli("generate", "--suite", "none", "-o", tmp_path / "out")
    assert result.code == EXIT_OK, result.err
    assert {mode(tmp_path / "out" / name) for name in CARD_FILES} == {file_mode}


# --- write_text ------------------------------------------------------------------------------------------


def test_write_text_replaces_atomically_and_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "probes.json"
    write_text(target, "old")

    def full(path: Path, data: bytes) -> None:
        Path(path).write_bytes(data[:1])  # a partial temporary file, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(atomic, "_write_bytes", full)
    with pytest.raises(BadInput, match="no space left on device"):
        write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["probes.json"]


def test_write_text_replaces_a_symlink_instead_of_following_it(tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("not yours")
    link = tmp_path / "probes.json"
    link.symlink_to(elsewhere)
    write_text(link, "mine")
    assert elsewhere.read_text() == "not yours"
    assert not link.is_symlink() and link.read_text() == "mine"
