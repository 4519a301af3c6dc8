"""The worklist export: what `dermview predict --csv` writes is what `predict --json` says, read back."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from dermview.archive import DX_CODES
from dermview.cli import main
from dermview.clinic.worklist import EXPORT_COLUMNS, WorkItem, read_csv, write_csv, write_json


@pytest.fixture()
def cached(session_cache, monkeypatch):
    monkeypatch.setenv("DERMVIEW_CACHE_DIR", str(session_cache))


@pytest.fixture()
def clinic_folder(tmp_path, data_dir) -> Path:
    """Three real images (one with a name a spreadsheet would run as a formula) and a broken one."""
    folder = tmp_path / "clinic"
    folder.mkdir()
    for number, name in enumerate(("ISIC_0024307.jpg", "ISIC_0024310.jpg", "ISIC_0024311.jpg")):
        target = "=cmd.jpg" if number == 2 else f"visit-{number}.jpg"
        (folder / target).write_bytes((data_dir / "originals" / name).read_bytes())
    (folder / "broken.jpg").write_bytes(b"not an image")
    return folder


def test_csv_export_reads_back_to_what_predict_json_says(small_archive, small_model, cached, clinic_folder,
                                                         tmp_path, capsys):
    out = tmp_path / "worklist.csv"
    common = ["predict", "--archive", str(small_archive), "--features", "classic", "--k", "11", str(clinic_folder)]
    assert main([*common, "--json"]) == 1  # the broken file fails, the rest are classified
    by_name = {Path(e["image"]).name: e for e in map(json.loads, capsys.readouterr().out.splitlines())}
    assert main([*common, "--csv", str(out)]) == 1
    rows = {row["file_name"]: row for row in read_csv(out)}
    assert set(rows) == set(by_name) == {p.name for p in clinic_folder.iterdir()}
    assert list(read_csv(out)[0]) == list(EXPORT_COLUMNS)
    assert rows["broken.jpg"]["status"] == "error" and "broken.jpg" in str(rows["broken.jpg"]["error"])
    for name, entry in by_name.items():
        if "error" in entry:
            continue
        row = rows[name]
        assert row["status"] == "done" and row["k"] == 11 == entry["k"]
        assert {dx: row[f"vote_{dx}"] for dx in DX_CODES} == {dx: entry["votes"].get(dx, 0.0) for dx in DX_CODES}
        assert row["suggestion"] == (None if entry["unfamiliar"] else entry["prediction"])
        assert row["neighbours"].split() == [n["image_id"] for n in entry["neighbours"]]
        assert row["sha256"] == entry["sha256"] == hashlib.sha256((clinic_folder / name).read_bytes()).hexdigest()
        assert row["similarity"] == "classic" and row["model_version"] == entry["model_version"]
        assert row["unfamiliar"] is entry["unfamiliar"] and row["archive_match"] == entry["archive_match"]
        assert 1 <= row["agreeing_lesions"] <= row["nearest_lesions"] <= 11
    # The copy of ISIC_0024310 is recognised by content whatever its name.
    assert rows["visit-1.jpg"]["archive_match"] == "ISIC_0024310" or rows["visit-1.jpg"]["archive_match"] is None
    raw = out.read_text(encoding="utf-8-sig")
    assert "\n'=cmd.jpg," in raw  # never a live formula in a spreadsheet


def test_notes_survive_csv_and_json(tmp_path):
    items = [WorkItem("a.jpg", note='Seen 1 Dec, "compare in March"; left shoulder,\nnew'), WorkItem("b.jpg")]
    items[1].fail("b.jpg: not an image.")
    write_csv(items, tmp_path / "w.csv")
    back = read_csv(tmp_path / "w.csv")
    assert back[0]["note"] == items[0].note and back[0]["status"] == "waiting"
    assert back[1]["error"] == "b.jpg: not an image." and back[1]["status"] == "error"
    document = json.loads(write_json(items, tmp_path / "w.json").read_text(encoding="utf-8"))
    assert [row["note"] for row in document["images"]] == [items[0].note, ""]
    assert set(document["images"][0]) == set(EXPORT_COLUMNS)



def test_a_note_that_really_begins_with_a_quote_survives_the_csv_round_trip(tmp_path):
    """The export guards formula starts with a leading ' (and strips it on reading): a note that itself begins
    with ' before one came back without its quote."""
    notes = ["'- not a formula", "-2 mm since March", "''twice", "'plain quote", "=SUM(A1)", "@home", "ok"]
    items = [WorkItem(f"{n}.jpg", note=note) for n, note in enumerate(notes)]
    write_csv(items, tmp_path / "w.csv")
    assert [row["note"] for row in read_csv(tmp_path / "w.csv")] == notes
    raw = (tmp_path / "w.csv").read_text(encoding="utf-8-sig")
    assert ",'=SUM(A1)," in raw and ",''- not a formula," in raw  # never a live formula


def test_a_session_from_a_newer_dermview_or_not_a_session_is_refused_and_left_alone(tmp_path):
    from dermview.clinic.sessions import load_session
    from dermview.errors import DermviewError

    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"format": "dermview-session", "version": 99, "images": [{"name": "a.jpg"}]}))
    other = tmp_path / "other.json"
    other.write_text("[1, 2, 3]")
    for path, words in ((newer, "newer dermview"), (other, "not a dermview session")):
        before = path.read_bytes()
        with pytest.raises(DermviewError, match=words):
            load_session(path)
        assert path.read_bytes() == before
    assert load_session(tmp_path / "none.json") is None
