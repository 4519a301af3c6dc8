"""What a result means in words: neighbours by lesion, readable closeness, held-out figures."""

from __future__ import annotations

import numpy as np

from dermview.model.explain import NOTHING_CLOSE_BELOW, by_lesion, closeness, composition, explain, nothing_close
from dermview.model.knn import Neighbour, Prediction


def _prediction(rows, suggestion="mel") -> Prediction:
    neighbours = [Neighbour(f"ISIC_{i:07d}", lesion, dx, "histo", d) for i, (lesion, dx, d) in enumerate(rows)]
    votes = {c: 0.0 for c in ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")}
    votes[suggestion] = 1.0
    return Prediction(suggestion, votes, neighbours)


def test_neighbours_are_counted_by_lesion_and_the_majority_is_named():
    prediction = _prediction([("L1", "nv", 0.1), ("L1", "nv", 0.2), ("L2", "nv", 0.3), ("L3", "mel", 0.4),
                              ("L4", "nv", 0.5)])
    tiles = by_lesion(prediction)
    assert [t.nearest.lesion_id for t in tiles] == ["L1", "L2", "L3", "L4"]
    assert len(tiles[0].more) == 1 and tiles[0].nearest.distance == 0.1
    text, majority = composition(tiles)
    assert majority == "nv" and text == "3 of the 4 nearest lesions are melanocytic nevi, 1 melanoma."
    _, sentences = explain(prediction, held_out={"source": "fold 0", "per_class": {
        "mel": {"precision": 0.49, "recall": 0.6, "n": 223}}})
    assert any("although most of the nearest lesions are melanocytic nevi" in s for s in sentences)
    assert any("it was melanoma in 49 of 100 cases, and it found 60 of 100" in s for s in sentences)


def test_closeness_reads_as_a_share_of_the_archive():
    calibration = np.sort(np.linspace(0.5, 1.5, 101))
    assert closeness(0.4, calibration) == 1.0
    assert closeness(1.6, calibration) == 0.0
    assert abs(closeness(1.0, calibration) - 0.5) < 0.02


def test_the_session_explains_with_its_own_held_out_figures(small_model, session_cache, monkeypatch, data_dir):
    from dermview.archive.inputs import gather_inputs
    from dermview.model.session import ModelSession

    archive, index, _ = small_model
    session = ModelSession(archive, index)
    assert session.held_out is not None and "cross-validation" in session.held_out["source"]
    (item,), _ = gather_inputs([data_dir / "originals" / "ISIC_0024307.jpg"])
    outcome = session.classify(item)
    tiles, sentences = session.explain(outcome)
    assert sum(1 + len(t.more) for t in tiles) == len(outcome.prediction.neighbours)
    assert all(t.closeness is not None and 0 <= t.closeness <= 1 for t in tiles)
    assert "nearest lesions" in sentences[0] and any("of 100" in s for s in sentences)


def test_nothing_close_is_said_when_even_the_nearest_lesion_is_far():
    """Measured against the archive's own nearest-other-lesion distances: a query whose nearest lesion is
    further than all but NOTHING_CLOSE_BELOW of them gets the caution; one as near as a typical pair does not."""
    calibration = np.sort(np.linspace(0.5, 1.5, 1000))
    far = np.quantile(calibration, 1 - NOTHING_CLOSE_BELOW / 2)
    typical = np.quantile(calibration, 0.5)
    said = nothing_close(_prediction([("L1", "nv", far), ("L2", "mel", far + 0.1)]), calibration)
    assert said is not None and "nothing in the archive looks much like it" in said and f"{1 - NOTHING_CLOSE_BELOW / 2:.0%}" in said
    assert nothing_close(_prediction([("L1", "nv", typical), ("L2", "mel", far)]), calibration) is None
    beyond = nothing_close(_prediction([("L1", "nv", 9.0)]), calibration)  # further than every archive pair
    assert beyond is not None and "further from this image than any archive image is" in beyond
    assert nothing_close(_prediction([("L1", "nv", far)]), np.zeros(0)) is None  # no calibration: nothing said
