"""``dermview evaluate``: lesion-grouped cross-validation, the learned model's held-out figures, an ISIC test
set, or another clinic's dermoscopy folder scored by source."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from .. import NOT_A_MEDICAL_DEVICE
from ..errors import DermviewError
from .common import EXIT_OK, TerminalProgress, add_common, add_features, open_session


def add_parser(sub) -> None:
    evaluate = sub.add_parser("evaluate", help="lesion-grouped cross-validation, or an external test set")
    add_common(evaluate)
    evaluate.add_argument("--folds", type=int, default=5, help="number of lesion-grouped folds (default 5)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the fold assignment (default 0)")
    evaluate.add_argument("--test-images", metavar="ZIP_OR_FOLDER",
                          help="external test images (e.g. ISIC2018_Task3_Test_Images.zip)")
    evaluate.add_argument("--ground-truth", metavar="CSV", help="one-hot ground truth (image,MEL,NV,BCC,AKIEC,BKL,DF,VASC)")
    evaluate.add_argument("--external", metavar="FOLDER",
                          help="dermoscopy from another clinic: FOLDER/images and FOLDER/labels.csv (image, diagnosis, "
                               "benign_malignant, label_source); scored by source with melanoma AUC and recall")
    evaluate.add_argument("--part", choices=("development", "unread", "all"), default="development",
                          help="with --external: which part of the folder (a fixed split by image name; the unread "
                               "part is for the one final measurement; default development)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    add_features(evaluate)
    evaluate.add_argument("--model", metavar="ONNX",
                          help="a learned model trained with a held-out fold (training/train_embedding.py "
                               "--holdout-fold): evaluate it on exactly the lesions it never saw; with --external, "
                               "evaluate it on that folder instead")
    evaluate.add_argument("--in-sample", action="store_true",
                          help="cross-validate the shipped learned features anyway; they were trained on "
                               "these images, so the numbers are optimistic and labelled so")
    evaluate.set_defaults(run=run_evaluate)


def print_report(report: dict, title: str) -> None:
    from ..archive import dx_label

    print(f"\n{title}")
    print(f"  accuracy          {report['accuracy']:.3f}")
    print(f"  balanced accuracy {report['balanced_accuracy']:.3f}  (mean per-class recall)")
    has_auc = any("roc_auc" in v for v in report["per_class"].values())
    print(f"\n  {'class':<45} {'n':>6} {'recall':>7} {'precision':>9}" + ("  ROC AUC" if has_auc else ""))
    for code, row in report["per_class"].items():
        auc = row.get("roc_auc")
        extra = (f"  {auc:7.3f}" if auc is not None else "        -") if has_auc else ""
        print(f"  {dx_label(code):<45} {row['n']:>6} {row['recall']:>7.3f} {row['precision']:>9.3f}{extra}")
    labels = report["confusion"]["labels"]
    print("\n  confusion (rows: truth, columns: prediction)")
    print("  " + " " * 7 + "".join(f"{c:>7}" for c in labels))
    for code, row in zip(labels, report["confusion"]["matrix"]):
        print(f"  {code:>7}" + "".join(f"{v:>7}" for v in row))
    for name, base in report.get("baselines", {}).items():
        print(f"  baseline {name:<16} accuracy {base['accuracy']:.3f}  balanced accuracy {base['balanced_accuracy']:.3f}")


def run_evaluate(args: argparse.Namespace) -> int:
    if bool(args.test_images) != bool(args.ground_truth):
        raise DermviewError("--test-images and --ground-truth go together.")
    if args.folds < 2:
        raise DermviewError("--folds must be at least 2.")
    from ..model.evaluate import evaluate_archive, evaluate_external

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.external:  # with --model, that network on the other clinic's images, the whole archive its index
        with model_file(args) if args.model else contextlib.nullcontext():
            return run_evaluate_external_folder(args)
    if args.model:
        return run_evaluate_held_out(args, log)
    if not args.test_images and not args.in_sample:
        from ..archive import open_archive
        from ..model.extractors import choose_features, get_extractor

        choice = choose_features(args.features)
        if get_extractor(choice.name).trained_on_archive:  # only the card's held-out numbers: no index needed
            open_archive(args.archive).close()  # still, a wrong archive path is an error
            if choice.note:
                print(f"dermview: note: {choice.note}", file=sys.stderr)
            return print_learned_held_out(args)
    session, _ = open_session(args)
    archive, index = session.archive, session.index
    trained_on_archive = session.extractor.trained_on_archive
    if args.test_images:
        report = evaluate_external(session, args.test_images, args.ground_truth, progress=TerminalProgress("Predicting"))
        title = f"External test set {args.test_images} ({report['n_predicted']:,} images predicted)"
    else:
        report = evaluate_archive(archive, index, folds=args.folds, seed=args.seed, log=log,
                                  progress=TerminalProgress("Raw pixels for the baseline"))
        title = (f"Lesion-grouped {args.folds}-fold cross-validation (seed {args.seed}); k and the prior "
                 "correction chosen inside each fold on its training folds")
        if trained_on_archive:
            report["in_sample"] = True
            title = ("IN-SAMPLE, OPTIMISTIC: the learned network was trained on every archive image, so these "
                     "folds are not held out from it (only the KNN index is). " + title)
    report["features"] = index.extractor
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report, title)
        if "shipped_defaults" in report and not trained_on_archive:  # the defaults are the colour-texture ones
            d = report["shipped_defaults"]
            print(f"\n  shipped defaults (k={d['k']}, prior power {d['prior_power']}) on the same folds: "
                  f"accuracy {d['accuracy']:.3f}, balanced accuracy {d['balanced_accuracy']:.3f}")
        print(f"\n{NOT_A_MEDICAL_DEVICE}")
    return EXIT_OK


def external_lines(report: dict) -> list[str]:
    """An external folder's figures, overall and by source, one line each."""
    def line(label: str, g: dict) -> str:
        def pct(x):
            return "-" if x is None else f"{x:.0%}"
        auc = "-" if g["melanoma_auc"] is None else f"{g['melanoma_auc']:.3f}"
        bal = "-" if g["balanced_accuracy"] is None else f"{g['balanced_accuracy']:.3f}"
        return (f"  {label:<42} {g['n']:>5} {g['n_melanoma']:>5} {auc:>9} {pct(g['melanoma_recall']):>10} "
                f"{pct(g['nevus_called_melanoma']):>10} {bal:>9} {g['unfamiliar']:>6}")
    head = (f"  {'source':<42} {'n':>5} {'mel':>5} {'mel AUC':>9} {'mel found':>10} {'nv -> mel':>10} "
            f"{'bal. acc':>9} {'unfam':>6}")
    return [head, line("all", report["overall"])] + [line(s, g) for s, g in report["by_source"].items()]


