"""Issue "sharper neighbours": which inference-time levers help the learned similarity, measured on
validation lesions only. No training, no test fold.

The network trained without fold F (training/heldout/, --fold F, default 0) never saw fold F *nor* the validation lesions
carved out of the other folds (train_embedding.splits). Those validation lesions are the queries here
and the network's own training images the index, exactly as that run chose its k and vote correction.
To keep each lever's score honest, its settings (k, prior power, melanoma weight) are chosen on one half
of the validation lesions and scored on the other half, then the other way round; the two halves'
scores are averaged.

Levers:
  * views: the query (and optionally the index) embedded as the normalised mean of the 8 flips and
    rotations of the network's input, or of 2 (the image and its mirror);
  * lesion votes: each neighbour lesion votes once, through its nearest image;
  * melanoma weight: melanoma's share of the corrected vote multiplied by w (a per-class correction);
  * colour-texture beside the embedding: the image's colour-texture features (the same decode), their
    kernel-LDA projection fitted on the index's images and scaled to length w against the embedding's
    1, appended to it (what dermview's learned similarity does, at learned.COLOUR_WEIGHT);
  * for an ensemble (train_embedding --merge-only), each member network alone from the same
    embeddings, so that the ensemble's gain can be told from the spread between its members.

    .venv/bin/python training/inference_levers.py --archive ../shared/data/ham10000 [--fold F] [--model ONNX]

Writes training/heldout/levers-foldF-validation.json (or levers-<model>-validation.json beside another
model) and prints one line per configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import product
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))

from dermview.archive import open_archive  # noqa: E402
from dermview.archive.codes import DX_CODES  # noqa: E402
from dermview.model import features, learned  # noqa: E402
from dermview.model.extractors import ClassicExtractor  # noqa: E402
from dermview.model.index import compute_features  # noqa: E402
from dermview.model.projection import fit_combined  # noqa: E402
from dermview.model.knn import K_CHOICES, PRIOR_POWER_CHOICES, class_prior, decide, nearest, vote  # noqa: E402
from dermview.model.metrics import metrics  # noqa: E402
from train_embedding import ACCURACY_FLOOR, splits  # noqa: E402

MEL = DX_CODES.index("mel")
MEL_WEIGHTS = (1.0, 1.25, 1.5, 2.0, 3.0)
MEL_RECALL_TARGET = 0.65  # the target; the second rule asks for it on the choosing half
BALANCED_TARGET = 0.70  # the balanced-accuracy target (with accuracy >= ACCURACY_FLOOR)
HELDOUT = ROOT / "training" / "heldout"


def committed_model(fold: int) -> Path:
    """The network trained without ``fold`` (and its validation lesions) that training/heldout/ keeps."""
    return HELDOUT / f"{learned.MODEL_NAME}-fold{fold}.onnx"


def dihedral(batch: np.ndarray) -> list[np.ndarray]:
    """The 8 flips and rotations of a uint8 (N, H, W, 3) batch; the first is the batch itself, the third
    its mirror image."""
    views = []
    for k in range(4):
        turned = np.rot90(batch, k, axes=(1, 2))
        views.append(turned)
        views.append(turned[:, :, ::-1])
    return [np.ascontiguousarray(v) for v in views]


def embed_views(archive, image_ids, extractor, n_views: int = 8, batch: int = 64) -> np.ndarray:
    """(N, n_views, D) float16: every image's embedding (D numbers: 1280 per member network) in each of
    the first ``n_views`` views."""
    out = None
    start = time.perf_counter()
    for i in range(0, len(image_ids), batch):
        chunk = image_ids[i:i + batch]
        arrays = np.stack([extractor.prepare_network(archive.load_image(x, draft_size=extractor.draft_size))
                           for x in chunk])
        for v, view in enumerate(dihedral(arrays)[:n_views]):
            vectors = extractor.embed(view)
            if out is None:
                out = np.zeros((len(image_ids), n_views, vectors.shape[1]), np.float16)
            out[i:i + len(chunk), v] = vectors
        if (i // batch) % 20 == 0:
            print(f"  embedded {i + len(chunk):,}/{len(image_ids):,} images x {n_views} views "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    assert out is not None, "no images to embed"
    return out


def colour_texture(archive, image_ids, extractor) -> np.ndarray:
    """(N, D) the colour-texture features of the images, from the decode the learned similarity uses
    (what LearnedExtractor puts beside the embedding)."""
    colour, errors = compute_features(lambda i: archive.load_image(i, draft_size=extractor.draft_size), image_ids,
                                      ClassicExtractor())
    if errors:
        raise SystemExit(f"{len(errors)} images could not be described: {list(errors.items())[:3]}")
    return colour


def embedded(archive, image_ids, extractor, fold: int, n_views: int):
    """(views (N, n_views, D), colour-texture (N, F), the model's sha256[:16], seconds spent embedding or
    None when the views came from the per-user cache) for ``image_ids`` (a fold's index then validation
    images, in that order), cached per fold, model and number of views."""
    import hashlib

    from dermview.paths import user_dirs

    model_hash = hashlib.sha256(extractor.info.path.read_bytes()).hexdigest()[:16]
    cached = user_dirs().cache / "training" / f"levers-views-fold{fold}-{model_hash}-{n_views}.npy"
    embed_seconds = None  # the views were read from the cache
    if cached.is_file():
        views = np.load(cached)
    else:
        started = time.perf_counter()
        views = embed_views(archive, image_ids, extractor, n_views)
        embed_seconds = round(time.perf_counter() - started)
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, views)
    colour_cache = cached.with_name(f"levers-colour-fold{fold}-{features.FEATURE_VERSION}.npy")
    if colour_cache.is_file():
        colour = np.load(colour_cache)
    else:
        colour = colour_texture(archive, image_ids, extractor)
        np.save(colour_cache, colour)
    return views, colour, model_hash, embed_seconds


def pooled(views: np.ndarray, which: tuple[int, ...]) -> np.ndarray:
    mean = views[:, list(which)].astype(np.float32).mean(axis=1)
    return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)


def lesion_neighbours(idx: np.ndarray, dist: np.ndarray, groups: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest *lesions* (each by its nearest image) from a longer neighbour list."""
    out_i = np.zeros((len(idx), k), np.int64)
    out_d = np.full((len(idx), k), np.inf)
    for q in range(len(idx)):
        seen, n = set(), 0
        for i, d in zip(idx[q], dist[q]):
            if groups[i] in seen:
                continue
            seen.add(groups[i])
            out_i[q, n], out_d[q, n] = i, d
            n += 1
            if n == k:
                break
    return out_i, out_d


