"""KNN voting, lesion exclusion, and the evaluation report."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, precision_score, recall_score

from dermview.archive import DX_CODES, load_image_file
from dermview.model.evaluate import cross_validate
from dermview.model.metrics import metrics, pooled_metrics
from dermview.model.tuning import FoldChoice, GridPoint, choose_from_grid, choose_on_validation, tune
from dermview.model.knn import (REFINED, nearest, nearest_in, squared_distances, squared_distances_to, squared_norms,
                                tie_free_scores, vote)


def test_nearest_matches_brute_force():
    rng = np.random.default_rng(0)
    points, queries = rng.normal(size=(300, 5)), rng.normal(size=(20, 5))
    idx, dist = nearest(points, queries, 7)
    brute = np.linalg.norm(queries[:, None] - points[None], axis=2)
    assert np.array_equal(idx, np.argsort(brute, axis=1)[:, :7])
    assert np.allclose(dist, np.sort(brute, axis=1)[:, :7], atol=1e-6)


def test_the_one_query_search_finds_exactly_the_neighbours_of_the_exact_one():
    """The matrix-product search ranks with rounding, then recomputes its nearest candidates exactly: the
    neighbours and their distances are those of the difference-based search, an identical point at 0."""
    rng = np.random.default_rng(3)
    points = (rng.normal(size=(3 * REFINED, 40)) * 30 + 100).astype(np.float32)  # far from the origin
    norms = squared_norms(points)
    lesions = rng.integers(0, 400, len(points))
    for query in [points[17].astype(np.float64), rng.normal(size=40) * 30 + 100, points[5] + 1e-4]:
        for exclude in (None, (lesions == lesions[17])[None]):
            exact = squared_distances(points, query[None], exclude)
            fast = squared_distances_to(points, norms, query, exclude)
            assert fast.shape == exact.shape == (1, len(points))
            for k in (1, 21, 61):
                (i_fast, d_fast), (i_exact, d_exact) = nearest_in(fast, k), nearest_in(exact, k)
                assert np.array_equal(i_fast, i_exact) and np.array_equal(d_fast, d_exact)
            assert np.isinf(fast[exact == np.inf]).all()
    assert nearest_in(squared_distances_to(points, norms, points[17].astype(np.float64)), 1)[1][0, 0] == 0.0


def test_prior_correction_lifts_a_rare_class():
    labels = np.array([5] * 6 + [4])  # six nevi, one melanoma, all at the same distance
    idx, dist = np.arange(7)[None], np.ones((1, 7))
    prior = np.array([0.03, 0.05, 0.11, 0.01, 0.11, 0.67, 0.02])
    plain = vote(labels, idx, dist, prior, 0.0)[0]
    corrected = vote(labels, idx, dist, prior, 1.0)[0]
    assert np.isclose(plain.sum(), 1) and np.isclose(corrected.sum(), 1)
    assert plain.argmax() == 5 and np.isclose(plain[5], 6 / 7)
    assert corrected.argmax() == 4  # 1 / 0.11 = 9.1 outweighs 6 / 0.67 = 9.0
    half = vote(labels, idx, dist, prior, 0.5)[0]
    assert plain[4] < half[4] < corrected[4]


def test_closer_neighbours_count_more():
    labels = np.array([0, 1, 1])
    shares = vote(labels, np.array([[0, 1, 2]]), np.array([[0.01, 1.0, 1.0]]), np.full(7, 1 / 7), 0.0)[0]
    assert shares[0] > shares[1]


def test_tie_free_scores_have_no_ties_and_stay_in_range():
    shares = np.array([[0, 0, 0, 0, 0.5, 0.5, 0], [1 / 7] * 7])
    distances = np.array([[3, 3, 2, 5, 1, 1, 4], [1] * 7], dtype=float)
    scores = tie_free_scores(shares, distances)
    assert ((scores >= 0) & (scores <= 1)).all()
    for row in scores:
        assert len(set(row.tolist())) == 7
    assert np.abs(scores - shares).max() < 0.0011


def test_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    m = metrics(y_true, y_pred)
    assert np.isclose(m["balanced_accuracy"], balanced_accuracy_score(y_true, y_pred))
    recall = recall_score(y_true, y_pred, average=None, labels=range(7))
    precision = precision_score(y_true, y_pred, average=None, labels=range(7), zero_division=0)
    for i, code in enumerate(DX_CODES):
        assert np.isclose(m["per_class"][code]["recall"], recall[i])
        assert np.isclose(m["per_class"][code]["precision"], precision[i])
    assert np.array(m["confusion"]["matrix"]).sum() == 500


def test_pooled_metrics_count_every_image_of_the_parts_once():
    """Held-out folds taken together: the pooled figures are those of all their images at once, not the
    mean of the folds' figures (the folds differ in size and in how many of each diagnosis they hold)."""
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 7, 500)
    y_pred = np.where(rng.random(500) < 0.6, y_true, rng.integers(0, 7, 500))
    cut = 120  # unequal parts, so that a mean of the parts' recalls would differ from the whole's
    whole = metrics(y_true, y_pred)
    pooled = pooled_metrics([metrics(y_true[:cut], y_pred[:cut]), metrics(y_true[cut:], y_pred[cut:])])
    assert pooled["confusion"] == whole["confusion"]
    assert pooled["accuracy"] == whole["accuracy"] and pooled["balanced_accuracy"] == whole["balanced_accuracy"]
    assert pooled["per_class"] == whole["per_class"]
    halves = (metrics(y_true[:cut], y_pred[:cut])["balanced_accuracy"] + metrics(y_true[cut:], y_pred[cut:])["balanced_accuracy"]) / 2
    assert abs(halves - whole["balanced_accuracy"]) > 1e-6
    with pytest.raises(ValueError, match="no results"):
        pooled_metrics([])
    shuffled = {**whole, "confusion": {"labels": list(reversed(DX_CODES)), "matrix": whole["confusion"]["matrix"]}}
    with pytest.raises(ValueError, match="not"):
        pooled_metrics([whole, shuffled])


