"""Scoring dermoscopy from other clinics (dermview.model.external, ``dermview evaluate --external``)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from dermview.cli import main
from dermview.model import external


def test_score_group_counts_what_each_diagnosis_was_called():
    dx = ["mel", "mel", "mel", "nv", "nv", "nv", "nv", None, None]
    malignant = [True, True, True, False, False, False, False, True, False]
    called = ["mel", "bkl", "mel", "nv", "mel", "nv", "nv", "nv", "nv"]
    share = [0.9, 0.2, 0.6, 0.1, 0.7, 0.3, 0.05, 0.8, 0.4]
    group = external.score_group(dx, malignant, called, share, [False] * 8 + [True])
    assert group["melanoma_recall"] == pytest.approx(2 / 3)
    assert group["nevus_called_melanoma"] == pytest.approx(1 / 4)
    assert group["balanced_accuracy"] == pytest.approx((2 / 3 + 3 / 4) / 2)
    assert group["accuracy"] == pytest.approx(5 / 7)
    assert group["n"] == 9 and group["n_diagnosed"] == 7 and group["n_melanoma"] == 4 and group["unfamiliar"] == 1
    # AUC over all nine (the benign/malignant-only rows too): melanoma shares 0.9 0.2 0.6 0.8 against
    # 0.1 0.7 0.3 0.05 0.4; of the 20 pairs the melanoma ranks higher in 5 + 2 + 4 + 5 = 16.
    assert group["melanoma_auc"] == pytest.approx(16 / 20)
    # Cautions: the one missed melanoma (row 1) carries one; of the five correct suggestions, one does.
    caution = [False, True, True, False, False, False, False, False, False]
    group = external.score_group(dx, malignant, called, share, [False] * 9, caution)
    assert group["missed_melanomas"] == 1 and group["missed_melanomas_with_caution"] == 1.0
    assert group["correct_with_caution"] == pytest.approx(1 / 5)


def test_the_split_is_fixed_by_name_and_near_its_share():
    names = [f"ISIC_{n:07d}" for n in range(2000)]
    parts = [external.part_of(n) for n in names]
    assert parts == [external.part_of(n) for n in names]
    assert abs(parts.count(external.UNREAD) / len(names) - external.UNREAD_SHARE) < 0.04


@pytest.fixture()
def external_folder(tmp_path, data_dir) -> Path:
    """A small external folder built from the shared one: 6 melanomas, 6 naevi, 2 benign/malignant-only
    rows, one seborrhoeic keratosis (it maps onto bkl) and one diagnosis with no HAM10000 counterpart."""
    shared = data_dir.parent / "external" / "dermoscopy"
    if not (shared / "labels.csv").is_file():
        pytest.skip("the shared external dermoscopy is not there")
    with open(shared / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    chosen = ([r for r in rows if r["diagnosis"] == "mel"][:6] + [r for r in rows if r["diagnosis"] == "nv"][:8]
              + [r for r in rows if not r["diagnosis"]][:2])
    chosen[-4] = {**chosen[-4], "diagnosis": "seborrheic_keratosis", "label_source": "relabelled"}
    chosen[-3] = {**chosen[-3], "diagnosis": "pyogenic granuloma", "label_source": "relabelled"}
    folder = tmp_path / "clinic"
    (folder / "images").mkdir(parents=True)
    for row in chosen:
        (folder / "images" / f"{row['image']}.jpg").symlink_to(shared / "images" / f"{row['image']}.jpg")
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    return folder


def test_read_external_maps_labels_and_reports_the_rest(external_folder):
    images, problems = external.read_external(external_folder, external.ALL)
    by_name = {i.name: i for i in images}
    assert sum(i.dx == "mel" for i in images) == 6 and sum(i.dx == "nv" for i in images) == 6
    assert [i.dx for i in images if i.source == "relabelled"] == ["bkl", None]  # the unmapped one: its verdict only
    assert sum(i.dx is None and i.malignant is not None for i in images) == 3  # 2 benign/malignant-only, 1 unmapped
    assert any("pyogenic granuloma" in p and "not scored" in p for p in problems)
    development, _ = external.read_external(external_folder, external.DEVELOPMENT)
    unread, _ = external.read_external(external_folder, external.UNREAD)
    assert {i.name for i in development} | {i.name for i in unread} == set(by_name)
    assert not {i.name for i in development} & {i.name for i in unread}


def test_evaluate_external_scores_by_source(external_folder, small_archive, small_model, session_cache, capsys):
    assert main(["evaluate", "--archive", str(small_archive), "--features", "classic", "--cache-dir", str(session_cache),
                 "--external", str(external_folder), "--part", "all", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    overall, sources = report["overall"], report["by_source"]
    # 6 + 6 + 1 diagnosed, 2 benign/malignant only, and the unmapped diagnosis counts by its benign verdict
    assert overall["n"] == 16 and overall["n_diagnosed"] == 13 and overall["n_melanoma"] >= 6
    assert set(sources) >= {"ISIC2017_Training_Part3_GroundTruth", "relabelled"}
    assert sum(g["n"] for g in sources.values()) == overall["n"]
    isic = sources["ISIC2017_Training_Part3_GroundTruth"]
    assert isic["per_class"]["mel"]["n"] == 6 and isic["per_class"]["nv"]["n"] == 6
    assert 0 <= isic["melanoma_auc"] <= 1 and 0 <= isic["melanoma_recall"] <= 1
    assert sources["relabelled"]["per_class"]["bkl"]["n"] == 1
    assert any("pyogenic granuloma" in p for p in report["problems"])
    assert main(["evaluate", "--archive", str(small_archive), "--features", "classic", "--cache-dir", str(session_cache),
                 "--external", str(external_folder), "--part", "all"]) == 0
    text = capsys.readouterr().out
    assert "ISIC2017_Training_Part3_GroundTruth" in text and "mel AUC" in text


def test_evaluate_external_with_a_model_file_scores_that_network(external_folder, small_archive, session_cache,
                                                                 capsys, monkeypatch):
    """--model with --external: the given network (here the held-out fold-0 one) on the other clinic's
    images, not a held-out evaluation on the archive; the process's setting is put back afterwards."""
    from dermview.model.learned import ENV_MODEL, model_info

    from conftest import HELD_OUT_MODEL as fold0

    monkeypatch.delenv(ENV_MODEL, raising=False)
    assert main(["evaluate", "--archive", str(small_archive), "--cache-dir", str(session_cache),
                 "--external", str(external_folder), "--part", "all", "--model", str(fold0), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["features"] == "learned" and report["overall"]["n"] == 16
    assert model_info(fold0).version in report["model_version"]
    assert ENV_MODEL not in os.environ
    assert main(["evaluate", "--archive", str(small_archive), "--cache-dir", str(session_cache),
                 "--external", str(external_folder), "--model", str(external_folder / "labels.csv")]) == 2
    assert "cannot use" in capsys.readouterr().err


def test_evaluate_external_refuses_a_folder_without_labels(tmp_path, small_archive, session_cache, capsys):
    (tmp_path / "images").mkdir()
    assert main(["evaluate", "--archive", str(small_archive), "--features", "classic", "--cache-dir", str(session_cache),
                 "--external", str(tmp_path)]) == 2
    assert "has no labels.csv" in capsys.readouterr().err


def test_the_shipped_model_quotes_its_external_figures_and_says_where_it_has_none():
    """The learned similarity's figures carry the external check beside the held-out folds; the sentences a
    result and a report show name where the images came from, and say so for a diagnosis with no figure."""
    from dermview.model.explain import external_sentence, external_summary
    from dermview.model.extractors import get_kind

    figures = get_kind("learned").held_out()
    outside = figures["external"]
    assert outside is not None and "none in HAM10000" in outside["source"] and outside["n"] >= 200
    assert set(outside["per_class"]) == {"mel", "nv"}
    melanoma = external_sentence("mel", outside)
    assert f"found {round(100 * outside['per_class']['mel']['recall'])} of 100 melanomas" in melanoma
    assert outside["source"] in melanoma
    assert "no figure from other clinics' devices for basal cell carcinomas" in external_sentence("bcc", outside)
    assert "No external figure for akiec, bcc, bkl, df, vasc" in external_summary(outside)
    assert "no figures on dermoscopy from other clinics" in external_sentence("mel", None)


def test_the_result_text_and_the_performance_view_say_both(qtbot, small_model):
    from PySide6.QtCore import Qt

    from dermview.model.explain import explain
    from dermview.model.extractors import get_kind
    from dermview.ui.performance import PerformanceDialog

    figures = get_kind("learned").held_out()
    _, _, predictor = small_model
    prediction = predictor.predict_archive_image(predictor.index.image_ids[0])
    _, sentences = explain(prediction, held_out=figures)
    text = " ".join(sentences)
    assert "On lesions it never saw" in text and "other clinics' devices" in text
    dialog = PerformanceDialog("Learned", figures)
    qtbot.addWidget(dialog)
    assert dialog.external.textFormat() == Qt.TextFormat.PlainText
    assert "melanoma AUC" in dialog.external.text() and "none in HAM10000" in dialog.external.text()


@pytest.mark.parametrize("table, words", [("image,diagnosis\n", "lists no images"), ("name,dx\nA,mel\n", "no 'image' column"),
                                          (b"\xff\xfe\x00", "could not be read")])
def test_a_labels_table_that_is_no_use_is_one_sentence(tmp_path, small_archive, session_cache, capsys, table, words):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels.csv").write_bytes(table if isinstance(table, bytes) else table.encode())
    assert main(["evaluate", "--archive", str(small_archive), "--features", "classic", "--cache-dir", str(session_cache),
                 "--external", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1
