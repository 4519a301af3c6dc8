"""Issue "sharper neighbours": two probes on a panel of networks (each member of seed-pair ensembles made
with train_embedding --merge-only), on validation lesions only; no test fold is read.

1. ImageNet features beside the shipped space: EfficientNet-Lite0 with its ImageNet weights alone (never
   trained on the archive), its pooled features' kernel-LDA projection fitted on the index and appended
   at length w, as the colour-texture features are (another description that may make other mistakes).
   k and the vote correction are chosen on one half of the validation lesions and scored on the other
   (inference_levers.cross_fitted).
2. The frontier: every k x prior power x melanoma weight setting scored on *all* of a network's
   validation lesions, nothing held back for choosing (so optimistic): the best melanoma recall with
   accuracy >= 0.78 and balanced accuracy >= 0.70, i.e. whether any vote setting of that network could
   meet the issue's target. Of the shipped space, or with --every-frontier of every space probed.
3. A merged model (several members): each member alone, then all of them side by side with the
   colour-texture features beside them (the merged file's whole output, as dermview would search it).

    .venv/bin/python training/panel_probes.py --archive ../shared/data/ham10000 \\
        --model 0=W/ens/dermview-embedding-fold0.onnx --model 2=W/ens/dermview-embedding-fold2.onnx --tag=-seeds01

Writes training/heldout/probes<tag>-validation.json and prints one line per network and probe.
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import product
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))

from dermview.archive import open_archive  # noqa: E402
from dermview.archive.codes import dx_indices  # noqa: E402
from dermview.model import learned  # noqa: E402
from dermview.model.knn import K_CHOICES, PRIOR_POWER_CHOICES, class_prior, decide, nearest  # noqa: E402
from dermview.model.metrics import metrics  # noqa: E402
from dermview.model.projection import fit_combined  # noqa: E402
from inference_levers import (BALANCED_TARGET, HELDOUT, MEL_RECALL_TARGET, MEL_WEIGHTS, cross_fitted,  # noqa: E402
                              embedded, pooled, shares_for)
from train_embedding import ACCURACY_FLOOR, splits  # noqa: E402

IMAGENET_WEIGHTS = (0.25, 0.5, 0.75)
SHIPPED_SPACE = "shipped (embedding + colour-texture)"  # the row whose frontier the summary line quotes
# A merged model's members' embeddings side by side (as LearnedExtractor searches in the merged file's
# output), with the colour-texture features beside them as in the shipped space.
SIDE_BY_SIDE_SPACE = "members side by side (+ colour-texture)"


def imagenet_extractor(work: Path, threads: int) -> learned.LearnedExtractor:
    """Lite0 with its ImageNet weights and no training, exported like a trained network (float16 weights,
    pooled 1280 features), with a sidecar so that LearnedExtractor reads it."""
    import train_embedding as te

    path = work / "imagenet-lite0.onnx"
    if not path.is_file():
        arch = te.Architecture(input_size=learned.SIDECAR_DEFAULT_INPUT_SIZE)  # 192, as it was first measured
        _, late, _, Full = te.build_modules(arch)
        te.export_member(late.eval(), Full, path, arch)
        path.with_suffix(".json").write_text(json.dumps(
            {"version": arch.version + "+imagenet-only", "input_size": arch.sidecar_size,
             "embedding_dim": 1280, "held_out_fold": None, "k": 15, "prior_power": 0.5}), encoding="utf-8")
    return learned.LearnedExtractor(path, threads=threads)


def beside(head: np.ndarray, tail: np.ndarray, weight: float, y_fit: np.ndarray) -> np.ndarray:
    """(N, D) ``head`` with ``tail``'s kernel-LDA projection, fitted on the first len(y_fit) rows (the
    index), appended at length ``weight`` (what the learned similarity does with colour-texture)."""
    n = len(y_fit)
    space = fit_combined(np.hstack([head[:n], tail[:n]]), y_fit, passthrough=head.shape[1], tail_weight=weight)
    return space.transform(np.hstack([head, tail]))


def frontier(y_fit, idx, dist, y_val) -> dict:
    """The best melanoma recall over the vote settings that keep accuracy and balanced accuracy at target,
    scored on every validation image (optimistic)."""
    prior = class_prior(y_fit)
    best = None
    for k, power, w in product(K_CHOICES, PRIOR_POWER_CHOICES, MEL_WEIGHTS):
        m = metrics(y_val, decide(shares_for(y_fit, idx[:, :k], dist[:, :k], prior, power, w)))
        row = {"mel_recall": m["per_class"]["mel"]["recall"], "accuracy": m["accuracy"],
               "balanced_accuracy": m["balanced_accuracy"], "k": k, "prior_power": power, "mel_weight": w}
        at_target = m["accuracy"] >= ACCURACY_FLOOR and m["balanced_accuracy"] >= BALANCED_TARGET
        if at_target and (best is None or (row["mel_recall"], row["balanced_accuracy"])
                          > (best["mel_recall"], best["balanced_accuracy"])):
            best = row
    return best or {"mel_recall": None}


def archive_arrays(archive) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image ids, diagnosis indices, lesion ids), each (N,), of the archive's available images."""
    meta = archive.metadata[archive.metadata["available"]]
    return (meta["image_id"].astype(str).to_numpy(), dx_indices(meta["dx"].astype(str).to_numpy()),
            meta["lesion_id"].astype(str).to_numpy())


