"""Fit the image-kind classifier (dermoscopy, clinical photograph, other picture) on a model's embedding
and write it beside the model (``<model>.kinds.json``, dermview.model.familiarity.KindClassifier).

    python -m training familiarity --archive ../shared/data/ham10000 [--model ONNX]

Fitted on the *fit* parts only (training/corpora.py): 2,000 HAM10000 images of folds 1-4, the external
dermoscopy's development part, 1,000 images of ../other-sources (other devices), a tight crop of each of
the 2,000 archive images, and the fit parts of the clinical photographs and the other pictures
(each with a few random crops and flips, so that 30 photographs teach more than 30 points). The
threshold on P(dermoscopy) is chosen on out-of-fold probabilities of the fit parts (5 folds, an image and
its crops in one fold): the lowest that flags no more than DERMOSCOPY_BUDGET of each dermoscopy set.
benchmarks/bench_unfamiliar.py then measures the four rates on the parts this never saw.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from dermview.archive import open_archive
from dermview.archive.codes import dx_indices
from dermview.model.external import UNREAD, part_of
from dermview.model.familiarity import CLINICAL_PHOTO, DERMOSCOPY, IMAGE_KINDS, NOT_DERMOSCOPY, KindClassifier
from dermview.model.index import compute_features
from dermview.model.learned import LearnedExtractor, kinds_path
from dermview.model.tuning import held_out_split

from . import corpora

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE_SAMPLE = 2000
CROPS = {CLINICAL_PHOTO: 6, NOT_DERMOSCOPY: 3}  # augmented copies per fit image
# Out-of-fold, at most this share of each dermoscopy set (HAM10000, external) may be flagged.
DERMOSCOPY_BUDGET = {"ham10000": 0.01, "ham10000-crops": 0.03, "external": 0.03, "other-sources": 0.03}
OTHER_SOURCES_SAMPLE = 1000  # of ../other-sources, the embedding's extra training images
REGULARISATION = 0.05  # logistic regression's C on standardised features


def describe(extractor, images: list[Image.Image]) -> np.ndarray:
    """(N, F) descriptions of decoded images, as a query's (index.compute_features, the index build's own loop)."""
    return compute_features(lambda key: images[int(key)], [str(i) for i in range(len(images))], extractor)[0]


def embed(extractor: LearnedExtractor, images: list[Image.Image]) -> np.ndarray:
    """(N, D) network embeddings, as a query's: the leading columns of its description."""
    return describe(extractor, images)[:, :extractor.passthrough]


def crops(image: Image.Image, n: int, rng: np.random.Generator) -> list[Image.Image]:
    """``n`` random crops (50-100% of each side) of ``image``, half of them mirrored."""
    out = []
    w, h = image.size
    for _ in range(n):
        s = rng.uniform(0.5, 1.0)
        cw, ch = max(1, int(w * s)), max(1, int(h * s))
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        crop = image.crop((x0, y0, x0 + cw, y0 + ch))
        out.append(crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else crop)
    return out


def archive_parts(archive) -> tuple[np.ndarray, np.ndarray]:
    """(the seeded sample of folds 1-4 to fit on, fold 0's images) as image ids: split by lesion."""
    meta = archive.metadata[archive.metadata["available"]]
    ids = meta["image_id"].astype(str).to_numpy()
    train, test = held_out_split(dx_indices(meta["dx"].astype(str).to_numpy()), meta["lesion_id"].astype(str).to_numpy(),
                                 0, 5, 0)
    sample = np.sort(np.random.default_rng(0).choice(train, size=min(ARCHIVE_SAMPLE, len(train)), replace=False))
    return ids[sample], ids[test]


