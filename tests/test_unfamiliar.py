"""The "unfamiliar image" warning: it fires on what is not dermoscopy and stays quiet on new lesions."""

from __future__ import annotations

import json
from pathlib import Path

from dermview.cli import main

from conftest import PROJECT_ROOT
from gui_helpers import drop, wait_for_index, wait_for_result
from training.nondermoscopy import synthetic


def test_non_dermoscopy_is_unfamiliar_and_new_lesions_are_not(small_model, small_archive, session_cache, data_dir,
                                                              tmp_path, capsys):
    _, _, predictor = small_model
    made = tmp_path / "not-dermoscopy"
    made.mkdir()
    for name, image in synthetic(data_dir).items():
        image.save(made / name)
    (made / "dermview-icon.png").write_bytes((PROJECT_ROOT / "dermview" / "resources" / "dermview.png").read_bytes())
    new_lesions = [p for p in sorted((data_dir / "originals").glob("*.jpg")) if predictor.lesion_of(p.stem) is None]
    assert main(["predict", "--archive", str(small_archive), "--features", "classic", "--json", "--cache-dir",
                 str(session_cache), str(made), *map(str, new_lesions)]) == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    other = [r for r in results if Path(r["image"]).parent == made]
    lesions = [r for r in results if Path(r["image"]).parent != made]
    assert len(other) == 61 and len(lesions) == len(new_lesions) >= 100
    fired = sum(r["unfamiliar"] for r in other)
    assert fired >= 0.9 * len(other), [Path(r["image"]).name for r in other if not r["unfamiliar"]]
    assert all(r["unfamiliar_reason"] for r in other if r["unfamiliar"])
    assert sum(r["unfamiliar"] for r in lesions) <= 0.03 * len(lesions)
    icon = next(r for r in other if Path(r["image"]).name == "dermview-icon.png")
    assert icon["unfamiliar"]


def test_the_window_mutes_the_suggestion_for_an_unfamiliar_image(make_window, small_model, small_archive, data_dir,
                                                                 qtbot, tmp_path):
    document = tmp_path / "referral-letter.png"
    synthetic(data_dir)["document-1.png"].save(document)
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    drop(window, [document])
    wait_for_result(qtbot, window)
    result = window.classify.result
    assert "no suggestion" in result.headline.text()
    assert result.chart.votes() == {}  # no vote bars that could be read as a suggestion
    drop(window, [data_dir / "originals" / "ISIC_0024307.jpg"])
    wait_for_result(qtbot, window)
    assert "Nearest-neighbour suggestion" in result.headline.text() and result.chart.votes()


# -- what kind of picture (issue "unfamiliar on images no one picked") --------------------------------

def _test_part_clinical(data_dir: Path, count: int) -> list[Path]:
    from training.corpora import TEST, part

    photos = [p for p in sorted((data_dir.parent / "external" / "clinical").glob("*.jpg")) if part(p.name) == TEST]
    if len(photos) < count:
        import pytest

        pytest.skip("the shared clinical photographs are not there")
    return photos[:count]


