"""The "unfamiliar image" warning: it fires on what is not dermoscopy and stays quiet on new lesions."""

from __future__ import annotations

import json
from pathlib import Path

from dermview.cli import main

from conftest import PROJECT_ROOT
from gui_helpers import drop, wait_for_index, wait_for_result
from nondermoscopy import synthetic


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
    assert "Unfamiliar image: no suggestion" in result.headline.text()
    assert result.chart.votes() == {}  # no vote bars that could be read as a suggestion
    drop(window, [data_dir / "originals" / "ISIC_0024307.jpg"])
    wait_for_result(qtbot, window)
    assert "Nearest-neighbour suggestion" in result.headline.text() and result.chart.votes()
