"""One seam: the extractor registry, one session for the CLI and the window, newest-wins loads."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dermview.cli import build_parser, main
from dermview.model import extractors
from dermview.model.extractors import REGISTRY, FeatureKind, VoteDefaults, choose_features, feature_choices
from dermview.model.session import ModelSession

from conftest import make_subset_archive


class ToyExtractor:
    """Mean colour of a 16x16 copy: a similarity in a dozen lines, to prove that one registry line adds one."""

    name = "toy"
    version = "toy-1"
    draft_size = 16
    batch_size = 64
    description = "mean colour (a test's toy)"
    projected = False
    passthrough = 0
    tail_weight = 1.0
    colour_texture_from = None
    trained_on_archive = False

    def prepare(self, image: Image.Image) -> np.ndarray:
        return np.asarray(image.resize((16, 16)), np.float32)

    def extract(self, batch: np.ndarray) -> np.ndarray:
        return batch.reshape(len(batch), -1, 3).mean(axis=1) / 255.0


@pytest.fixture()
def toy_kind(monkeypatch):
    kind = FeatureKind(name="toy", label="Toy colour", description=ToyExtractor.description, make=ToyExtractor,
                       unavailable=lambda load_runtime: None, vote_defaults=lambda: VoteDefaults(k=5),
                       preference=50)
    monkeypatch.setitem(REGISTRY, "toy", kind)
    return kind


def test_a_registered_extractor_is_a_choice_everywhere(toy_kind, make_window, small_archive, tmp_path):
    assert isinstance(ToyExtractor(), extractors.FeatureExtractor)
    assert "toy" in feature_choices()
    predict = next(a for a in build_parser()._subparsers._group_actions[0].choices["predict"]._actions
                   if a.dest == "features")
    assert "toy" in predict.choices
    window = make_window(small_archive)
    labels = [window.classify.features_combo.itemText(i) for i in range(window.classify.features_combo.count())]
    assert "Toy colour" in labels
    tiny = make_subset_archive(tmp_path / "tiny", 0.02, seed=3)
    status = main(["predict", "--archive", str(tiny), "--features", "toy", "--json", "--cache-dir",
                   str(tmp_path / "cache"), str(next((tiny / "images").iterdir()))])
    assert status == 0


def test_an_unusable_kind_falls_back_only_when_allowed(toy_kind, monkeypatch):
    broken = FeatureKind(name="broken", label="Broken", description="never works", make=ToyExtractor,
                         unavailable=lambda load_runtime: "it is a test", vote_defaults=VoteDefaults, preference=-1)
    monkeypatch.setitem(REGISTRY, "broken", broken)
    choice = choose_features("auto")
    assert choice.name != "broken" and "Broken features are not available: it is a test" in choice.note
    with pytest.raises(Exception, match="not available: it is a test"):
        choose_features("broken")
    assert choose_features("broken", strict=False).name == choice.name


def test_the_command_line_and_the_window_give_the_same_answer(make_window, small_model, small_archive, data_dir,
                                                              qtbot, tmp_path, capsys):
    from gui_helpers import drop, wait_for_index, wait_for_result

    archive, index, predictor = small_model
    originals = sorted((data_dir / "originals").glob("*.jpg"))
    original = next(p for p in originals if predictor.lesion_of(p.stem))  # its copy is in the archive
    renamed = tmp_path / "clinic-photo.jpg"  # the same picture under a name the archive does not know
    renamed.write_bytes(original.read_bytes())
    new = next(p for p in originals if predictor.lesion_of(p.stem) is None)  # a lesion the archive lacks
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    k = window.classify.k_spin.value()  # whatever the window remembers, the command line is told the same
    assert main(["predict", "--archive", str(small_archive), "--features", "classic", "--json", "--k", str(k),
                 str(original), str(renamed), str(new)]) == 0
    cli = {Path(e["image"]).name: e for e in map(json.loads, capsys.readouterr().out.splitlines())}
    for path in (original, renamed):  # by its name or by its content, it is the archive's own image
        assert cli[path.name]["archive_match"] == original.stem
        assert cli[path.name]["excluded_lesion"] == predictor.lesion_of(original.stem)
    assert cli[new.name]["archive_match"] is None and cli[new.name]["excluded_lesion"] is None
    assert len(cli[new.name]["neighbours"]) == k
    for path in (original, renamed, new):
        drop(window, [path])
        wait_for_result(qtbot, window)
        shown = window.classify.current_item().outcome
        assert shown.prediction.prediction == cli[path.name]["prediction"]
        assert [n.image_id for n in shown.prediction.neighbours] == [n["image_id"] for n in cli[path.name]["neighbours"]]
        assert shown.prediction.votes == pytest.approx(cli[path.name]["votes"], abs=1e-4)
        assert shown.excluded_lesion == cli[path.name]["excluded_lesion"]


def test_index_loads_are_newest_wins(qtbot, tmp_path, monkeypatch):
    from dermview.archive import open_archive
    from dermview.ui.workers import ModelService

    monkeypatch.setenv("DERMVIEW_CACHE_DIR", str(tmp_path / "cache"))
    archive = open_archive(make_subset_archive(tmp_path / "tiny", 0.02, seed=3))
    service = ModelService()
    ready, failed, answers = [], [], []
    service.index_ready.connect(ready.append)
    service.index_failed.connect(failed.append)
    service.query_done.connect(answers.append)
    try:
        # Rebuild clicked, the similarity switched twice, all while the first build runs.
        service.load_index(archive, rebuild=True, features="classic")
        service.load_index(archive, rebuild=True, features="classic")
        service.load_index(archive, rebuild=True, features="classic")
        image_id = str(archive.metadata["image_id"].iloc[0])
        generation = service.query_archive_image(image_id, 7)  # asked for before any index is there
        qtbot.waitUntil(lambda: bool(ready and answers), timeout=120_000)
        qtbot.wait(300)
    finally:
        service.shutdown()
    assert len(ready) == 1 and not failed  # only the newest load answered
    assert isinstance(ready[0], ModelSession)
    assert len(answers) == 1 and answers[0].generation == generation  # the waiting query was answered
    assert len(answers[0].prediction.neighbours) == 7
    assert not [t for t in threading.enumerate() if t.name.startswith("dermview-features") and t.is_alive()]
