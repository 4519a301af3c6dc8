"""Honest evaluation: lesion-grouped cross-validation with nested tuning, and baselines.

Splits are always grouped by ``lesion_id`` (StratifiedGroupKFold): several images of one lesion
never sit on both sides. Inside every outer fold, k and the prior correction are chosen by an inner
grouped cross-validation on the training folds only, and the projection is fitted on the training
folds only. Two baselines are measured on the same folds: always answering the majority class, and
a raw-pixel KNN of the kind the seed paper reported (28x28 RGB pixels, k=5, equal votes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from sklearn.model_selection import StratifiedGroupKFold

from ..archive.codes import DX_CODES, dx_indices
from ..archive.inputs import gather_inputs
from ..archive.isic import read_ground_truth
from ..errors import DermviewError
from .projection import Projection, fit_kernel_lda
from .extractors import get_extractor, space_fitter
from .index import compute_features
from .knn import DEFAULT_K, DEFAULT_PRIOR_POWER, class_prior, decide, knn_vote, nearest, plain_vote, squared_distances
from .learned import LearnedExtractor, model_info, split_fingerprint
from .metrics import N_CLASSES, metrics
from .tuning import FoldChoice, held_out_split, tune

RAW_PIXEL_SIZE = (28, 28)
RAW_PIXEL_K = 5


class RawPixelExtractor:
    """The seed's kind of model input: the whole image squashed to 28x28 RGB pixels."""

    name = "raw-pixels"
    version = "1"
    draft_size = 32
    batch_size = 64
    description = "raw 28x28 pixels (a baseline, not offered as a similarity)"
    projected = False
    passthrough = 0
    tail_weight = 1.0
    colour_texture_from: int | None = None
    trained_on_archive = False

    def prepare(self, image: Image.Image) -> np.ndarray:
        return np.asarray(image.resize(RAW_PIXEL_SIZE, Image.Resampling.BILINEAR, reducing_gap=2.0), np.uint8)

    def extract(self, batch: np.ndarray) -> np.ndarray:
        return batch.reshape(len(batch), -1).astype(np.float32) / 255.0


# -- cross-validation ---------------------------------------------------------------------------

def cross_validate(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, *, folds: int = 5,
                   seed: int = 0, raw_pixels: np.ndarray | None = None, fixed: FoldChoice | None = None,
                   progress: Callable[[str], None] | None = None,
                   fit: Callable[..., Projection] | None = None) -> dict:
    """Lesion-grouped CV of the shipped model (tuned inside each fold unless ``fixed``) and baselines.
    ``fit``: how the similarity space is fitted on each fold's training images (extractors.space_fitter;
    the colour-texture kernel LDA by default)."""
    fit = fit or fit_kernel_lda
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = np.zeros(len(labels), dtype=np.int64)
    scores = np.zeros((len(labels), N_CLASSES))
    majority = np.zeros(len(labels), dtype=np.int64)
    raw_pred = np.zeros(len(labels), dtype=np.int64)
    choices = []
    for fold, (train, test) in enumerate(splitter.split(features, labels, groups)):
        choice = fixed or tune(features[train], labels[train], groups[train], seed=seed, fit=fit)
        choices.append({"fold": fold, "k": choice.k, "prior_power": choice.prior_power})
        emb = fit(features[train], labels[train], seed=seed)
        sq = squared_distances(emb.transform(features[train]), emb.transform(features[test]))
        _, _, shares, scores[test] = knn_vote(sq, labels[train], choice.k, class_prior(labels[train]),
                                              choice.prior_power)
        predicted[test] = decide(shares)
        majority[test] = np.bincount(labels[train], minlength=N_CLASSES).argmax()
        if raw_pixels is not None:
            ridx, _ = nearest(raw_pixels[train], raw_pixels[test], RAW_PIXEL_K)
            raw_pred[test] = decide(plain_vote(labels[train], ridx))
        if progress:
            progress(f"fold {fold + 1}/{folds}: k={choice.k}, prior power={choice.prior_power}")
    report = metrics(labels, predicted, scores)
    report["folds"] = folds
    report["seed"] = seed
    report["grouped_by"] = "lesion_id"
    report["chosen_per_fold"] = choices
    base_major = metrics(labels, majority)
    report["baselines"] = {"majority": {"accuracy": base_major["accuracy"],
                                        "balanced_accuracy": base_major["balanced_accuracy"]}}
    if raw_pixels is not None:
        base_raw = metrics(labels, raw_pred)
        report["baselines"]["raw_pixel_knn"] = {"accuracy": base_raw["accuracy"],
                                                "balanced_accuracy": base_raw["balanced_accuracy"],
                                                "k": RAW_PIXEL_K, "pixels": "28x28 RGB"}
    return report


# -- whole runs, as the command line and benchmarks use them -------------------------------------

