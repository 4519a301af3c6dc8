"""`dermview report`: a real process, no display, a real PDF read back with poppler's pdftotext."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from dermview import NOT_A_MEDICAL_DEVICE
from dermview.archive import open_archive
from dermview.archive.codes import dx_label
from dermview.archive.inputs import gather_inputs
from dermview.clinic.report import REPORT_NEIGHBOURS
from dermview.model.session import ModelSession

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")


def pdf_pages(path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return [page for page in text.split("\f") if page.strip()]


@needs_poppler
def test_report_of_two_images_is_two_pages_with_what_a_reader_needs(small_archive, small_model, session_cache,
                                                                    data_dir, tmp_path, monkeypatch):
    images = [data_dir / "originals" / "ISIC_0024307.jpg", data_dir / "originals" / "ISIC_0024310.jpg"]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "report.pdf"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["DERMVIEW_CACHE_DIR"] = str(session_cache)
    result = subprocess.run([sys.executable, "-m", "dermview", "report", "--archive", str(small_archive),
                             "--features", "classic", "--pdf", str(out), "--note", "Case K-17: left shoulder",
                             *map(str, images), str(broken)], capture_output=True, text=True, env=env, timeout=240)
    assert result.returncode == 1, result.stderr  # the broken file is reported; the others are on the pages
    assert "broken.jpg: error:" in result.stderr and "Wrote 2 pages" in result.stdout
    pages = pdf_pages(out)
    assert len(pages) == 2
    monkeypatch.setenv("DERMVIEW_CACHE_DIR", str(session_cache))
    session = ModelSession.open(open_archive(small_archive), "classic")
    for page, path in zip(pages, images):
        flat = " ".join(page.split())
        outcome = session.classify(gather_inputs([path])[0][0])
        tiles, _ = session.explain(outcome)
        assert f"Nearest-neighbour suggestion: {dx_label(outcome.prediction.prediction)}" in flat
        assert hashlib.sha256(path.read_bytes()).hexdigest() in flat
        assert all(t.nearest.image_id in flat for t in tiles[:REPORT_NEIGHBOURS])
        assert NOT_A_MEDICAL_DEVICE in flat and "Case K-17: left shoulder" in flat
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # an ordinary file, not mkstemp's owner-only one


def test_report_refuses_an_unwritable_target_before_any_work(small_archive, tmp_path, data_dir):
    result = subprocess.run([sys.executable, "-m", "dermview", "report", "--archive", str(small_archive),
                             "--pdf", str(tmp_path / "no-such-folder" / "r.pdf"),
                             str(data_dir / "originals" / "ISIC_0024307.jpg")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "does not exist" in result.stderr and result.stderr.count("\n") == 1


@needs_poppler
def test_the_report_names_the_file_not_its_folder_says_what_it_shows_and_refuses_a_replaced_file(
        small_model, data_dir, tmp_path):
    """Issue 44: the page prints the file name only (a folder can be named after the patient) unless asked;
    the neighbours' caption gives the number of tiles the page really shows; a query file replaced after it
    was classified is not printed with the old suggestion."""
    from dermview.clinic.report import QueryChanged, report_page
    from dermview.clinic.worklist import WorkItem
    from dermview.render.report_pdf import write_pdf

    archive, index, _ = small_model
    session = ModelSession(archive, index)
    folder = tmp_path / "Jane Doe 1961-04-02"
    folder.mkdir()
    query = folder / "visit.jpg"
    shutil.copy(data_dir / "originals" / "ISIC_0024307.jpg", query)
    (image,), _ = gather_inputs([query])
    item = WorkItem(image.name, input=image)
    item.record(session.classify(image))
    assert item.outcome.lesion is not None and item.outcome.lesion.mask is not None  # the page with measures

    write_pdf([report_page(item, session)], tmp_path / "plain.pdf")
    (page,) = pdf_pages(tmp_path / "plain.pdf")
    flat = " ".join(page.split())
    assert "visit.jpg" in flat and "Jane Doe" not in flat
    tiles, _ = session.explain(item.outcome)
    printed = [t for t in tiles[:REPORT_NEIGHBOURS] if t.nearest.lesion_id in flat]
    assert 0 < len(printed) <= REPORT_NEIGHBOURS
    shown = f"the {len(printed)} nearest of {len(tiles)} lesions" if len(printed) < len(tiles) else \
        f"the {len(tiles)} nearest lesions"
    assert shown in flat, (len(printed), flat[:2000])

    write_pdf([report_page(item, session, full_path=True)], tmp_path / "with-path.pdf")
    assert "Jane Doe" in " ".join(pdf_pages(tmp_path / "with-path.pdf")[0].split())

    shutil.copy(data_dir / "originals" / "ISIC_0024310.jpg", query)  # another image under the same name
    with pytest.raises(QueryChanged, match="has changed since it was classified"):
        write_pdf([report_page(item, session)], tmp_path / "changed.pdf")
    assert not (tmp_path / "changed.pdf").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".tmp") == []
