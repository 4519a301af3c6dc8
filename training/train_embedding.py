"""Train dermview's learned embedding on HAM10000 and export it to ONNX.

    python -m training embedding --archive ../shared/data/ham10000 --holdout-fold 0
    python -m training embedding --archive ../shared/data/ham10000 --tuning-from <fold-0 report>

Recipe (CPU-only, 2 cores, one run well under 90 minutes):
  * EfficientNet-Lite0 from its ImageNet weights, input 256x256 (INPUT_SIZE) scaled as (x - 127) / 128.
  * The stem and blocks 0-7 stay frozen. Their activations are computed once, with onnxruntime, for
    a few augmented copies of every image (random crop, the 8 flips/rotations, mild colour jitter)
    and cached on disk; training then runs only blocks 8-15, the head and a 128-d embedding on them.
  * The embedding is L2-normalised and trained through a cosine classifier (scale 16), with
    square-root class-balanced sampling and square-root class weights in the cross-entropy (together
    a fully balanced objective without showing the 115 dermatofibromas a hundred times each).
  * AdamW, linear warm-up then cosine decay, a fixed number of steps, fixed seeds; a checkpoint every
    100 steps in the work folder, so the same command started again resumes an interrupted run.

With ``--holdout-fold F`` the lesions of fold F of StratifiedGroupKFold(5, shuffle=True,
random_state=0) grouped by lesion_id are never trained on; validation lesions carved out of the
remaining folds choose k and the vote correction; the report gives KNN accuracy, balanced accuracy
and per-class recall on fold F, next to the colour-texture model on the same split. Without it the
network is trained on every image and written to ``dermview/resources/models/`` with its model card.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

from dermview.archive import Archive
from dermview.archive.codes import DX_CODES, dx_indices  # noqa: F401  (DX_CODES: re-exported)
from dermview.errors import DermviewError
from dermview.model import learned

from .embedding_card import attach_held_out, evaluate_fold, rewrite_card, summary_lines, write_model_card
from .embedding_data import ARCHIVE_SOURCE, TrainingImages, cache_early_activations, splits
from .embedding_fit import train
from .embedding_network import (CUT, INPUT_SIZE, OUTER_FOLDS, OUTER_SEED, Architecture, export_member, export_version,
                                size_setting)

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("train_embedding")


# -- main ----------------------------------------------------------------------------------------

def input_size_argument(text: str) -> int | tuple[int, int]:
    """--input-size: "256" is a square, "320x240" a rectangle (width x height)."""
    try:
        sides = [int(side) for side in text.lower().split("x")]
        return size_setting(learned.input_shape(sides[0] if len(sides) == 1 else sides))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: give a side (256) or width x height (320x240)") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", required=True, type=Path)
    parser.add_argument("--holdout-fold", type=int, choices=range(OUTER_FOLDS), default=None,
                        help="train without this fold's lesions and report KNN metrics on them")
    parser.add_argument("--extra-source", type=Path, nargs="+", default=[], metavar="FOLDER",
                        help="labelled folders of other devices' dermoscopy (images/ and labels.csv with image and dx "
                             "or diagnosis) trained on beside the archive; never held out, searched or shown")
    parser.add_argument("--tuning-from", type=Path, nargs="+", default=None, metavar="REPORT",
                        help="held-out reports (JSON): the first one's chosen k and vote correction the shipped "
                             "model uses; all of them, one per fold, are quoted in its card")
    parser.add_argument("--out", type=Path, default=None,
                        help="where the model goes (default: dermview/resources/models/, or the work folder with --holdout-fold)")
    parser.add_argument("--work-dir", type=Path, default=None, help="cache and reports (default: per-user cache)")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cut", type=int, default=CUT,
                        help=f"blocks before this one stay frozen and cached (default {CUT}; fewer trains more of the network)")
    parser.add_argument("--input-size", type=input_size_argument, default=INPUT_SIZE, metavar="PIXELS",
                        help="the square (256) or rectangle (320x240: width x height) the images are squashed to "
                             "(the archive's are 200x150)")
    parser.add_argument("--grey-world", type=float, default=0.0, metavar="POWER",
                        help="take each image's colour cast out first (shades of grey with this power; 6 is usual)")
    parser.add_argument("--field-of-view", action="store_true",
                        help="crop every image to the dermatoscope's lit field first (dermview.model.field)")
    parser.add_argument("--device-augment", action="store_true",
                        help="the cached copies also imitate other dermatoscopes (colour cast, frame, vignetting, "
                             "blur, magnification)")
    parser.add_argument("--lesion-centred", action="store_true",
                        help="crop every image to a box around its lesion's outline first (the outline network)")
    parser.add_argument("--stop-after", type=int, default=None, metavar="STEP",
                        help="end this sitting after that step; the same command without it resumes the run")
    parser.add_argument("--limit", type=int, default=None, help="use only this many images (smoke tests)")
    parser.add_argument("--card-only", type=Path, metavar="ONNX", default=None,
                        help="no training: rewrite this model's sidecar and model card with --tuning-from")
    parser.add_argument("--external-report", type=Path, nargs="+", metavar="JSON", default=None,
                        help="with --card-only: the external check (dermview evaluate --external ... --json) to quote, "
                             "then the same check on other parts of the folder, tabled beside it")
    parser.add_argument("--trials", type=Path, metavar="JSON", default=None,
                        help="with --card-only: the table of what was tried ([{tried, validation, external, verdict}])")
    parser.add_argument("--evaluate-only", type=Path, metavar="ONNX", default=None,
                        help="no training: evaluate this held-out model on its fold (with --holdout-fold) and "
                             "rewrite its sidecar's k, vote correction and held-out report")
    parser.add_argument("--cache-only", action="store_true",
                        help="only compute the frozen blocks' activations (lets two runs share them)")
    parser.add_argument("--skip-classic", action="store_true", help="held-out report without the colour-texture model")
    parser.add_argument("--no-test", action="store_true",
                        help="with --holdout-fold: train and export only, never reading the held-out fold's scores; "
                             "evaluate it later, once, with --evaluate-only when every choice is fixed")
    args = parser.parse_args(argv)
    arch = Architecture("lite0", args.cut, args.input_size, args.grey_world, args.field_of_view, args.device_augment,
                        args.lesion_centred)
    if not 1 <= arch.cut < arch.blocks:
        parser.error(f"--cut must be between 1 and {arch.blocks - 1} for {arch.backbone}")

    if args.card_only:
        return rewrite_card(args.card_only, args.tuning_from, args.external_report, args.trials)
    if args.evaluate_only:
        # The network's own recipe, not the command line's defaults: the log names what is measured.
        arch = Architecture.of_card(json.loads(args.evaluate_only.with_suffix(".json").read_text(encoding="utf-8")))
    import torch
    from dermview.paths import user_dirs

    torch.set_num_threads(args.threads)
    work = args.work_dir or user_dirs().cache / "training"
    work.mkdir(parents=True, exist_ok=True)
    name = f"fold{args.holdout_fold}" if args.holdout_fold is not None else "all"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.StreamHandler(sys.stdout), logging.FileHandler(work / f"train-{name}.log")])
    started = time.perf_counter()
    archive = Archive.open(args.archive)
    meta = archive.metadata[archive.metadata["available"]].reset_index(drop=True)
    if args.limit:
        meta = meta.sample(n=min(args.limit, len(meta)), random_state=args.seed).reset_index(drop=True)
    ids = meta["image_id"].astype(str).to_numpy()
    labels = dx_indices(meta["dx"].astype(str).to_numpy())
    groups = meta["lesion_id"].astype(str).to_numpy()
    log.info("%d images, %d lesions; recipe %s; run %s", len(ids), len(set(groups)), arch.version, name)
    try:
        every = TrainingImages.gather(archive, meta, args.extra_source)
    except DermviewError as exc:
        parser.error(str(exc))
    for source, counts in every.counts().items():
        log.info("training source %s: %s", source, ", ".join(f"{dx} {n}" for dx, n in counts.items()))

    tr, va, te = splits(labels, groups, args.holdout_fold, len(every.keys) - len(ids))
    archive_tr = tr[tr < len(ids)]  # the reference images of the held-out evaluation: the archive's alone
    if args.evaluate_only:
        if args.holdout_fold is None:
            parser.error("--evaluate-only needs --holdout-fold")
        report = evaluate_fold(archive, ids, labels, archive_tr, va, te, args.evaluate_only, classic=not args.skip_classic)
        report["held_out_fold"] = args.holdout_fold
        for line in summary_lines(report):
            log.info("%s", line)
        (work / f"report-{name}.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
        sidecar_path = args.evaluate_only.with_suffix(".json")
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        sidecar.update(k=report["learned"]["k"], prior_power=report["learned"]["prior_power"],
                       held_out_metrics=report)
        sidecar_path.write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
        return 0
    acts = cache_early_activations(every.loader(learned.draft_size(arch.shape)), every.keys, args.copies, args.seed,
                                   work, args.threads, arch)
    if args.cache_only:
        return 0
    train_start = time.perf_counter()
    out_dir = args.out or (work if args.holdout_fold is not None else ROOT / "dermview" / "resources" / "models")
    stem = learned.MODEL_NAME if args.holdout_fold is None else f"{learned.MODEL_NAME}-{name}"
    model_path = out_dir / f"{stem}.onnx"
    # One checkpoint per run configuration: starting the same command again resumes it.
    key = [arch.version, name, len(ids), args.steps, args.batch, args.copies, args.seed, args.limit]
    if len(every.keys) > len(ids):
        key.append(every.counts())
    run_key = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:12]
    trained = train(acts, every.labels, tr, steps=args.steps, batch=args.batch, seed=args.seed,
                    checkpoint=work / f"checkpoint-{name}-{run_key}.pt", stop_after=args.stop_after, arch=arch,
                    sources=every.sources if len(every.keys) > len(ids) else None)
    if trained is None:  # --stop-after: this sitting is over, the checkpoint holds the run
        return 0
    late, Full = trained
    export_member(late, Full, model_path, arch)
    train_seconds = time.perf_counter() - train_start

    sidecar = {"version": export_version(arch), "input_size": arch.sidecar_size,
               "grey_world_power": arch.grey_world_power, "field_of_view": arch.field_of_view,
               "device_augment": arch.device_augment,
               "lesion_centred": arch.lesion_centred, "backbone": arch.backbone,
               "cut": arch.cut,
               "embedding_dim": 1280,
               "held_out_fold": args.holdout_fold,
               "held_out_split": {"folds": OUTER_FOLDS, "seed": OUTER_SEED, "grouped_by": "lesion_id",
                                  "fingerprint": learned.split_fingerprint(ids, groups, meta["dx"].astype(str))},
               "n_train_images": int(len(tr)),
               "training_sources": every.counts(),
               "trained_on": (f"all {len(ids)} available images" if args.holdout_fold is None else
                              f"all images except fold {args.holdout_fold}'s lesions and the validation lesions")
                             + (f", and {len(every.keys) - len(ids)} images of other devices "
                                f"({', '.join(s for s in every.counts() if s != ARCHIVE_SOURCE)})"
                                if len(every.keys) > len(ids) else ""),
               "steps": args.steps, "batch": args.batch, "loss": "ce", "copies": args.copies, "seed": args.seed,
               "threads": args.threads, "train_seconds": round(train_seconds), "k": 15, "prior_power": 0.5}
    # Written now as well as at the end: the evaluation below reads the input size from it.
    model_path.with_suffix(".json").write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
    if args.holdout_fold is not None and not args.no_test:
        report = evaluate_fold(archive, ids, labels, archive_tr, va, te, model_path, classic=not args.skip_classic)
        report["held_out_fold"] = args.holdout_fold
        for line in summary_lines(report):
            log.info("%s", line)
        sidecar["k"], sidecar["prior_power"] = report["learned"]["k"], report["learned"]["prior_power"]
        sidecar["held_out_metrics"] = report
        (work / f"report-{name}.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    elif args.tuning_from:
        attach_held_out(sidecar, args.tuning_from)
    model_path.with_suffix(".json").write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
    if args.holdout_fold is None:
        write_model_card(out_dir / "MODEL_CARD.md", sidecar)
    log.info("done in %.1f minutes", (time.perf_counter() - started) / 60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