def archive_labels(archive, image_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer labels and lesion groups for these archive images."""
    meta = archive.metadata.set_index("image_id").loc[image_ids]
    return (dx_indices(meta["dx"].astype(str).to_numpy()),
            meta["lesion_id"].astype(str).to_numpy())


def raw_pixel_vectors(archive, image_ids: np.ndarray, progress=None) -> np.ndarray:
    extractor = RawPixelExtractor()
    vectors, _ = compute_features(lambda i: archive.load_image(i, draft_size=extractor.draft_size),
                                  image_ids, extractor, progress=progress)
    return np.nan_to_num(vectors)


def evaluate_archive(archive, index, *, folds: int = 5, seed: int = 0, log=None, progress=None) -> dict:
    """Nested lesion-grouped CV of the shipped procedure, the shipped defaults, and both baselines."""
    labels, groups = archive_labels(archive, index.image_ids)
    raw = raw_pixel_vectors(archive, index.image_ids, progress)
    fit = space_fitter(get_extractor(index.extractor))
    report = cross_validate(index.features, labels, groups, folds=folds, seed=seed, raw_pixels=raw, progress=log,
                            fit=fit)
    shipped = cross_validate(index.features, labels, groups, folds=folds, seed=seed, fit=fit,
                             fixed=FoldChoice(DEFAULT_K, DEFAULT_PRIOR_POWER))
    report["shipped_defaults"] = {
        "k": DEFAULT_K, "prior_power": DEFAULT_PRIOR_POWER, "accuracy": shipped["accuracy"],
        "balanced_accuracy": shipped["balanced_accuracy"],
        "per_class_recall": {c: v["recall"] for c, v in shipped["per_class"].items()},
        "note": "defaults were chosen by grouped CV on the whole archive, so these folds took part in "
                "choosing them; the top-level numbers tune inside each fold and are the honest ones"}
    report["features"] = index.extractor
    return report


def evaluate_external(session, images_path, ground_truth_path, *, progress=None) -> dict:
    """Index the whole archive, predict an external test set, and score it like the CV report."""
    truth = read_ground_truth(ground_truth_path)
    images, problems = gather_inputs([images_path])
    if problems and not images:
        raise DermviewError(f"{problems[0][0]}: {problems[0][1]}.")
    wanted = [item for item in images if item.stem in truth]
    raw_extractor = RawPixelExtractor()
    y_true, y_pred, scores, raw_queries, errors = [], [], [], [], {}
    predictor = session.predictor
    for n, item in enumerate(wanted):
        try:
            image = item.load(session.extractor.draft_size)
            prediction = session.classify_image(image, item.name, stem=item.stem).prediction
        except DermviewError as exc:
            errors[item.stem] = str(exc)
            continue
        y_true.append(truth[item.stem])
        y_pred.append(DX_CODES.index(prediction.prediction))
        scores.append([prediction.scores[c] for c in DX_CODES])
        raw_queries.append(raw_extractor.extract(raw_extractor.prepare(image)[None])[0])  # same decode
        if progress:
            progress(n + 1, len(wanted))
    if not y_true:
        raise DermviewError("None of the test images named in the ground truth could be predicted.")
    truths = np.array(y_true)
    report = metrics(truths, np.array(y_pred), np.array(scores))
    report["n_ground_truth"] = len(truth)
    report["n_predicted"] = len(truths)
    report["missing_images"] = len(truth) - len({item.stem for item in wanted})
    report["failed_images"] = errors
    report["features"] = predictor.index.extractor
    train = predictor.labels
    majority = metrics(truths, np.full(len(truths), np.bincount(train, minlength=N_CLASSES).argmax()))
    raw_points = raw_pixel_vectors(predictor.archive, predictor.index.image_ids)
    idx, _ = nearest(raw_points, np.array(raw_queries), RAW_PIXEL_K)
    raw = metrics(truths, decide(plain_vote(train, idx)))
    report["baselines"] = {
        "majority": {"accuracy": majority["accuracy"], "balanced_accuracy": majority["balanced_accuracy"]},
        "raw_pixel_knn": {"accuracy": raw["accuracy"], "balanced_accuracy": raw["balanced_accuracy"],
                          "k": RAW_PIXEL_K, "pixels": "28x28 RGB"}}
    return report


# -- the learned embedding: held-out lesions only ------------------------------------------------

def knn_metrics(train_points: np.ndarray, train_labels: np.ndarray, test_points: np.ndarray,
                test_labels: np.ndarray, k: int, prior_power: float) -> dict:
    """Metrics (with ROC AUC) of the KNN vote of ``train_points`` for ``test_points``."""
    sq = squared_distances(train_points, test_points)
    _, _, shares, scores = knn_vote(sq, train_labels, k, class_prior(train_labels), prior_power)
    return metrics(test_labels, decide(shares), scores)


def knn_metrics_in_space(fit: Callable[..., Projection], features: np.ndarray, labels: np.ndarray,
                         train: np.ndarray, test: np.ndarray, k: int, prior_power: float) -> dict:
    """knn_metrics in the similarity space that ``fit`` (extractors.space_fitter, fit_kernel_lda) makes
    from the ``train`` rows alone, the index's images; ``train`` and ``test`` index ``features`` (N, D).
    The projection's landmarks are drawn by row, so the same rows in another order give another space."""
    space = fit(features[train], labels[train])
    return knn_metrics(space.transform(features[train]), labels[train], space.transform(features[test]),
                       labels[test], k, prior_power)


@dataclass(frozen=True)
class HeldOutSplit:
    """The archive images a held-out model is evaluated on: its index (train) and its fold (test)."""

    image_ids: np.ndarray  # (N,) every available archive image
    labels: np.ndarray  # (N,) diagnosis indices
    groups: np.ndarray  # (N,) lesion ids
    train: np.ndarray  # indices into image_ids: the lesions the network was trained (or validated) on
    test: np.ndarray  # indices into image_ids: the held-out fold's lesions


def held_out_split_of(archive, info) -> HeldOutSplit:
    """The fold ``info``'s model was trained without, checked against this archive (cheap: no image is read).

    Raises DermviewError if the model has no held-out fold, or if the archive is not the one its fold
    was drawn from (its fold would then hold images the network was trained on).
    """
    if info.held_out_fold is None:
        raise DermviewError("this model was trained on every archive image; it has no held-out lesions")
    split = info.card.get("held_out_split", {})
    meta = archive.metadata[archive.metadata["available"]]
    image_ids = meta["image_id"].astype(str).to_numpy()
    labels, groups = archive_labels(archive, image_ids)
    if split.get("fingerprint") != split_fingerprint(image_ids, groups, meta["dx"].astype(str)):
        raise DermviewError(
            "this archive is not the one the model's held-out fold was drawn from (different images, "
            "lesions or diagnoses), so its fold would contain images the model was trained on.")
    train, test = held_out_split(labels, groups, info.held_out_fold, int(split.get("folds", 5)),
                                 int(split.get("seed", 0)))
    return HeldOutSplit(image_ids, labels, groups, train, test)


def evaluate_learned_held_out(archive, model_path, *, held: HeldOutSplit | None = None, classic_index=None,
                              progress=None, log=None) -> dict:
    """KNN with a learned model on the lesions it was trained without, as its sidecar records them.

    The shipped model has seen every archive image, so it cannot be evaluated on the archive; this
    takes a model trained with ``--holdout-fold F`` (``training/train_embedding.py``). k and the vote
    correction are the ones that training run chose on validation lesions, never on fold F. With
    ``classic_index`` the colour-texture model is measured on the same fold (tuned on its training
    folds only), so the two are compared on identical images. ``held``: the split, if the caller has
    already checked the archive with held_out_split_of.
    """
    info = model_info(model_path)
    held = held or held_out_split_of(archive, info)
    image_ids, labels, groups, train, test = held.image_ids, held.labels, held.groups, held.train, held.test
    extractor = LearnedExtractor(model_path)
    feats, errors = compute_features(lambda i: archive.load_image(i, draft_size=extractor.draft_size),
                                     image_ids, extractor, progress=progress)
    ok = ~np.isnan(feats).any(axis=1)
    train, test = train[ok[train]], test[ok[test]]
    report = {"learned": {**knn_metrics_in_space(space_fitter(extractor), feats, labels, train, test, info.k,
                                                 info.prior_power), "k": info.k, "prior_power": info.prior_power},
              "held_out_fold": info.held_out_fold, "n_test": int(len(test)), "n_index": int(len(train)),
              "failed": len(errors), "grouped_by": "lesion_id",
              "majority_accuracy": float((labels[test] == np.bincount(labels[train]).argmax()).mean())}
    if classic_index is not None:
        row = {image_id: r for r, image_id in enumerate(classic_index.image_ids)}
        have = np.array([i in row for i in image_ids])
        tr, te = train[have[train]], test[have[test]]
        classic = np.zeros((len(image_ids), classic_index.features.shape[1]), np.float32)
        classic[have] = classic_index.features[[row[i] for i in image_ids[have]]]
        choice = tune(classic[tr], labels[tr], groups[tr])
        report["classic"] = {**knn_metrics_in_space(fit_kernel_lda, classic, labels, tr, te, choice.k,
                                                    choice.prior_power), "k": choice.k, "prior_power": choice.prior_power}
        if log:
            log(f"colour-texture model tuned on the training folds: k={choice.k}, prior power {choice.prior_power}")
    return report