MEL = DX_CODES.index("mel")


def point(k, power, accuracy, balanced, mel_recall):
    return GridPoint(k, power, accuracy, balanced, tuple(mel_recall if c == "mel" else 0.5 for c in DX_CODES))


def test_the_melanoma_floor_outranks_the_accuracy_floor():
    grid = [point(31, 0.25, 0.80, 0.65, 0.57),   # the old rule's choice: accurate, misses melanomas
            point(9, 0.5, 0.779, 0.69, 0.66),    # reaches the melanoma floor, just short of the accuracy floor
            point(21, 1.0, 0.73, 0.74, 0.67)]
    old = choose_from_grid(grid, 0.78)
    assert (old["k"], old["prior_power"]) == (31, 0.25)
    new = choose_from_grid(grid, 0.78, {MEL: 0.64})
    assert (new["k"], new["prior_power"]) == (9, 0.5)  # the most accurate of those that find melanomas
    assert new["validation_recall"]["mel"] == 0.66 and "mel recall >= 0.64" in new["rule"]
    # both floors reached: the best balanced accuracy among them
    both = choose_from_grid(grid + [point(15, 0.75, 0.785, 0.70, 0.65)], 0.78, {MEL: 0.64})
    assert (both["k"], both["prior_power"]) == (15, 0.75)
    # no setting finds enough melanomas: the floor is said to be missed, and the accuracy rule decides
    none = choose_from_grid(grid[:1] + [point(5, 0.0, 0.79, 0.60, 0.50)], 0.78, {MEL: 0.64})
    assert (none["k"], none["prior_power"]) == (31, 0.25) and "no setting reached" in none["rule"]


def test_choosing_on_validation_scores_every_setting_of_the_grid():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(len(DX_CODES)), 12)
    points = rng.normal(size=(len(labels), 4)) + labels[:, None]
    chosen = choose_on_validation(points, labels, points + 0.01, labels, 0.5, {MEL: 0.9})
    assert chosen["validation_recall"]["mel"] >= 0.9 and chosen["validation_accuracy"] >= 0.5


def test_find_similar_excludes_the_own_lesion(small_model):
    archive, index, predictor = small_model
    counts = archive.metadata["lesion_id"].value_counts()
    lesion = counts.index[0]
    assert counts.iloc[0] >= 2
    image_id = archive.metadata.loc[archive.metadata["lesion_id"] == lesion, "image_id"].iloc[0]
    excluded = predictor.predict_archive_image(image_id, k=10)
    assert lesion not in {n.lesion_id for n in excluded.neighbours}
    included = predictor.predict_archive_image(image_id, k=10, exclude_own_lesion=False)
    assert included.neighbours[0].image_id == image_id and included.neighbours[0].distance < 1e-3
    for prediction in (excluded, included):
        assert set(prediction.votes) == set(DX_CODES) and np.isclose(sum(prediction.votes.values()), 1)
        assert len(prediction.neighbours) == 10
        distances = [n.distance for n in prediction.neighbours]
        assert distances == sorted(distances)


def test_new_image_prediction_has_everything(small_model, data_dir):
    archive, index, predictor = small_model
    prediction = predictor.predict_image(load_image_file(data_dir / "originals" / "ISIC_0024307.jpg"), k=7)
    assert prediction.prediction in DX_CODES
    assert prediction.prediction == max(prediction.votes, key=prediction.votes.get)
    assert len(prediction.neighbours) == 7
    n = prediction.neighbours[0]
    row = archive.metadata.set_index("image_id").loc[n.image_id]
    assert (n.lesion_id, n.dx, n.dx_type) == (row["lesion_id"], row["dx"], row["dx_type"])


def test_cross_validation_is_grouped_and_beats_the_baselines(small_model):
    archive, index, predictor = small_model
    labels, groups = predictor.labels, predictor.lesion_ids
    report = cross_validate(index.features, labels, groups, folds=2, seed=0,
                            raw_pixels=np.random.default_rng(0).random((len(labels), 12)))
    assert report["grouped_by"] == "lesion_id"
    confusion = np.array(report["confusion"]["matrix"])
    assert confusion.sum() == len(labels)
    assert np.isclose(report["accuracy"], np.trace(confusion) / confusion.sum())
    assert report["balanced_accuracy"] > report["baselines"]["majority"]["balanced_accuracy"] + 0.2
    assert set(report["baselines"]) == {"majority", "raw_pixel_knn"}
    assert len(report["chosen_per_fold"]) == 2


def test_tuning_only_sees_the_training_images(small_model, monkeypatch):
    """Tuning must never be handed an image of a test-fold lesion."""
    from dermview.model import evaluate

    archive, index, predictor = small_model
    labels, groups = predictor.labels, predictor.lesion_ids
    seen_groups = []
    real_tune = evaluate.tune

    def spy(features, y, g, **kwargs):
        seen_groups.append(set(g))
        return FoldChoice(15, 0.5)

    monkeypatch.setattr(evaluate, "tune", spy)
    from sklearn.model_selection import StratifiedGroupKFold
    splits = list(StratifiedGroupKFold(2, shuffle=True, random_state=0).split(index.features, labels, groups))
    evaluate.cross_validate(index.features, labels, groups, folds=2, seed=0)
    assert len(seen_groups) == len(splits) == 2
    for seen, (_, test) in zip(seen_groups, splits):
        assert not seen & set(groups[test])
    assert real_tune is tune
