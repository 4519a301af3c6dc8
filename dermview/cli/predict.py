"""``dermview predict``: suggestions for images, folders and zips, as lines, JSON, an ISIC CSV or the worklist export."""

from __future__ import annotations

import argparse
import json
import sys

from .. import NOT_A_MEDICAL_DEVICE
from ..errors import DermviewError
from .common import EXIT_OK, EXIT_SOME_FAILED, add_common, add_features, add_search, check_k, gather, input_paths, open_session


def add_parser(sub) -> None:
    predict = sub.add_parser("predict", help="classify images, folders (recursively) or zip files of images")
    add_common(predict)
    predict.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
    predict.add_argument("--k", type=int, default=None, help="number of neighbours (default: the tuned value)")
    predict.add_argument("--json", action="store_true", help="one JSON object per image, one per line")
    predict.add_argument("--isic-csv", metavar="OUT", help="also write an ISIC 2018 Task 3 submission CSV")
    add_search(predict)
    predict.add_argument("--csv", metavar="OUT", help="also write the worklist export (the window's File > Export "
                         "Worklist): per image its SHA-256, suggestion, vote shares, flags and neighbours")
    add_features(predict)
    predict.set_defaults(run=run_predict)


def format_prediction(name: str, outcome) -> str:
    from ..archive import dx_label
    from ..model.explain import archive_image_sentence

    prediction = outcome.prediction
    votes = ", ".join(f"{code} {share:.0%}" for code, share in
                      sorted(prediction.votes.items(), key=lambda kv: -kv[1]) if share >= 0.005)
    nearest = prediction.neighbours[0] if prediction.neighbours else None
    if outcome.muted:  # its neighbours are not evidence of a diagnosis
        from ..model.familiarity import muted_headline

        return f"{name}: {muted_headline(outcome.unfamiliar_kind).upper()} - {outcome.unfamiliar}"
    line = f"{name}: {dx_label(prediction.prediction)} - votes {votes}"
    if nearest:
        which = f"your case {nearest.case_id}" if nearest.case_id is not None else nearest.image_id
        line += f"; nearest {which} ({nearest.dx}, {nearest.dx_type}, distance {nearest.distance:.2f})"
    if outcome.device_note:  # dermoscopy that looks taken otherwise than the archive's: say so on the line
        from ..model.field import DEVICE_CARE

        line += f" [{DEVICE_CARE.lower()}]"
    if outcome.nothing_close:  # even the nearest lesion is far: the vote is weak evidence
        from ..model.explain import NOTHING_CLOSE_CARE

        line += f" [{NOTHING_CLOSE_CARE.lower()}]"
    if outcome.downscaled_from:
        line += " [read at a reduced size: {}x{} pixels]".format(*outcome.downscaled_from)
    where = archive_image_sentence(outcome)
    return f"{line} ({where[:-1]})" if where else line


def run_predict(args: argparse.Namespace) -> int:
    from ..archive.isic import write_submission
    from ..clinic.worklist import WorkItem, write_csv
    from ..outputs import check_output_path

    check_k(args)
    images, problems = gather(args.inputs)
    for output in (args.isic_csv, args.csv):
        if output:  # before the work, not after it; never over an input
            check_output_path(output, input_paths(args.inputs, images))
    session, _ = open_session(args)
    failed = 0
    rows: list[tuple[str, dict[str, float]]] = []
    worklist: list[WorkItem] = []

    def report_error(name: str, message: str) -> None:
        nonlocal failed
        failed += 1
        worklist.append(WorkItem(name))
        worklist[-1].fail(message)
        if args.json:
            print(json.dumps({"image": name, "error": message}), flush=True)
        else:
            print(f"{name}: error: {message}", flush=True)

    for name, message in problems:
        report_error(name, message)
    for item in images:
        try:
            outcome = session.classify(item, k=args.k)
        except DermviewError as exc:  # this image only; the others are still classified
            report_error(item.name, str(exc))
            continue
        except MemoryError:
            report_error(item.name, "not enough memory to classify this image.")
            continue
        rows.append((item.stem, outcome.prediction.scores))
        worklist.append(WorkItem(item.name, input=item))
        worklist[-1].record(outcome)
        if args.json:
            print(json.dumps({"image": item.name, **outcome.to_json()}), flush=True)
        else:
            print(format_prediction(item.name, outcome), flush=True)
    if args.isic_csv:
        write_submission(args.isic_csv, rows)
    if args.csv:
        write_csv(worklist, args.csv)
    if not args.json:
        print(NOT_A_MEDICAL_DEVICE, file=sys.stderr)
    return EXIT_SOME_FAILED if failed else EXIT_OK
