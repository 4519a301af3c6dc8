"""The case library on a real SQLite file and a real PostgreSQL server (a throw-away cluster)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from dermview.errors import DermviewError
from dermview.library.store import AWAITING, CONFIRMED, CaseLibrary


@pytest.fixture()
def lesions(data_dir):
    return [(data_dir / "originals" / name).read_bytes()
            for name in ("ISIC_0024307.jpg", "ISIC_0024310.jpg", "ISIC_0024311.jpg")]


def test_cases_are_added_confirmed_listed_and_deleted(url, lesions):
    library = CaseLibrary(url)
    library.add_case(lesions[0], "K-1", body_site="back", age=45, sex="female", note="left scapula")
    with pytest.raises(DermviewError, match="This image is already case K-1 in the library; nothing was added"):
        library.add_case(lesions[0], "K-2")  # the same picture under a second id: said, not stored
    library.add_case(lesions[2], "K-2")
    library.add_case(lesions[1], "K-3")
    assert library.counts() == {"cases": 3, "awaiting": 3, "confirmed": 0, "images": 3}
    with pytest.raises(DermviewError, match="already has a case K-2"):
        library.add_case(lesions[1], "K-2")
    with pytest.raises(DermviewError, match="not a diagnosis"):
        library.confirm("K-1", "melanomaa", "histo")
    case = library.confirm("K-1", "mel", "histo", by="Dr A")
    assert case.status == CONFIRMED and case.confirmed_by == "Dr A" and case.confirmed_at
    library.confirm("K-3", "other", "consensus", other="seborrhoeic wart")
    assert [c.case_id for c in library.cases_list(AWAITING)] == ["K-2"]
    assert [c.case_id for c in library.cases_list(diagnosis="mel")] == ["K-1"]
    assert library.case("K-1").note == "left scapula" and library.case("K-1").age == 45
    library.delete_case("K-1")
    assert library.counts()["images"] == 2  # its picture went with it
    library.delete_case("K-2")
    assert library.counts() == {"cases": 1, "awaiting": 0, "confirmed": 1, "images": 1}
    with pytest.raises(DermviewError, match="no case K-9"):
        library.confirm("K-9", "nv", "follow_up")
    library.close()


def test_a_library_from_a_newer_dermview_is_refused_and_not_changed(url, lesions):
    library = CaseLibrary(url)
    library.add_case(lesions[0], "K-1")
    with library.engine.begin() as connection:
        connection.execute(library.meta.update().values(value="99"))
    library.close()
    with pytest.raises(DermviewError, match="newer dermview"):
        CaseLibrary(url)
    from sqlalchemy import create_engine, text

    from dermview.library.store import _driver_url
    engine = create_engine(_driver_url(url))  # a look past dermview's own check: nothing was changed
    with engine.connect() as connection:
        assert connection.execute(text("SELECT value FROM dermview_meta")).scalar() == "99"
        assert connection.execute(text("SELECT count(*) FROM cases")).scalar() == 1
    engine.dispose()


def test_export_and_import_move_a_library_between_back_ends(url, lesions, tmp_path):
    source = CaseLibrary(f"sqlite:///{tmp_path / 'source.sqlite'}")
    source.add_case(lesions[0], "K-1", note="a, b; \"quoted\"\nsecond line")
    source.add_case(lesions[1], "K-2")
    source.confirm("K-2", "nv", "follow_up")
    assert source.export_zip(tmp_path / "backup.zip") == 2
    target = CaseLibrary(url)
    assert target.import_zip(tmp_path / "backup.zip") == (2, 0)
    assert target.import_zip(tmp_path / "backup.zip") == (0, 2)  # importing twice adds nothing
    assert [(c.case_id, c.note, c.confirmed_dx) for c in target.cases_list()] == \
        [(c.case_id, c.note, c.confirmed_dx) for c in source.cases_list()]
    assert target.image(target.case("K-1").sha256) == lesions[0]


ADDER = r"""
import sys
from dermview.library.store import CaseLibrary
url, prefix, image, count = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read(), int(sys.argv[4])
library = CaseLibrary(url)
for n in range(count):  # a picture per case: bytes after the JPEG's end make each file another
    library.add_case(image + f"{prefix}-{n}".encode(), f"{prefix}-{n}")
    library.confirm(f"{prefix}-{n}", "nv", "follow_up")
