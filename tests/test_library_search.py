"""Confirmed cases searched beside the archive: found by their own image, never voting unconfirmed, kept
current incrementally; on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import io
import json
import sqlite3

import numpy as np
import pytest

from PIL import Image

from dermview.archive.inputs import bytes_input
from dermview.clinic.report import report_page
from dermview.clinic.worklist import WorkItem
from dermview.cli import main
from dermview.errors import DermviewError
from dermview.library.search import OwnCases, library_sha256, search_library
from dermview.model.extractors import vector_key
from dermview.library.store import SCHEMA_VERSION, CaseLibrary
from dermview.model.knn import ARCHIVE, LIBRARY
from dermview.model.predictor import SearchIn
from dermview.model.session import ModelSession

from conftest import DATA

ORIGINALS = tuple(sorted(p.name for p in (DATA / "originals").glob("*.jpg"))[:3])


@pytest.fixture()
def session(small_model):
    archive, index, _ = small_model
    return ModelSession(archive, index)


@pytest.fixture()
def pictures(data_dir):
    return {name: (data_dir / "originals" / name).read_bytes() for name in ORIGINALS}


def classify(session, name: str, data: bytes):
    return session.classify(bytes_input(name, data), data=data)


def add(library, session, case_id: str, name: str, data: bytes):
    outcome = classify(session, name, data)
    return library.add_case(data, case_id, file_name=name, outcome=outcome,
                            features=(outcome.vector_key, outcome.vector))


def test_a_confirmed_case_is_its_own_image_nearest_neighbour_and_unconfirmed_cases_never_vote(url, session, pictures):
    library = CaseLibrary(url)
    name, data = next(iter(pictures.items()))
    add(library, session, "K-2026-001", name, data)
    own = search_library(session, library)
    assert len(own) == 0  # awaiting confirmation: not searched
    session.search = SearchIn.BOTH
    before = classify(session, name, data)
    assert all(n.source == ARCHIVE for n in before.prediction.neighbours)
    session.search = SearchIn.OWN
    with pytest.raises(DermviewError, match="no confirmed case"):
        classify(session, name, data)

    embedded = session.index.embedded
    library.confirm("K-2026-001", "mel", "histo", by="Dr A")
    session.search = SearchIn.BOTH
    after = classify(session, name, data)  # the same session: the confirmation is picked up incrementally
    first = after.prediction.neighbours[0]
    assert (first.source, first.case_id, first.dx, first.dx_type) == (LIBRARY, "K-2026-001", "mel", "histo")
    assert first.distance < 1e-3 and library_sha256(first.image_id) == after.sha256
    assert after.own_cases == 1 and session.index.embedded is embedded  # no rebuild of the archive index
    entry = after.to_json()["neighbours"][0]
    assert entry["source"] == "library" and entry["case_id"] == "K-2026-001"
    assert after.prediction.votes["mel"] > before.prediction.votes["mel"]
    # A case report names it by its case id and draws its picture from the library.
    item = WorkItem(name, input=bytes_input(name, data))
    item.record(after)
    page = report_page(item, session)
    assert page.neighbours[0].ids == "OWN CASE · K-2026-001" and "your own cases" in page.neighbour_caption
    assert page.load_neighbour(page.neighbours[0].image_id).size == Image.open(io.BytesIO(data)).size

    # A diagnosis outside the seven is kept, but never votes.
    second, data2 = list(pictures.items())[1]
    add(library, session, "K-2026-002", second, data2)
    library.confirm("K-2026-002", "other", "histo", other="seborrhoeic wart")
    session.search = SearchIn.OWN
    only_own = classify(session, second, data2)
    assert [n.case_id for n in only_own.prediction.neighbours] == ["K-2026-001"]
    assert only_own.prediction.prediction == "mel"

    # Deleting a case takes it out of the search at once.
    library.delete_case("K-2026-001")
    with pytest.raises(DermviewError, match="no confirmed case"):
        classify(session, name, data)
    library.close()


def test_cases_without_stored_vectors_are_described_once_and_stored(tmp_path, session, pictures):
    url = f"sqlite:///{tmp_path / 'library.sqlite'}"
    library = CaseLibrary(url)
    for n, data in enumerate(pictures.values()):
        library.add_case(data, f"C{n}")  # as `library add` without --archive, or an import: no vectors
        library.confirm(f"C{n}", "nv", "follow_up")
    key = vector_key(session.extractor)
    assert all(case.vector is None for case in library.searchable(key))
    own = OwnCases(library, session.extractor, session.index.projection)
    assert own.refresh() and len(own) == len(pictures)
    stored = library.searchable(key)
    assert all(case.vector is not None for case in stored)
    # What was stored is what a query of the same image computes.
    first = stored[0]
    query = classify(session, "again.jpg", library.image(first.sha256))
    assert np.allclose(first.vector, query.vector, atol=1e-5)
    assert not own.refresh()  # nothing changed: one read of the revision
    library.close()


def test_an_older_library_is_exported_then_migrated(tmp_path, pictures, monkeypatch):
    path = tmp_path / "library.sqlite"
    library = CaseLibrary(f"sqlite:///{path}")
    for n, data in enumerate(pictures.values()):
        library.add_case(data, f"OLD-{n}", note="before the migration")
    library.confirm("OLD-0", "bcc", "histo")
    library.close()
    with sqlite3.connect(path) as db:  # what schema 1 looked like: no vectors table, no revision
        db.execute("DROP TABLE case_features")
        db.execute("DELETE FROM dermview_meta WHERE key = 'revision'")
        db.execute("UPDATE dermview_meta SET value = '1' WHERE key = 'schema_version'")
    migrated = CaseLibrary(f"sqlite:///{path}")
    backup = migrated.migrated_backup
    assert backup is not None and backup.is_file() and "schema1" in backup.name
    empty = CaseLibrary(f"sqlite:///{tmp_path / 'restored.sqlite'}")
    assert empty.import_zip(backup) == (len(pictures), 0)  # the backup holds every case
    assert [c.case_id for c in migrated.cases_list()] == [c.case_id for c in empty.cases_list()]
    assert migrated.case("OLD-0").confirmed_dx == "bcc"
    revision = migrated.revision()
    migrated.confirm("OLD-1", "nv", "follow_up")
    assert migrated.revision() == revision + 1
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM dermview_meta WHERE key = 'schema_version'").fetchone()[0] == \
            str(SCHEMA_VERSION)
    assert CaseLibrary(f"sqlite:///{path}").migrated_backup is None  # once only


def test_predict_json_marks_library_neighbours_and_an_unreachable_library_leaves_the_archive(
        tmp_path, small_archive, session_cache, pictures, capsys, monkeypatch):
    monkeypatch.setenv("DERMVIEW_CACHE_DIR", str(session_cache))
    library_url = f"sqlite:///{tmp_path / 'practice.sqlite'}"
    name, data = next(iter(pictures.items()))
    image = tmp_path / "visit.jpg"
    image.write_bytes(data)
    common = ["--archive", str(small_archive), "--features", "classic"]
    assert main(["library", "--library", library_url, "add", str(image), "--case-id", "P-7", *common]) == 0
    assert main(["library", "--library", library_url, "confirm", "P-7", "--diagnosis", "df",
                 "--dx-type", "histo"]) == 0
    capsys.readouterr()
    assert main(["predict", *common, "--library", library_url, "--json", str(image)]) == 0
    entry = json.loads(capsys.readouterr().out.splitlines()[0])
    assert entry["neighbours"][0]["source"] == "library" and entry["neighbours"][0]["case_id"] == "P-7"
    assert {n["source"] for n in entry["neighbours"][1:]} == {"archive"}
    assert all("case_id" not in n for n in entry["neighbours"][1:])
    assert main(["predict", *common, "--library", library_url, str(image)]) == 0  # the text line names the case
    line = capsys.readouterr().out.splitlines()[0]
    assert "nearest your case P-7 (df" in line and "library:" not in line
    assert main(["predict", *common, "--library", library_url, "--neighbours", "archive", "--json", str(image)]) == 0
    assert {n["source"] for n in json.loads(capsys.readouterr().out)["neighbours"]} == {"archive"}

    # A server that is not there: the archive still answers, and the note says why the library was not.
    gone = "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2"
    assert main(["predict", *common, "--library", gone, "--json", str(image)]) == 0
    captured = capsys.readouterr()
    assert {n["source"] for n in json.loads(captured.out)["neighbours"]} == {"archive"}
    assert "cannot be used" in captured.err and "archive only" in captured.err
    assert main(["predict", *common, "--library", gone, "--neighbours", "own", str(image)]) == 2
    assert "cannot be used" in capsys.readouterr().err