def usable_model(path: Path) -> Path:
    """``path``, when onnxruntime can run it here as a learned model; otherwise DermviewError saying why not."""
    from ..model.learned import availability

    reason = availability(path)
    if reason:
        raise DermviewError(f"cannot use {path}: {reason}")
    return path


@contextlib.contextmanager
def model_file(args: argparse.Namespace):
    """For the length of the block, the learned similarity is ``args.model`` (as DERMVIEW_EMBEDDING_MODEL
    would make it)."""
    from ..model.learned import ENV_MODEL

    usable_model(Path(args.model))
    before = os.environ.get(ENV_MODEL)
    os.environ[ENV_MODEL] = str(Path(args.model).resolve())
    args.features = "learned"
    try:
        yield
    finally:
        if before is None:
            del os.environ[ENV_MODEL]
        else:
            os.environ[ENV_MODEL] = before


def run_evaluate_external_folder(args: argparse.Namespace) -> int:
    from ..model.external import evaluate_external_folder, read_external

    images, _ = read_external(Path(args.external), args.part)  # a wrong folder fails before the index is opened
    if not images:
        raise DermviewError(f"{args.external} has no labelled images in its {args.part} part.")
    session, _ = open_session(args)
    report = evaluate_external_folder(session, Path(args.external), args.part, progress=TerminalProgress("Predicting"))
    if args.json:
        print(json.dumps(report))
        return EXIT_OK
    print(f"External dermoscopy {args.external}, {args.part} part ({report['overall']['n']:,} images; "
          f"{session.kind.label.lower()} similarity, k={session.predictor.vote.k}, prior power {session.predictor.vote.prior_power}):")
    for text in external_lines(report):
        print(text)
    print("  mel AUC: melanoma against every other labelled image, ranked by the vote's melanoma share; "
          "mel found: melanomas suggested as melanoma; nv -> mel: naevi suggested as melanoma")
    for problem in report["problems"][:10]:
        print(f"  note: {problem}")
    for name, why in list(report["failed"].items())[:10]:
        print(f"  failed: {name}: {why}")
    print(f"\n{NOT_A_MEDICAL_DEVICE}")
    return EXIT_OK


