"""A crafted library export is refused as a whole, on SQLite and PostgreSQL alike, with one line naming the
case and the field, and the library is left exactly as it was (issue "nothing breaks, II")."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import pytest

from dermview.cli import main
from dermview.library.rules import MAX_NOTE
from dermview.library.store import CaseLibrary
from dermview.library.transfer import EXPORT_COLUMNS


@pytest.fixture()
def export(url, data_dir, tmp_path):
    """(the library's URL, a genuine export's rows, images and manifest) of a library holding one case."""
    library = CaseLibrary(url)
    image = (data_dir / "originals" / "ISIC_0024307.jpg").read_bytes()
    library.add_case(image, "HOME-1")
    library.close()
    source = CaseLibrary(f"sqlite:///{tmp_path / 'source.sqlite'}")
    source.add_case((data_dir / "originals" / "ISIC_0024310.jpg").read_bytes(), "K-1", age=52, note="back")
    source.add_case((data_dir / "originals" / "ISIC_0024311.jpg").read_bytes(), "K-2")
    source.confirm("K-2", "mel", "histo")
    source.export_zip(tmp_path / "genuine.zip")
    source.close()
    with zipfile.ZipFile(tmp_path / "genuine.zip") as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("cases.csv").decode())))
        images = {n: archive.read(n) for n in archive.namelist() if n.startswith("images/")}
        manifest = json.loads(archive.read("manifest.json"))
    return url, rows, images, manifest


def write(path, rows, images, manifest, columns=EXPORT_COLUMNS, extra_members=()):
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if manifest is not None:
            archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr("cases.csv", text.getvalue())
        for name, data in images.items():
            archive.writestr(name, data)
        for name, data in extra_members:
            archive.writestr(name, data)
    return path


def _case(rows, **changes):
    return [{**rows[0], **changes}, *rows[1:]]


def _rehashed(rows, images, data):
    """The first case's image replaced by ``data``, under its own (correct) SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    kept = {k: v for k, v in images.items() if k != f"images/{rows[0]['sha256']}"}
    return _case(rows, sha256=digest), {**kept, f"images/{digest}": data}


HOSTILE = {
    # name: (how the export is changed, words the one error line must hold)
    "long id": (lambda r, i, m: (_case(r, case_id="K" * 300), i, m), ["case_id", "not a usable case id"]),
    "empty id": (lambda r, i, m: (_case(r, case_id=""), i, m), ["case_id", "not a usable case id"]),
    "control characters in the id": (lambda r, i, m: (_case(r, case_id="K-\x1b[31m9"), i, m), ["case_id"]),
    "unknown diagnosis": (lambda r, i, m: (_case(r, confirmed_dx="melanoma??", dx_type="histo"), i, m),
                          ["case K-1", "confirmed_dx", "not a diagnosis"]),
    "unknown confirmation": (lambda r, i, m: (_case(r, confirmed_dx="mel", dx_type="guess"), i, m),
                             ["case K-1", "dx_type", "not a way of confirming"]),
    "non-numeric age": (lambda r, i, m: (_case(r, age="forty"), i, m), ["case K-1", "field age", "'forty'"]),
    "bad votes": (lambda r, i, m: (_case(r, votes='{"mel": 5}'), i, m), ["case K-1", "field votes"]),
    "votes not JSON": (lambda r, i, m: (_case(r, votes="{not json"), i, m), ["case K-1", "field votes"]),
    "a note over the limit": (lambda r, i, m: (_case(r, note="x" * (MAX_NOTE + 1)), i, m), ["case K-1", "field note"]),
    "duplicate case id": (lambda r, i, m: ([r[0], {**r[1], "case_id": r[0]["case_id"]}], i, m), ["K-1", "twice"]),
    "hash mismatch": (lambda r, i, m: (r, {**i, f"images/{r[0]['sha256']}": b"\xff\xd8 other bytes"}, m),
                      ["damaged", "another SHA-256"]),
    "not an image": (lambda r, i, m: (*_rehashed(r, i, b"hostname\n"), m), ["not a recognised image", "nothing was imported"]),
    "zip bomb": (lambda r, i, m: (*_rehashed(r, i, b"\0" * (70 * 1024 * 1024)), m), ["too large"]),
    "newer export version": (lambda r, i, m: (r, i, {**m, "version": 99}), ["newer dermview"]),
    "a missing image": (lambda r, i, m: (r, {k: v for k, v in i.items() if r[0]["sha256"] not in k}, m),
                        ["case K-1", "no image"]),
}


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
def test_a_hostile_export_is_refused_whole(export, tmp_path, capsys, hostile):
    url, rows, images, manifest = export
    change, words = HOSTILE[hostile]
    path = write(tmp_path / "crafted.zip", *change(rows, images, manifest))
    before = CaseLibrary(url)
    counts, revision = before.counts(), before.revision()
    before.close()
    assert main(["library", "import", str(path), "--library", url]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("dermview: error:"), err
    for word in words:
        assert word in err, (hostile, err)
    assert "\x1b" not in err  # a control character is never printed raw
    after = CaseLibrary(url)
    assert after.counts() == counts and after.revision() == revision
    assert [c.case_id for c in after.cases_list()] == ["HOME-1"]
    after.close()


@pytest.mark.parametrize("columns, words", [
    ([c for c in EXPORT_COLUMNS if c != "sex"], ["missing sex"]),
    ([*EXPORT_COLUMNS, "patient_name"], ["unknown patient_name"]),
])
def test_an_export_with_other_columns_is_refused(export, tmp_path, capsys, columns, words):
    url, rows, images, manifest = export
    path = write(tmp_path / "crafted.zip", [{**r, "patient_name": "A. Smith"} for r in rows], images, manifest, columns)
    assert main(["library", "import", str(path), "--library", url]) == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words) and "nothing was imported" in err
    assert CaseLibrary(url).counts()["cases"] == 1


