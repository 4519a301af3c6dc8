"""Secrets and clinicians' data (issue "keep secrets and clinicians' data safe"): passwords are never shown,
stored or logged; dermview's own files are its owner's alone; a library that would lose its cases, or a
database that is not dermview's, is refused before anything is written."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from dermview.cli import main
from dermview.library.urls import has_password, library_url, redacted, shown_url, without_password


@pytest.mark.parametrize("url, secret", [
    ("postgresql://alice:s3cret@db.clinic/cases", "s3cret"),
    ("postgresql://alice:pa:ss@db.clinic/cases", "pa:ss"),
    ("postgresql://alice:p@ss@db.clinic/cases", "p@ss"),
    ("postgresql://alice@db.clinic/cases?password=s3cret&sslmode=require", "s3cret"),
])
def test_a_password_is_never_shown(url, secret):
    for text in (shown_url(url), redacted(f"dermview --library {url} list"), without_password(url)):
        assert secret not in text and "alice" in text and "db.clinic" in text
    assert has_password(url)
    assert "sslmode=require" in without_password(url) or "sslmode" not in url
    assert not has_password(without_password(url))


def test_the_run_keeps_its_password_in_memory_only(monkeypatch):
    monkeypatch.setenv("DERMVIEW_LIBRARY", "postgresql://alice:s3cret@db.clinic/cases")
    assert library_url("postgresql://alice@db.clinic/cases") == "postgresql://alice:s3cret@db.clinic/cases"
    assert library_url("postgresql://bob@db.clinic/cases") == "postgresql://bob@db.clinic/cases"


def test_settings_keep_no_password_and_are_private(qapp, tmp_path, monkeypatch):
    from dermview.paths import user_dirs
    from dermview.ui.settings import Settings

    monkeypatch.setenv("DERMVIEW_CACHE_DIR", str(tmp_path / "home"))
    settings = Settings()
    settings.library_url = "postgresql://alice:s3cret@db.clinic/cases"
    settings._qs.sync()
    ini = user_dirs().config / "dermview.ini"
    assert "s3cret" not in ini.read_text() and "alice@db.clinic" in ini.read_text()
    assert stat.S_IMODE(ini.stat().st_mode) == 0o600
    assert stat.S_IMODE(user_dirs().config.stat().st_mode) == 0o700


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"])
def test_a_library_that_would_lose_its_cases_is_refused(url, data_dir, capsys):
    assert main(["library", "add", str(data_dir / "originals" / "ISIC_0024307.jpg"), "--case-id", "X-1",
                 "--library", url]) == 2
    err = capsys.readouterr().err
    assert "in-memory" in err and "lost" in err and "Added" not in err


def test_a_database_that_is_not_a_library_is_refused_untouched(tmp_path, data_dir, capsys):
    path = tmp_path / "practice.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE patients (name TEXT)")
        db.execute("INSERT INTO patients VALUES ('A. Smith')")
    before = path.read_bytes()
    assert main(["library", "add", str(data_dir / "originals" / "ISIC_0024307.jpg"), "--case-id", "X-1",
                 "--library", f"sqlite:///{path}"]) == 2
    assert "not a dermview case library" in capsys.readouterr().err
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["patients"]
    assert path.read_bytes() == before


def test_a_new_library_file_is_private(tmp_path, data_dir):
    path = tmp_path / "own" / "library.sqlite"
    assert main(["library", "add", str(data_dir / "originals" / "ISIC_0024307.jpg"), "--case-id", "X-1",
                 "--library", f"sqlite:///{path}"]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_postgresql_database_that_is_not_a_library_is_refused_untouched(cluster, data_dir, capsys):
    import psycopg

    url = cluster.database("practice_records")
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE patients (name TEXT)")
    assert main(["library", "list", "--library", url]) == 2
    assert "not a dermview case library" in capsys.readouterr().err
    with psycopg.connect(url) as db:
        tables = [r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    assert tables == ["patients"]


def test_an_import_racing_another_change_is_a_sentence(cluster, data_dir, tmp_path, capsys):
    """Another process stores one of the imported cases while the import waits on its row: the import ends in
    one sentence (exit 2) and changes nothing, never SQL with its parameters."""
    import threading

    import psycopg

    from dermview.library.store import CaseLibrary

    source = CaseLibrary(f"sqlite:///{tmp_path / 'source.sqlite'}")
    image = (data_dir / "originals" / "ISIC_0024307.jpg").read_bytes()
    source.add_case(image, "K-1")
    source.export_zip(tmp_path / "export.zip")
    source.close()
    url = cluster.database("race")
    CaseLibrary(url).close()  # the schema
    other = psycopg.connect(url)  # another workstation, mid-transaction: holds K-1's key
    other.execute("INSERT INTO images (sha256, data, added_at) VALUES (%s, %s, 'now')",
                  ("0" * 64, b"x"))
    other.execute("INSERT INTO cases (case_id, sha256, created_at, note) VALUES ('K-1', %s, 'now', '')", ("0" * 64,))
    codes = []
    importer = threading.Thread(target=lambda: codes.append(main(["library", "import", str(tmp_path / "export.zip"),
                                                                  "--library", url])))
    importer.start()
    importer.join(1.0)
    assert importer.is_alive()  # waiting for the other transaction's row
    other.commit()
    other.close()
    importer.join(30)
    assert codes == [2]
    err = capsys.readouterr().err
    assert "nothing was imported" in err and "INSERT" not in err and "%(" not in err


def test_control_characters_are_refused_not_printed(tmp_path, data_dir, capsys):
    url = f"sqlite:///{tmp_path / 'l.sqlite'}"
    image = str(data_dir / "originals" / "ISIC_0024307.jpg")
    assert main(["library", "add", image, "--case-id", "K-\x1b]0;pwned\x07", "--library", url]) == 2
    assert main(["library", "add", image, "--case-id", "K-1", "--library", url]) == 0
    assert main(["library", "confirm", "K-1", "--diagnosis", "other", "--other", "wart\x1b[2J", "--dx-type", "histo",
                 "--library", url]) == 2
    out, err = capsys.readouterr()
    assert "\x1b" not in out and "\x1b" not in err and "control characters" in err


def test_the_saved_session_is_private(tmp_path):
    from dermview.clinic.sessions import save_session
    from dermview.clinic.worklist import WorkItem

    path = save_session([WorkItem("/clinic/a.jpg", note="left shoulder")], "/archive", tmp_path / "s" / "last.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_onnxruntime_sends_nothing_and_keeps_nothing_of_the_clinic(tmp_path):
    """onnxruntime's own wheels keep a device identifier and a telemetry cache in the user's home and a session
    file in the temporary folder, for upload to Microsoft. dermview switches that off before onnxruntime starts:
    running both networks leaves nothing outside dermview's own folders."""
    import os
    import subprocess
    import sys

    home, temp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), TMPDIR=str(temp), XDG_CACHE_HOME=str(home / ".cache"))
    script = ("from PIL import Image\n"
              "from dermview.model import outline, learned\n"
              "image = Image.new('RGB', (200, 150), (200, 150, 130))\n"
              "outline.OutlineFinder().segment(image)\n"
              "extractor = learned.LearnedExtractor()\n"
              "extractor.extract(extractor.prepare(image)[None])\n"
              "import onnxruntime\n"
              "print('ran', onnxruntime.__version__)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0 and "ran" in result.stdout, result.stderr
    assert list(temp.iterdir()) == []
    assert list(home.rglob("*")) == []


def test_every_onnxruntime_session_starts_with_its_telemetry_events_off(monkeypatch):
    """Windows builds report through the system's event tracing, which the environment switch does not reach:
    dermview turns the events off before it opens any network."""
    onnxruntime = pytest.importorskip("onnxruntime")
    from dermview.model import outline, runtime

    calls = []
    monkeypatch.setattr(onnxruntime, "disable_telemetry_events", lambda: calls.append("off"))
    monkeypatch.setattr(runtime, "_SESSIONS", {})
    outline.OutlineFinder()
    assert calls == ["off"]