print("done", flush=True)
"""


def test_two_processes_adding_and_confirming_at_once_lose_nothing(url, data_dir):
    CaseLibrary(url).close()  # the schema exists before they race (creating it at once is tested below)
    image = data_dir / "originals" / "ISIC_0024307.jpg"
    workers = [subprocess.Popen([sys.executable, "-c", ADDER, url, prefix, str(image), "15"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for prefix in ("A", "B")]
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0 and "done" in out, err
    library = CaseLibrary(url)
    assert library.counts() == {"cases": 30, "awaiting": 0, "confirmed": 30, "images": 30}


def test_a_new_library_created_by_two_processes_at_once_is_one_library(tmp_path, data_dir):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    image = data_dir / "originals" / "ISIC_0024307.jpg"
    workers = [subprocess.Popen([sys.executable, "-c", ADDER, url, prefix, str(image), "3"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for prefix in ("A", "B")]
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err
    assert CaseLibrary(url).counts()["cases"] == 6


def test_sigkill_while_adding_leaves_whole_cases_only(tmp_path, data_dir):
    url = f"sqlite:///{tmp_path / 'killed.sqlite'}"
    CaseLibrary(url).close()
    worker = subprocess.Popen([sys.executable, "-c", ADDER, url, "K", str(data_dir / "originals" / "ISIC_0024307.jpg"),
                               "100000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    library = CaseLibrary(url)
    deadline = time.monotonic() + 60
    while library.counts()["cases"] < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    counts = library.counts()
    assert counts["cases"] >= 5 and counts["images"] == counts["cases"]
    for case in library.cases_list():  # each case is whole: its image is there, its confirmation too
        assert library.image(case.sha256) and case.status in (AWAITING, CONFIRMED)
    from sqlalchemy import text
    with library.engine.connect() as connection:
        assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        assert connection.execute(text("PRAGMA foreign_key_check")).first() is None


def test_an_unreachable_server_is_one_sentence_and_the_cli_says_it(tmp_path, capsys):
    from dermview.cli import main

    url = f"postgresql://postgres@/nowhere?host={tmp_path}"
    with pytest.raises(DermviewError, match="cannot be used .*The archive still works"):
        CaseLibrary(url)
    assert main(["library", "--library", url, "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be used" in err


def test_the_command_line_adds_confirms_lists_and_refuses_to_delete_without_yes(tmp_path, data_dir, capsys):
    from dermview.cli import main

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    image = str(data_dir / "originals" / "ISIC_0024307.jpg")
    assert main(["library", "--library", url, "add", image, "--case-id", "K-7", "--age", "52", "--site", "back"]) == 0
    assert main(["library", "--library", url, "confirm", "K-7", "--diagnosis", "mel", "--dx-type", "histo"]) == 0
    capsys.readouterr()
    assert main(["library", "--library", url, "list", "--json"]) == 0
    (case,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert case["case_id"] == "K-7" and case["status"] == "confirmed" and case["age"] == 52
    assert main(["library", "--library", url, "delete", "K-7"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert CaseLibrary(url).counts()["cases"] == 1


def test_reading_a_mistyped_library_creates_nothing_and_only_add_creates_one(tmp_path, data_dir, capsys):
    """`library list --library PATH` with a mistyped PATH used to create an empty database and its folder and
    print "0 cases"; now every command but add and import refuses, and add says it created the library."""
    from dermview.cli import main

    typo = tmp_path / "Practise" / "cases.sqlite"
    for argv in (["list"], ["export", str(tmp_path / "out.zip")], ["confirm", "A-1", "--diagnosis", "nv",
                                                                    "--dx-type", "histo"], ["delete", "A-1", "--yes"]):
        assert main(["library", "--library", f"sqlite:///{typo}", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert f"There is no case library at {typo}" in err and "nothing was created" in err, err
        assert not typo.parent.exists()
    image = str(data_dir / "originals" / "ISIC_0024307.jpg")
    assert main(["library", "--library", f"sqlite:///{typo}", "add", image, "--case-id", "A-1"]) == 0
    assert "Created a new case library at" in capsys.readouterr().err and typo.is_file()
    assert main(["library", "--library", f"sqlite:///{typo}", "add", str(data_dir / "originals" / "ISIC_0024310.jpg"),
                 "--case-id", "A-2"]) == 0
    assert "Created" not in capsys.readouterr().err


def test_library_and_cache_dir_may_follow_the_action(tmp_path, data_dir, capsys):
    """Users put options last: `library add IMG --library URL` means `library --library URL add IMG`."""
    from dermview.cli import main

    url = f"sqlite:///{tmp_path / 'after.sqlite'}"
    other = f"sqlite:///{tmp_path / 'before.sqlite'}"
    image = str(data_dir / "originals" / "ISIC_0024307.jpg")
    assert main(["library", "add", image, "--case-id", "A-1", "--library", url, "--cache-dir", str(tmp_path / "c")]) == 0
    assert (tmp_path / "after.sqlite").is_file() and not (tmp_path / "before.sqlite").exists()
    # given in both places, the one after the action wins; given before only, it still counts
    assert main(["library", "--library", other, "confirm", "A-1", "--diagnosis", "nv", "--dx-type", "histo",
                 "--library", url]) == 0
    capsys.readouterr()
    assert main(["library", "--library", url, "list", "--json"]) == 0
    (case,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert case["case_id"] == "A-1" and case["status"] == "confirmed"
    from dermview.cli import build_parser

    for argv in (["library", "--cache-dir", "X", "list"], ["library", "list", "--cache-dir", "X"],
                 ["library", "--cache-dir", "Y", "list", "--cache-dir", "X"]):
        assert build_parser().parse_args(argv).cache_dir == "X"
    assert build_parser().parse_args(["library", "--library", url, "list"]).library == url