def shares_for(labels_fit, idx, dist, prior, power, mel_weight):
    shares = vote(labels_fit, idx, dist, prior, power)
    shares[:, MEL] *= mel_weight
    return shares / shares.sum(axis=1, keepdims=True)


def rule_key(m: dict, rule: str, floor: float = ACCURACY_FLOOR) -> tuple:
    """How a setting ranks. "floor": train_embedding's rule (the best balanced accuracy with accuracy at
    the floor). "melanoma": the same, among settings that also reach the melanoma recall target.
    "targets": the issue's three targets read in order: among settings with accuracy at the floor and
    balanced accuracy at its target, the best melanoma recall (then "floor" where none reaches both).
    ``floor``: the accuracy a setting must keep (the issue's 0.78, or more to leave a margin)."""
    at_floor = m["accuracy"] >= floor
    if rule == "targets":
        both = at_floor and m["balanced_accuracy"] >= BALANCED_TARGET
        return (both, m["per_class"]["mel"]["recall"] if both else -1.0) + rule_key(m, "floor", floor)
    mel_ok = rule != "melanoma" or m["per_class"]["mel"]["recall"] >= MEL_RECALL_TARGET
    return (at_floor and mel_ok, at_floor, m["balanced_accuracy"] if at_floor else
            (m["accuracy"] + m["balanced_accuracy"]) / 2)


def choose(labels_fit, idx, dist, prior, y, rows, lesion_votes, groups_fit, mel_weights, rule,
           floor: float = ACCURACY_FLOOR, max_power: float = 1.0):
    """The best (k, power, mel weight) on the validation ``rows`` by ``rule``, among prior powers up to
    ``max_power``."""
    best, best_key = None, None
    for k, power, w in product(K_CHOICES, [p for p in PRIOR_POWER_CHOICES if p <= max_power], mel_weights):
        i, d = (lesion_neighbours(idx[rows], dist[rows], groups_fit, k) if lesion_votes
                else (idx[rows, :k], dist[rows, :k]))
        m = metrics(y[rows], decide(shares_for(labels_fit, i, d, prior, power, w)))
        key = rule_key(m, rule, floor)
        if best_key is None or key > best_key:
            best, best_key = (k, power, w), key
    return best


