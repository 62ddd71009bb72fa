"""The output folder is checked before any model work (modelcard/card/output.py): a file, a read-only or full
folder, a symlink, the model's own folder are one clear line (exit 2), found before the model is loaded, and
nothing is written."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from mounts import mounted_tmpfs

from modelcard.base.errors import EXIT_BAD_INPUT, EXIT_OK
from modelcard.card.render import RECORD_MARKER

CARD_FILES = {"card.json", "README.md", "card.html", "modelcard-kv-cache.png"}  # the demo's KV chart too


def one_clear_line(result, *needles: str) -> str:
    assert result.code == EXIT_BAD_INPUT, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def no_model_work(monkeypatch):
    """Fail the test if a model is loaded: the output folder must be refused before that."""
    import modelcard.load.loader

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the output folder was checked")

    monkeypatch.setattr(modelcard.load.loader, "load_model", refuse)


@pytest.fixture
def card(tmp_path, run_cli) -> Path:
    """A card.json to render."""
    result = run_cli("generate", "--suite", "none", "-o", tmp_path / "card")
    assert result.code == EXIT_OK, result.err
    return tmp_path / "card" / "card.json"


# --- not a folder ----------------------------------------------------------------------------------------


def test_output_that_is_a_file_is_refused_before_model_work(tmp_path, run_cli, no_model_work):
    target = tmp_path / "card"
    target.write_text("mine")
    one_clear_line(run_cli("generate", "--suite", "none", "-o", target), str(target), "not a folder")
    assert target.read_text() == "mine"


def test_output_under_a_file_is_refused(tmp_path, run_cli, no_model_work):
    (tmp_path / "file").write_text("mine")
    one_clear_line(run_cli("generate", "--suite", "none", "-o", tmp_path / "file" / "out"), "is a file")
    assert (tmp_path / "file").read_text() == "mine"


def test_probe_and_render_check_their_output_too(tmp_path, run_cli, card, no_model_work):
    target = tmp_path / "taken"
    target.write_text("mine")
    one_clear_line(run_cli("probe", "--suite", "quick", "-o", target), str(target), "not a folder")
    one_clear_line(run_cli("render", card, "-o", target), str(target), "not a folder")
    assert target.read_text() == "mine"


def test_a_card_file_name_taken_by_a_folder_is_refused_and_nothing_is_written(tmp_path, run_cli, no_model_work):
    out = tmp_path / "out"
    (out / "README.md").mkdir(parents=True)
    one_clear_line(run_cli("generate", "--suite", "none", "-o", out), "README.md", "is a folder")
    assert {p.name for p in out.iterdir()} == {"README.md"}


def test_a_missing_folder_is_created_only_once_the_card_is_written(tmp_path, run_cli):
    out = tmp_path / "a" / "b" / "out"
    result = run_cli("generate", tmp_path / "no-such-model", "--suite", "none", "-o", out)
    assert result.code == EXIT_BAD_INPUT
    assert not (tmp_path / "a").exists()  # a bad model: nothing created
    assert run_cli("generate", "--suite", "none", "-o", out).code == EXIT_OK
    assert {p.name for p in out.iterdir()} == CARD_FILES


def test_checking_a_folder_to_be_created_writes_nothing_in_its_parent(tmp_path, run_cli):
    parent = tmp_path / "parent"
    parent.mkdir()
    os.utime(parent, (1_000_000_000, 1_000_000_000))
    result = run_cli("generate", tmp_path / "no-such-model", "--suite", "none", "-o", parent / "out")
    assert result.code == EXIT_BAD_INPUT  # the model is bad: the output folder was checked, then nothing written
    assert parent.stat().st_mtime == 1_000_000_000  # not even a file created and removed again
    assert not any(parent.iterdir())


# --- symlinks --------------------------------------------------------------------------------------------


def test_a_symlinked_output_folder_is_refused_unless_forced(tmp_path, run_cli, card):
    real, link = tmp_path / "real", tmp_path / "link"
    real.mkdir()
    link.symlink_to(real, target_is_directory=True)
    one_clear_line(run_cli("generate", "--suite", "none", "-o", link), str(link), "symlink", "--force")
    one_clear_line(run_cli("render", card, "-o", link), "symlink")
    assert not any(real.iterdir())
    assert run_cli("generate", "--suite", "none", "-o", link, "--force").code == EXIT_OK
    assert {p.name for p in real.iterdir()} == CARD_FILES


def test_probe_refuses_a_symlinked_output_folder(tmp_path, run_cli, no_model_work):
    real, link = tmp_path / "real", tmp_path / "link"
    real.mkdir()
    link.symlink_to(real, target_is_directory=True)
    line = one_clear_line(run_cli("probe", "--suite", "quick", "-o", link), "symlink")
    assert "--force" not in line  # probe has no --force
    assert not any(real.iterdir())


# --- the model's own folder ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["folder", "config.json", "dot"])
def test_the_models_own_folder_is_refused_unless_forced(write_config, run_cli, monkeypatch, how):
    model = write_config()
    (model / "README.md").write_text("the model's own README")
    if how == "dot":
        monkeypatch.chdir(model)
        spec, out = ".", "."
    else:
        spec, out = (model if how == "folder" else model / "config.json"), model
    result = run_cli("generate", spec, "--suite", "none", "-o", out)
    one_clear_line(result, "model's own folder", "--force")
    assert (model / "README.md").read_text() == "the model's own README"
    assert {p.name for p in model.iterdir()} == {"config.json", "README.md"}
    forced = run_cli("generate", spec, "--suite", "none", "-o", out, "--force")
    assert forced.code == EXIT_OK, forced.err
    assert RECORD_MARKER in (model / "README.md").read_text()
    assert (model / "config.json").exists()


def test_the_bundled_demo_folder_is_refused(run_cli, no_model_work):
    from modelcard.base.resources import demo_model_dir

    before = sorted(p.name for p in demo_model_dir().iterdir())
    one_clear_line(run_cli("generate", "--suite", "none", "-o", demo_model_dir()), "model's own folder")
    assert sorted(p.name for p in demo_model_dir().iterdir()) == before


def test_a_folder_inside_the_model_folder_is_fine(write_config, run_cli):
    model = write_config()
    assert run_cli("generate", model, "--suite", "none", "-o", model / "card").code == EXIT_OK
    assert {p.name for p in (model / "card").iterdir()} == CARD_FILES


# --- read-only and full folders --------------------------------------------------------------------------


@contextlib.contextmanager
def unprivileged():
    """Run as an unprivileged user: as root, drop the effective uid to `nobody` (restored afterwards), since
    root writes into a 0555 folder anyway."""
    if os.geteuid() != 0:
        yield
        return
    import pwd

    try:
        nobody = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("running as root and there is no `nobody` user to drop to")
    os.seteuid(nobody)
    try:
        yield
    finally:
        os.seteuid(0)


def test_a_read_only_folder_is_found_before_model_work(run_cli, no_model_work):
    base = Path(tempfile.mkdtemp(prefix="modelcard-ro-"))  # outside pytest's 0700 folders, for `nobody`
    try:
        base.chmod(0o755)
        out = base / "out"
        out.mkdir(mode=0o555)
        out.chmod(0o555)
        with unprivileged():
            result = run_cli("generate", "--suite", "none", "-o", out)
            probed = run_cli("probe", "--suite", "quick", "-o", out)
            below = run_cli("generate", "--suite", "none", "-o", out / "sub")
        one_clear_line(result, str(out), "permission denied")
        one_clear_line(probed, str(out), "permission denied")
        one_clear_line(below, "permission denied")
        assert not any(out.iterdir())
    finally:
        (base / "out").chmod(0o755)
        shutil.rmtree(base)


def test_a_read_only_filesystem_is_found_before_model_work(tmp_path, run_cli, no_model_work):
    with mounted_tmpfs(tmp_path / "ro", "size=1m,ro") as ro:
        one_clear_line(run_cli("generate", "--suite", "none", "-o", ro), "read-only file system")
        one_clear_line(run_cli("generate", "--suite", "none", "-o", ro / "out"), "read-only file system")
        one_clear_line(run_cli("probe", "--suite", "quick", "-o", ro / "out"), "read-only file system")
        assert not any(ro.iterdir())


def test_a_full_disk_is_found_before_model_work(tmp_path, run_cli, no_model_work):
    with mounted_tmpfs(tmp_path / "disk", "size=64k") as disk:
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while True:
                os.write(fd, b"\xff" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        one_clear_line(run_cli("generate", "--suite", "none", "-o", disk / "out"), "no space left on device")
        assert {p.name for p in disk.iterdir()} == {"filler"}