def fit_points(extractor, archive, shared: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(embeddings (N, D), kind indices (N,), group of each point (N,): an image and its crops share one,
    set name of each point (N,))."""
    rng = np.random.default_rng(0)
    fit_ids, _ = archive_parts(archive)
    archive_images = [archive.load_image(i, draft_size=extractor.draft_size) for i in fit_ids]
    blocks = [(embed(extractor, archive_images), DERMOSCOPY, [f"ham/{i}" for i in fit_ids], "ham10000")]
    # Dermoscopy is also cropped tight around the lesion (an atlas's square crops, a clinic's zoom): a crop of
    # each archive image, in the same group as its image, so that such framing does not read as "not dermoscopy".
    blocks.append((embed(extractor, [crops(image, 1, rng)[0] for image in archive_images]), DERMOSCOPY,
                   [f"ham/{i}" for i in fit_ids], "ham10000-crops"))
    external = [(name, path) for name, _, path in corpora.external_dermoscopy(shared) if part_of(name) != UNREAD]
    blocks.append((embed(extractor, [Image.open(p).convert("RGB") for _, p in external]), DERMOSCOPY,
                   [f"ext/{n}" for n, _ in external], "external"))
    # Other institutions' dermatoscopes (the embedding's extra training folder): ordinary dermoscopy, which
    # the warning must not call unfamiliar.
    others = sorted((shared / "other-sources" / "images").glob("*.jpg"))
    others = [others[i] for i in np.sort(rng.choice(len(others), size=min(OTHER_SOURCES_SAMPLE, len(others)),
                                                    replace=False))] if others else []
    if others:
        blocks.append((embed(extractor, [Image.open(p).convert("RGB") for p in others]), DERMOSCOPY,
                       [f"other/{p.stem}" for p in others], "other-sources"))
    for kind, images in ((CLINICAL_PHOTO, corpora.split(corpora.clinical(shared), corpora.FIT)),
                         (NOT_DERMOSCOPY, corpora.split(corpora.pictures(shared / "ham10000"), corpora.FIT))):
        names, pictures = [], []
        for name, image in images.items():
            for picture in [image, *crops(image, CROPS[kind], rng)]:
                names.append(name)
                pictures.append(picture)
        blocks.append((embed(extractor, pictures), kind, names, kind))
    x = np.vstack([b[0] for b in blocks])
    y = np.concatenate([np.full(len(b[0]), IMAGE_KINDS.index(b[1])) for b in blocks])
    groups = np.concatenate([np.array(b[2]) for b in blocks])
    sets = np.concatenate([np.full(len(b[0]), b[3]) for b in blocks])
    return x, y, groups, sets


def fit_classifier(x: np.ndarray, y: np.ndarray, version: str, threshold: float = 0.5) -> KindClassifier:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    lr = LogisticRegression(C=REGULARISATION, class_weight="balanced", max_iter=5000)
    lr.fit((x - mean) / scale, y)
    return KindClassifier(mean, scale, lr.coef_, lr.intercept_, threshold, version)


def choose_threshold(x, y, groups, sets, version: str) -> tuple[float, dict]:
    """The lowest threshold on P(dermoscopy) that keeps every dermoscopy set's out-of-fold flag rate within
    its budget, and the out-of-fold rates at it."""
    from sklearn.model_selection import GroupKFold

    p_derm = np.zeros(len(y))
    for train, test in GroupKFold(5).split(x, y, groups):
        p_derm[test] = fit_classifier(x[train], y[train], version).probabilities(x[test])[:, 0]
    # Flagged when P(dermoscopy) < threshold: a set's budget-quantile is the highest threshold it allows.
    threshold = min(float(np.quantile(p_derm[sets == name], budget)) for name, budget in DERMOSCOPY_BUDGET.items()
                    if (sets == name).any())
    rates = {name: float((p_derm[sets == name] < threshold).mean()) for name in np.unique(sets)}
    return threshold, rates


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", required=True, type=Path)
    parser.add_argument("--model", type=Path, default=None, help="the .onnx model (default: the shipped one)")
    args = parser.parse_args(argv)
    extractor = LearnedExtractor(args.model, threads=2)
    archive = open_archive(args.archive)
    shared = args.archive.resolve().parent
    x, y, groups, sets = fit_points(extractor, archive, shared)
    threshold, rates = choose_threshold(x, y, groups, sets, extractor.info.version)
    classifier = fit_classifier(x, y, extractor.info.version, threshold)
    path = kinds_path(extractor.info.path)
    path.write_text(json.dumps(classifier.to_json()), encoding="utf-8")
    print(f"fitted on {len(y)} points ({', '.join(f'{s} {int((sets == s).sum())}' for s in np.unique(sets))}); "
          f"threshold P(dermoscopy) < {threshold:.3f}; out-of-fold flag rates: "
          + ", ".join(f"{k} {v:.1%}" for k, v in rates.items()))
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