@pytest.mark.parametrize("member", ["../../evil.txt", "/tmp/evil.txt", "images/../../evil", "notes/readme.txt"])
def test_a_member_outside_the_export_is_refused_and_written_nowhere(export, tmp_path, capsys, member):
    url, rows, images, manifest = export
    path = write(tmp_path / "crafted.zip", rows, images, manifest, extra_members=[(member, b"x")])
    assert main(["library", "import", str(path), "--library", url]) == 2
    assert "not part of a dermview export" in capsys.readouterr().err
    assert not (tmp_path.parent / "evil.txt").exists() and not list(tmp_path.rglob("evil*"))
    assert CaseLibrary(url).counts()["cases"] == 1


def test_a_genuine_export_imports_and_a_long_note_round_trips(export, tmp_path, capsys):
    url, rows, images, manifest = export
    rows = _case(rows, note="n" * MAX_NOTE)
    path = write(tmp_path / "genuine-long.zip", rows, images, None)  # an export from before the manifest
    assert main(["library", "import", str(path), "--library", url]) == 0
    library = CaseLibrary(url)
    assert library.case("K-1").note == "n" * MAX_NOTE and library.case("K-2").confirmed_dx == "mel"
    library.export_zip(tmp_path / "again.zip")
    library.close()
    other = CaseLibrary(f"sqlite:///{tmp_path / 'other.sqlite'}")
    assert other.import_zip(tmp_path / "again.zip") == (3, 0)


def test_add_refuses_what_is_not_an_image(tmp_path, capsys):
    text = tmp_path / "hostname"
    text.write_text("workstation-7\n")
    assert main(["library", "add", str(text), "--case-id", "X-1", "--library", f"sqlite:///{tmp_path / 'l.sqlite'}"]) == 2
    assert "Added" not in capsys.readouterr().out
    assert CaseLibrary(f"sqlite:///{tmp_path / 'l.sqlite'}").counts()["cases"] == 0


def test_an_import_reads_one_image_at_a_time_and_checks_it_again(export, tmp_path):
    """The import held every image of the export in memory: read_export now checks each and keeps none; each is
    read again, and its SHA-256 checked again, when it is stored. An export changed in between stores nothing."""
    from dermview.library.transfer import ExportImages, read_export

    url, rows, images, manifest = export
    cases, lazily = read_export(tmp_path / "genuine.zip")
    assert isinstance(lazily, ExportImages) and len(lazily) == 2
    assert not any(isinstance(value, bytes) for value in vars(lazily).values())  # nothing held
    first = rows[0]["sha256"]
    assert hashlib.sha256(lazily[first]).hexdigest() == first
    swapped = {name: images[f"images/{rows[1]['sha256']}"] if name == f"images/{first}" else data
               for name, data in images.items()}
    write(tmp_path / "genuine.zip", rows, swapped, manifest)  # replaced after it was checked
    with pytest.raises(Exception, match="changed while it was imported"):
        lazily[first]
    library = CaseLibrary(url)
    before = library.counts()
    with pytest.raises(Exception, match="nothing was imported"):
        library.import_zip(tmp_path / "genuine.zip")
    assert library.counts() == before