def test_predict_names_the_kind_of_picture(originals_archive, originals_learned, session_cache, data_dir, tmp_path,
                                           capsys):
    """Through the learned model's image-kind classifier: a phone photograph of a lesion is a clinical
    photograph, a chart is not dermoscopy, and a dermoscopic original is neither (all from parts of the
    corpora its fit never saw)."""
    from training.corpora import TEST, drawn_charts, part

    photos = _test_part_clinical(data_dir, 3)
    charts = [name for name in drawn_charts() if part(name) == TEST][:2]
    for name in charts:
        drawn_charts()[name].save(tmp_path / name)
    originals = sorted((data_dir / "originals").glob("*.jpg"))[:3]
    copies = []
    for original in originals:  # not byte-identical to an archive image, and under another name
        copy = tmp_path / f"query-{original.stem[-4:]}.png"
        from PIL import Image

        Image.open(original).crop((30, 20, 580, 430)).save(copy)
        copies.append(copy)
    assert main(["predict", "--archive", str(originals_archive), "--features", "learned", "--json", "--cache-dir",
                 str(session_cache), *map(str, photos), *(str(tmp_path / n) for n in charts), *map(str, copies)]) == 0
    results = {Path(r["image"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    for photo in photos:
        r = results[photo.name]
        assert r["unfamiliar"] and r["unfamiliar_kind"] == "clinical_photograph", r
        assert "clinical photograph, not a dermoscopic image" in r["unfamiliar_reason"]
        # No suggestion anywhere: no prediction, no vote, and its neighbours without their diagnoses.
        assert r["prediction"] is None and r["votes"] is None and r["muted_reason"] == r["unfamiliar_reason"]
        assert r["neighbours"] and all("dx" not in n and "dx_type" not in n for n in r["neighbours"])
    for name in charts:
        assert results[name]["unfamiliar"] and results[name]["unfamiliar_kind"] == "not_dermoscopy", results[name]
    for copy in copies:
        assert not results[copy.name]["unfamiliar"] and results[copy.name]["unfamiliar_kind"] is None
        assert results[copy.name]["prediction"] in results[copy.name]["votes"]
        assert all(n["dx"] for n in results[copy.name]["neighbours"])


def test_the_window_says_clinical_photograph(make_window, originals_archive, originals_learned, data_dir, qtbot,
                                             tmp_path):
    photo = _test_part_clinical(data_dir, 1)[0]
    window = make_window(originals_archive, features="learned")
    wait_for_index(qtbot, window)
    drop(window, [photo])
    wait_for_result(qtbot, window)
    result = window.classify.result
    assert "Clinical photograph, not dermoscopy: no suggestion" in result.headline.text()
    assert "archive holds only dermoscopy" in result.headline.text()
    assert result.chart.votes() == {}
    captions = [result.neighbours.item(row).text() for row in range(result.neighbours.count())]
    assert captions and all(c.startswith("diagnosis not shown") for c in captions), captions
    assert "diagnoses are not shown" in result.neighbour_title.text()
    from training.corpora import TEST, drawn_charts, part

    chart_name = next(name for name in drawn_charts() if part(name) == TEST)  # a part no fit saw
    chart = tmp_path / "chart.png"
    drawn_charts()[chart_name].save(chart)
    drop(window, [chart])
    qtbot.waitUntil(lambda: "Not a dermoscopic image: no suggestion" in result.headline.text(), timeout=60_000)
    assert result.chart.votes() == {}


def test_a_kind_classifier_for_another_model_is_not_used(tmp_path):
    """The classifier fits one embedding: a file naming another model's version, or a damaged one, is ignored."""
    import numpy as np

    from dermview.model import learned
    from dermview.model.familiarity import KindClassifier

    shipped = learned.model_info(learned.default_model_path())
    model = tmp_path / "dermview-embedding.onnx"
    model.write_bytes(shipped.path.read_bytes())
    (tmp_path / "dermview-embedding.json").write_text(shipped.path.with_suffix(".json").read_text())
    info = learned.model_info(model)
    d = 4
    good = KindClassifier(np.zeros(d), np.ones(d), np.zeros((3, d)), np.zeros(3), 0.5, info.version)
    learned.kinds_path(model).write_text(json.dumps(good.to_json()))
    loaded = learned.kind_classifier(info)
    assert loaded is not None and loaded.threshold == 0.5 and np.array_equal(loaded.coef, good.coef)
    learned.kinds_path(model).write_text(json.dumps({**good.to_json(), "model_version": "another"}))
    assert learned.kind_classifier(learned.model_info(model)) is None
    learned.kinds_path(model).write_text(json.dumps({**good.to_json(), "coef": [[1.0]]}))
    assert learned.kind_classifier(learned.model_info(model)) is None
    learned.kinds_path(model).write_text("{not json")
    assert learned.kind_classifier(learned.model_info(model)) is None


def test_the_kind_classifier_names_the_likelier_kind():
    import numpy as np

    from dermview.model.familiarity import CLINICAL_PHOTO, NOT_DERMOSCOPY, KindClassifier

    # Three one-hot directions: feature i votes for kind i.
    classifier = KindClassifier(np.zeros(3), np.ones(3), 10 * np.eye(3), np.zeros(3), 0.5, "v")
    assert classifier.judge(np.array([1.0, 0, 0])) is None
    assert classifier.judge(np.array([0, 1.0, 0])).kind == CLINICAL_PHOTO
    assert classifier.judge(np.array([0, 0, 1.0])).kind == NOT_DERMOSCOPY
    assert classifier.judge(np.array([np.nan, 0, 0])).kind == NOT_DERMOSCOPY
    p = classifier.probabilities(np.eye(3))
    assert np.allclose(p.sum(axis=1), 1) and (np.argmax(p, axis=1) == [0, 1, 2]).all()


def test_the_report_and_the_worklist_export_name_the_kind(originals_archive, originals_learned, session_cache, data_dir,
                                                          tmp_path, monkeypatch):
    from dermview.archive.inputs import gather_inputs
    from dermview.clinic.report import report_page
    from dermview.clinic.worklist import WorkItem, read_csv, write_csv
    from dermview.model.session import ModelSession

    archive, index = originals_learned
    session = ModelSession(archive, index)
    photo = _test_part_clinical(data_dir, 1)[0]
    (image,), _ = gather_inputs([photo])
    item = WorkItem(image.name, input=image)
    item.record(session.classify(image))
    page = report_page(item, session)
    assert page.headline == "Clinical photograph, not dermoscopy: no suggestion" and page.muted
    assert "archive holds only dermoscopy" in " ".join(page.sentences)
    assert page.votes == [] and page.neighbours and all(not n.dx and not n.diagnosis for n in page.neighbours)
    assert "diagnoses are not shown" in page.neighbour_caption
    write_csv([item], tmp_path / "worklist.csv")
    (row,) = read_csv(tmp_path / "worklist.csv")
    assert row["unfamiliar"] is True and row["unfamiliar_kind"] == "clinical_photograph" and row["suggestion"] is None
    assert all(row[f"vote_{dx}"] is None for dx in ("mel", "nv")) and row["agreeing_lesions"] is None
