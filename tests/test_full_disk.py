"""Writing on a full disk, or onto something that is not a file: a sentence and exit status 2, never "Wrote",
never a traceback, and the earlier file of that name left whole (issue "keep clinicians' data safe").

The full disk is real: a 256 kB tmpfs mounted for the test (root only; skipped elsewhere, with the reason)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from dermview.cli import main

# (qapp: the report draws in this process; a QApplication must exist before it, or the report would make a
# QGuiApplication that every later window test would abort on.)


@pytest.fixture()
def full_disk(tmp_path):
    """A folder on a 256 kB file system with an earlier file of each name in it, and then filled up."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        for name in ("old.pdf", "old.csv", "old.zip"):
            (mount / name).write_bytes(b"EARLIER " + name.encode())
        fd = os.open(mount / f"filler-{uuid.uuid4().hex}", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:  # ENOSPC: full
            pass
        finally:
            os.close(fd)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_outputs_on_a_full_disk_are_refused_and_keep_the_old_file(qapp, full_disk, small_archive, small_model,
                                                                  session_cache, data_dir, tmp_path, capsys):
    image = str(data_dir / "originals" / "ISIC_0024307.jpg")
    common = ["--archive", str(small_archive), "--features", "classic", "--cache-dir", str(session_cache)]
    library = f"sqlite:///{tmp_path / 'library.sqlite'}"
    assert main(["library", "add", image, "--case-id", "K-1", "--library", library]) == 0
    capsys.readouterr()
    for argv, name in ((["report", *common, image, "--pdf", str(full_disk / "old.pdf")], "old.pdf"),
                       (["predict", *common, image, "--csv", str(full_disk / "old.csv")], "old.csv"),
                       (["library", "export", str(full_disk / "old.zip"), "--library", library], "old.zip")):
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        assert "Wrote" not in out and "Exported" not in out
        assert err.startswith("dermview: error: Cannot write") and "left as it was" in err, err
        assert len(err.strip().splitlines()) == 1
        assert (full_disk / name).read_bytes() == b"EARLIER " + name.encode()
    assert not [p for p in full_disk.iterdir() if p.suffix == ".tmp"]


def test_an_output_onto_a_device_is_refused(small_archive, small_model, session_cache, data_dir, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in ("/dev/null", str(fifo)):
        assert main(["predict", "--archive", str(small_archive), "--features", "classic", "--cache-dir",
                     str(session_cache), str(data_dir / "originals" / "ISIC_0024307.jpg"), "--csv", target]) == 2
        assert "not a regular file" in capsys.readouterr().err
    assert Path("/dev/null").is_char_device() and fifo.is_fifo()


def test_names_that_look_like_formulas_stay_text_in_the_isic_csv(small_archive, small_model, session_cache,
                                                                   data_dir, tmp_path, capsys):
    image = tmp_path / "=HYPERLINK(1).jpg"
    shutil.copy(data_dir / "originals" / "ISIC_0024307.jpg", image)
    out = tmp_path / "submission.csv"
    assert main(["predict", "--archive", str(small_archive), "--features", "classic", "--cache-dir",
                 str(session_cache), str(image), "--isic-csv", str(out)]) == 0
    line = out.read_text().splitlines()[1]
    assert line.startswith("'=HYPERLINK(1),")


def test_a_long_note_is_shortened_on_the_page_and_the_notice_stays(qapp, small_archive, small_model, session_cache,
                                                                   data_dir, tmp_path, capsys):
    pdf = tmp_path / "report.pdf"
    assert main(["report", "--archive", str(small_archive), "--features", "classic", "--cache-dir", str(session_cache),
                 str(data_dir / "originals" / "ISIC_0024307.jpg"), "--pdf", str(pdf), "--note", "word " * 4000]) == 0
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "not a medical device" in text.lower()
    assert "the note has 20,000 characters in all" in " ".join(text.split())