def print_learned_held_out(args: argparse.Namespace) -> int:
    """The shipped learned model has seen every archive image: quote its held-out numbers instead."""
    from ..model.learned import held_out_figures, model_info

    info = model_info()
    folds = info.held_out_folds
    together = held_out_figures(folds)  # what the window quotes
    if args.json:
        print(json.dumps({"features": "learned", "source": "model card (training runs)", "held_out": info.held_out,
                          "held_out_folds": list(folds), "together": together}))
        return EXIT_OK
    print(f"The learned model ({info.version}) was trained on {info.card.get('trained_on', 'the whole archive')}.")
    print("Cross-validating it on the archive would test it on images it was trained on, so dermview does not")
    print("present such numbers as held-out. What its training runs measured on lesions they never saw:")
    if together:
        print_report(together, f"learned features, {together['source']}")
        print("\n  fold by fold (accuracy / balanced accuracy / melanoma recall; k and prior power chosen on each "
              "run's validation lesions):")
        for report in folds:
            for name in ("learned", "classic"):
                if name in report:
                    r = report[name]
                    print(f"  fold {report['held_out_fold']} held out ({report['n_test']:,} images)  {name:<8} "
                          f"{r['accuracy']:.3f} / {r['balanced_accuracy']:.3f} / {r['per_class']['mel']['recall']:.2f}"
                          f"  (k={r['k']}, prior power {r['prior_power']})")
        if info.held_out:
            print(f"  the shipped model votes with fold {info.held_out['held_out_fold']}'s k={info.k} and prior "
                  f"power {info.prior_power}")
    else:
        print("  (this model file carries no held-out report)")
    print("\nTo measure it yourself: train with --holdout-fold (see docs/training.md) and run\n"
          "  dermview evaluate --archive ... --model <held-out model>.onnx\n"
          "or add --in-sample for in-sample numbers, labelled as such; --features classic for the CV of "
          "the colour-texture model.")
    print(f"\n{NOT_A_MEDICAL_DEVICE}")
    return EXIT_OK


def run_evaluate_held_out(args: argparse.Namespace, log) -> int:

    from ..archive import open_archive
    from ..model.evaluate import evaluate_learned_held_out, held_out_split_of
    from ..model.index import load_or_build_index
    from ..model.learned import model_info

    path = usable_model(Path(args.model))
    try:
        info = model_info(path)
    except (OSError, ValueError) as exc:
        raise DermviewError(f"cannot read {path}: {exc}") from exc
    if info.held_out_fold is None:
        raise DermviewError(f"{path.name} was trained on every archive image; it has no held-out lesions to "
                            "be evaluated on. Use a model trained with --holdout-fold.")
    archive = open_archive(args.archive)
    held = held_out_split_of(archive, info)  # a wrong archive is refused before any image is described
    classic = None if args.features == "learned" else load_or_build_index(
        archive, extractor_name="classic", progress=TerminalProgress("Indexing archive (colour-texture)"))
    report = evaluate_learned_held_out(archive, path, held=held, classic_index=classic,
                                       progress=TerminalProgress("Learned features"), log=log)
    if args.json:
        print(json.dumps(report))
        return EXIT_OK
    for name in ("learned", "classic"):
        if name in report:
            print_report(report[name], f"{name} features on held-out fold {report['held_out_fold']} "
                                       f"({report['n_test']:,} images of lesions the network never saw; "
                                       f"k={report[name]['k']}, prior power {report[name]['prior_power']})")
    print(f"\n  always answering the majority class: accuracy {report['majority_accuracy']:.3f}")
    print(f"\n{NOT_A_MEDICAL_DEVICE}")
    return EXIT_OK