def cross_fitted(labels_fit, groups_fit, fit_pts, val_pts, y_val, val_groups, lesion_votes, mel_weights=True,
                 rule="floor", floor: float = ACCURACY_FLOOR, max_power: float = 1.0):
    """Choose on one half of the validation lesions, score on the other, both ways; mean scores
    (``rule``, ``floor``, ``max_power``: how the setting is chosen, see choose and rule_key)."""
    idx, dist = nearest(fit_pts, val_pts, 4 * max(K_CHOICES) if lesion_votes else max(K_CHOICES))
    prior = class_prior(labels_fit)
    lesions = np.unique(val_groups)
    rng = np.random.default_rng(0)
    half = set(rng.permutation(lesions)[: len(lesions) // 2])
    a = np.array([g in half for g in val_groups])
    scores, chosen = [], []
    for choose_rows, score_rows in ((a, ~a), (~a, a)):
        k, power, w = choose(labels_fit, idx, dist, prior, y_val, np.flatnonzero(choose_rows), lesion_votes, groups_fit,
                             MEL_WEIGHTS if mel_weights else (1.0,), rule, floor, max_power)
        rows = np.flatnonzero(score_rows)
        i, d = (lesion_neighbours(idx[rows], dist[rows], groups_fit, k) if lesion_votes else (idx[rows, :k], dist[rows, :k]))
        m = metrics(y_val[rows], decide(shares_for(labels_fit, i, d, prior, power, w)))
        scores.append(m)
        chosen.append({"k": k, "prior_power": power, "mel_weight": w})
    mean = {key: float(np.mean([s[key] for s in scores])) for key in ("accuracy", "balanced_accuracy")}
    mean["mel_recall"] = float(np.mean([s["per_class"]["mel"]["recall"] for s in scores]))
    return mean, chosen


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--archive", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fold", type=int, default=0,
                        help="the held-out fold whose network is measured, on that run's validation lesions "
                             "(its test fold is never read)")
    parser.add_argument("--model", type=Path, default=None,
                        help="a network trained with --holdout-fold FOLD (default: the committed one)")
    parser.add_argument("--views", type=int, choices=(2, 8), default=8,
                        help="2: only the image and its mirror (4x quicker; the 8-view rows are left out)")
    parser.add_argument("--each-member", action="store_true",
                        help="for an ensemble: every lever for each member network alone too (default: the shipped setting)")
    parser.add_argument("--tag", default="", help="appended to the report's name (-colour: levers-fold0-colour-...)")
    args = parser.parse_args()
    committed = committed_model(args.fold)
    model = args.model or committed
    if not model.is_file():
        parser.error(f"{model} is missing (train it with train_embedding.py --holdout-fold {args.fold} --no-test)")
    archive = open_archive(args.archive)
    meta = archive.metadata[archive.metadata["available"]]
    ids = meta["image_id"].astype(str).to_numpy()
    from dermview.archive.codes import dx_indices
    labels = dx_indices(meta["dx"].astype(str).to_numpy())
    groups = meta["lesion_id"].astype(str).to_numpy()
    fit, val, _test = splits(labels, groups, args.fold)  # the test fold is never read here
    extractor = learned.LearnedExtractor(model, threads=args.threads)
    if extractor.info.held_out_fold != args.fold:
        parser.error(f"{model.name} was trained without fold {extractor.info.held_out_fold}, not fold {args.fold}")
    views, colour, model_hash, embed_seconds = embedded(archive, np.concatenate([ids[fit], ids[val]]), extractor,
                                                        args.fold, args.views)
    colour_fit, colour_val = colour[: len(fit)], colour[len(fit):]
    fit_views, val_views = views[: len(fit)], views[len(fit):]
    y_fit, y_val = labels[fit], labels[val]
    results = []
    configs = [
        ("baseline (1 view, image votes, no melanoma weight)", (0,), (0,), False, False),
        ("melanoma weight", (0,), (0,), False, True),
        ("lesion votes", (0,), (0,), True, False),
        ("query 8 views", (0,), tuple(range(8)), False, False),
        ("query 2 views (mirror)", (0,), (0, 1), False, False),
        ("index + query 2 views", (0, 1), (0, 1), False, False),
        ("index + query 8 views", tuple(range(8)), tuple(range(8)), False, False),
        ("index + query 8 views, lesion votes", tuple(range(8)), tuple(range(8)), True, False),
        ("index + query 8 views, melanoma weight", tuple(range(8)), tuple(range(8)), False, True),
        ("index + query 8 views, lesion votes, melanoma weight", tuple(range(8)), tuple(range(8)), True, True),
        ("query 8 views, melanoma weight", (0,), tuple(range(8)), False, True),
    ]
    configs = [c + (0.0,) for c in configs if max(len(c[1]), len(c[2])) <= args.views]
    # The colour-texture features beside the embedding (dermview.model.learned.COLOUR_WEIGHT): their
    # kernel-LDA projection fitted on the index's images, scaled to length w against the embedding's 1.
    colour_weights = (0.25, 0.5, 0.75, 1.0)
    configs += [(f"colour-texture beside the embedding, weight {w:g}", (0,), (0,), False, False, w)
                for w in colour_weights]
    w = learned.COLOUR_WEIGHT
    configs += [(f"colour-texture w = {w:g}, index + query 2 views", (0, 1), (0, 1), False, False, w),
                (f"colour-texture w = {w:g}, lesion votes", (0,), (0,), True, False, w)]
    # An ensemble (train_embedding --merge-only): each member alone as well, from the same embeddings (its
    # 1280 columns), to tell the ensemble's gain from the spread between its members; with --each-member
    # every lever for each member (a panel of networks from different seeds), else the shipped setting.
    members = extractor.info.card.get("members", [])
    width = fit_views.shape[2] // max(len(members), 1)
    runs = [(config, None) for config in configs]  # (lever, member number or None for the whole embedding)
    if len(members) > 1:
        shipped = [c for c in configs if c[1:] == ((0,), (0,), False, False, w)]
        runs += [(config, m + 1) for m in range(len(members)) for config in (configs if args.each_member else shipped)]
    for rule in ("floor", "melanoma"):
        print(f"-- settings chosen by the {rule!r} rule", flush=True)
        for (name, index_views, query_views, lesion_votes, mel, colour_weight), member in runs:
            columns = slice(None) if member is None else slice((member - 1) * width, member * width)
            index_pts = pooled(fit_views[:, :, columns], index_views)
            query_pts = pooled(val_views[:, :, columns], query_views)
            if colour_weight:
                space = fit_combined(np.hstack([index_pts, colour_fit]), y_fit, passthrough=index_pts.shape[1],
                                     tail_weight=colour_weight)
                index_pts = space.transform(np.hstack([index_pts, colour_fit]))
                query_pts = space.transform(np.hstack([query_pts, colour_val]))
            mean, chosen = cross_fitted(y_fit, groups[fit], index_pts, query_pts, y_val, groups[val], lesion_votes,
                                        mel_weights=mel, rule=rule)
            row = {"lever": name, "rule": rule, "index_views": len(index_views), "query_views": len(query_views),
                   "lesion_votes": lesion_votes, "melanoma_weight": mel,
                   "colour_weight": colour_weight, "member": member,
                   "seed": None if member is None else members[member - 1].get("seed"), **mean, "chosen": chosen}
            results.append(row)
            label = name if member is None else f"member {member} (seed {row['seed']}): {name}"
            print(f"{label:<72} acc {mean['accuracy']:.3f}  bal {mean['balanced_accuracy']:.3f}  "
                  f"mel recall {mean['mel_recall']:.3f}  chosen {chosen}", flush=True)
    report = {"model": model.name, "model_sha256_16": model_hash, "held_out_fold": args.fold, "queries": "validation lesions of the fold's training "
              "folds (never trained on)", "n_index": int(len(fit)), "n_validation": int(len(val)),
              "selection": f"k, prior power and melanoma weight chosen on one half of the validation lesions, "
                           f"scored on the other, both ways, mean shown. Rules: 'floor' = best balanced accuracy "
                           f"with accuracy >= {ACCURACY_FLOOR}; 'melanoma' = the same among settings with melanoma "
                           f"recall >= {MEL_RECALL_TARGET} on the choosing half",
              "embed_seconds": embed_seconds, "views": args.views, "threads": args.threads, "results": results}
    out = (HELDOUT / f"levers-fold{args.fold}{args.tag}-validation.json" if model == committed
           else model.with_name(f"levers-{model.stem}{args.tag}-validation.json"))
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