def panel_parser(model_help: str) -> argparse.ArgumentParser:
    """The arguments every panel script takes: --archive, --model FOLD=ONNX (repeated), --threads, --tag."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--archive", required=True)
    parser.add_argument("--model", action="append", required=True, metavar="FOLD=ONNX", help=model_help)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tag", default="", help="appended to the report's name")
    return parser


def panel(parser: argparse.ArgumentParser, specs: list[str], labels: np.ndarray, groups: np.ndarray, threads: int):
    """For each --model FOLD=ONNX: (fold, model path, index rows (its training images), validation rows,
    its extractor); refuses (parser.error) a network that was not trained without that fold. The test
    fold is never read."""
    for spec in specs:
        fold_text, _, path = spec.partition("=")
        fold, model = int(fold_text), Path(path)
        fit, val, _test = splits(labels, groups, fold)
        extractor = learned.LearnedExtractor(model, threads=threads)
        if extractor.info.held_out_fold != fold:
            parser.error(f"{model.name} was trained without fold {extractor.info.held_out_fold}, not fold {fold}")
        yield fold, model, fit, val, extractor


def _text(recall: float | None) -> str:
    return "none (no setting keeps both)" if recall is None else f"{recall:.3f}"


def main() -> int:
    parser = panel_parser("a seed ensemble trained without FOLD (repeat for each split)")
    parser.add_argument("--work-dir", type=Path, default=None, help="where the ImageNet-only network goes")
    parser.add_argument("--every-frontier", action="store_true",
                        help="the frontier of every space, not only the shipped one's")
    args = parser.parse_args()
    archive = open_archive(args.archive)
    ids, labels, groups = archive_arrays(archive)
    from dermview.paths import user_dirs

    work = args.work_dir or user_dirs().cache / "training"
    work.mkdir(parents=True, exist_ok=True)
    imagenet = imagenet_extractor(work, args.threads)
    rows = []
    for fold, _model, fit, val, extractor in panel(parser, args.model, labels, groups, args.threads):
        image_ids = np.concatenate([ids[fit], ids[val]])
        views, colour, _, _ = embedded(archive, image_ids, extractor, fold, 2)
        im_views, _, _, _ = embedded(archive, image_ids, imagenet, fold, 1)  # (cached per fold: the images differ)
        n = len(fit)
        y_fit, y_val = labels[fit], labels[val]
        im = pooled(im_views, (0,))
        members = extractor.info.card.get("members", [{"seed": extractor.info.card.get("seed")}])
        width = views.shape[2] // len(members)

        # Each member alone, then (a merged model) all of them side by side: the whole file's output.
        parts = [(number + 1, member.get("seed"), slice(number * width, (number + 1) * width))
                 for number, member in enumerate(members)]
        if len(members) > 1:
            parts.append(("all", "+".join(str(m.get("seed")) for m in members), slice(None)))
        for number, seed, columns in parts:
            embedding = pooled(views[:, :, columns], (0,))
            shipped = beside(embedding, colour, learned.COLOUR_WEIGHT, y_fit)
            if number == "all":
                spaces = [(SIDE_BY_SIDE_SPACE, shipped)]
            else:
                spaces = [(SHIPPED_SPACE, shipped)]
                spaces += [(f"shipped + ImageNet features, weight {w:g}", beside(shipped, im, w, y_fit))
                           for w in IMAGENET_WEIGHTS]
            for name, points in spaces:
                mean, chosen = cross_fitted(y_fit, groups[fit], points[:n], points[n:], y_val, groups[val], False,
                                            mel_weights=False)
                row = {"probe": "imagenet", "fold": fold, "member": number, "seed": seed,
                       "space": name, **mean, "chosen": chosen}
                if points is shipped or args.every_frontier:
                    idx, dist = nearest(points[:n], points[n:], max(K_CHOICES))
                    row["frontier"] = frontier(y_fit, idx, dist, y_val)
                if points is shipped:
                    # k and prior power (the vote the app has) chosen by the targets instead of
                    # the floor rule, cross-fitted like the rows themselves
                    targets, chosen_t = cross_fitted(y_fit, groups[fit], points[:n], points[n:], y_val, groups[val],
                                                     False, mel_weights=False, rule="targets")
                    row["targets_rule"] = {**targets, "chosen": chosen_t}
                rows.append(row)
                print(f"fold {fold} seed {row['seed']}: {name:<44} acc {mean['accuracy']:.3f}  "
                      f"bal {mean['balanced_accuracy']:.3f}  mel recall {mean['mel_recall']:.3f}"
                      + (f"  | frontier: mel recall {_text(row['frontier']['mel_recall'])}" if "frontier" in row else "")
                      + (f"  | chosen by the targets: "
                         f"acc {row['targets_rule']['accuracy']:.3f}  bal {row['targets_rule']['balanced_accuracy']:.3f}  "
                         f"mel recall {row['targets_rule']['mel_recall']:.3f}" if "targets_rule" in row else ""),
                      flush=True)
    print("-- mean over the panel's networks")
    for name in dict.fromkeys(r["space"] for r in rows):
        these = [r for r in rows if r["space"] == name]
        print(f"{name:<56} acc {np.mean([r['accuracy'] for r in these]):.3f}  "
              f"bal {np.mean([r['balanced_accuracy'] for r in these]):.3f}  "
              f"mel recall {np.mean([r['mel_recall'] for r in these]):.3f}  ({len(these)} networks)")
    reached = [r["frontier"]["mel_recall"] for r in rows if r["space"] == SHIPPED_SPACE]
    print(f"frontier (optimistic, all validation lesions): best melanoma recall at accuracy >= {ACCURACY_FLOOR} and "
          f"balanced accuracy >= {BALANCED_TARGET}: {', '.join(map(_text, reached))}; "
          f"target {MEL_RECALL_TARGET}")
    report = {"models": args.model, "queries": "validation lesions of each fold's training folds (never trained on)",
              "imagenet_model": imagenet.info.version, "results": rows}
    out = HELDOUT / f"probes{args.tag}-validation.json"
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
