"""The command line: ``dermview info | index | evaluate | predict``. Qt-free.

Every expected failure (a bad archive, an unreadable image) prints one line and exits with status 2;
a batch of predictions exits 1 if any image failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from collections.abc import Callable, Sequence

from . import NOT_A_MEDICAL_DEVICE, __version__
from .errors import DermviewError
from .paths import set_cache_dir

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(func):
        COMMANDS[name] = func
        return func
    return register


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", required=True, metavar="PATH",
                        help="folder holding HAM10000_metadata and the images (zips or folders)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="where dermview keeps its cache, settings and logs (default: per-user folders; "
                             "also DERMVIEW_CACHE_DIR)")


def add_features(parser: argparse.ArgumentParser) -> None:
    from .model.extractors import AUTO, feature_choices, kinds

    described = "; ".join(f"{k.name}: {k.description}" for k in kinds())
    parser.add_argument("--features", choices=feature_choices(), default=AUTO,
                        help=f"what 'similar' means ({described}); {AUTO} (default): the first of "
                             f"{', '.join(k.name for k in kinds())} that can be used here")


LIBRARY_HELP = ("an SQLite file (sqlite:///PATH) or a practice's PostgreSQL database (postgresql://user@host/db); "
                "default: DERMVIEW_LIBRARY, else library.sqlite in the per-user data folder")


def add_search(parser: argparse.ArgumentParser) -> None:
    from .model.predictor import DEFAULT_SEARCH, SearchIn

    parser.add_argument("--neighbours", choices=[s.value for s in SearchIn], default=DEFAULT_SEARCH.value,
                        help="whose images may be neighbours: the archive, your case library's confirmed cases "
                             f"(own), or both (default {DEFAULT_SEARCH.value}; without a library, the archive)")
    parser.add_argument("--library", metavar="URL", help=f"the case library to search: {LIBRARY_HELP}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dermview",
        description="Browse HAM10000 and classify dermatoscopic images by their nearest neighbours. "
                    + NOT_A_MEDICAL_DEVICE,
        epilog="Without a command, dermview starts the window (see 'dermview --help-gui').")
    parser.add_argument("--version", action="version", version=f"dermview {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="describe an archive: images, lesions, counts by diagnosis")
    add_common(info)
    info.add_argument("--json", action="store_true", help="print one JSON object")

    add_model_parsers(sub)
    add_library_parsers(sub)
    return parser


def add_library_location(parser: argparse.ArgumentParser, default=None) -> None:
    parser.add_argument("--library", metavar="URL", help=LIBRARY_HELP, default=default)
    parser.add_argument("--cache-dir", metavar="DIR", help="where dermview keeps everything it writes", default=default)


def add_library_parsers(sub) -> None:
    library = sub.add_parser("library", help="your own confirmed cases: add, confirm, list, export, import, delete")
    add_library_location(library)
    actions = library.add_subparsers(dest="action", required=True)

    def action(name: str, **kwargs) -> argparse.ArgumentParser:
        # --library and --cache-dir mean the same after the action as before it (users put options last);
        # SUPPRESS: an action that does not repeat them keeps what was given before it.
        parser = actions.add_parser(name, **kwargs)
        add_library_location(parser, default=argparse.SUPPRESS)
        return parser

    add = action("add", help="store an image as a new case (awaiting confirmation)")
    add.add_argument("image", metavar="IMAGE")
    add.add_argument("--case-id", required=True, help="your pseudonymous label for the case (no patient name)")
    add.add_argument("--site", help="body site")
    add.add_argument("--age", type=int, help="age in years")
    add.add_argument("--sex", choices=("male", "female", "other", "unknown"))
    add.add_argument("--note", default="")
    add.add_argument("--archive", metavar="PATH", help="also record what dermview suggests for it now (and store "
                     "its features, so that it is searchable the moment it is confirmed)")
    add_features(add)
    confirm = action("confirm", help="record how a case was confirmed")
    confirm.add_argument("case_id", metavar="ID")
    confirm.add_argument("--diagnosis", required=True, help="akiec, bcc, bkl, df, mel, nv, vasc or other")
    confirm.add_argument("--other", help="the diagnosis in words, when it is 'other'")
    confirm.add_argument("--dx-type", required=True, help="histo, follow_up, consensus or confocal")
    confirm.add_argument("--by", help="who recorded it")
    listing = action("list", help="the cases, oldest first, with the awaiting-confirmation count")
    listing.add_argument("--json", action="store_true", help="one JSON object per case, one per line")
    listing.add_argument("--status", choices=("awaiting", "confirmed"))
    export = action("export", help="every case and image as a zip (for backup or another machine)")
    export.add_argument("output", metavar="OUT.zip")
    imported = action("import", help="cases from an export zip, in one transaction")
    imported.add_argument("input", metavar="IN.zip")
    delete = action("delete", help="remove a case (and its image, if no other case uses it)")
    delete.add_argument("case_id", metavar="ID")
    delete.add_argument("--yes", action="store_true", help="really delete (nothing is deleted without it)")


def add_model_parsers(sub) -> None:
    index = sub.add_parser("index", help="build or refresh the feature index of an archive (cached per user)")
    add_common(index)
    index.add_argument("--rebuild", action="store_true", help="rebuild even if the cache is current")
    add_features(index)

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
                               "--holdout-fold): evaluate it on exactly the lesions it never saw")
    evaluate.add_argument("--in-sample", action="store_true",
                          help="cross-validate the shipped learned features anyway; they were trained on "
                               "these images, so the numbers are optimistic and labelled so")

    predict = sub.add_parser("predict", help="classify images, folders (recursively) or zip files of images")
    add_common(predict)
    predict.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
    predict.add_argument("--k", type=int, default=None, help="number of neighbours (default: the tuned value)")
    predict.add_argument("--json", action="store_true", help="one JSON object per image, one per line")
    predict.add_argument("--isic-csv", metavar="OUT", help="also write an ISIC 2018 Task 3 submission CSV")
    add_search(predict)
    report = sub.add_parser("report", help="a PDF case report of images, one page each (Qt draws it offscreen)")
    add_common(report)
    add_features(report)
    report.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
    report.add_argument("--pdf", required=True, metavar="OUT", help="the PDF file to write (A4)")
    report.add_argument("--k", type=int, default=None, help="number of neighbours (default: the tuned value)")
    report.add_argument("--note", default="", help="a note printed on every page (e.g. a pseudonymous case id)")
    add_search(report)

    predict.add_argument("--csv", metavar="OUT", help="also write the worklist export (the window's File > Export "
                         "Worklist): per image its SHA-256, suggestion, vote shares, flags and neighbours")
    add_features(predict)


class TerminalProgress:
    """A progress bar on stderr; one line per 10% when stderr is not a terminal (CI logs)."""

    def __init__(self, label: str):
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        if self.tty:
            bar = "#" * int(fraction * 30)
            sys.stderr.write(f"\r{self.label} [{bar:<30}] {fraction:4.0%} ({done:,}/{total:,})")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()
        elif int(fraction * 10) != self.last_decile:
            self.last_decile = int(fraction * 10)
            print(f"{self.label}: {fraction:.0%} ({done:,}/{total:,})", file=sys.stderr, flush=True)


def open_session(args: argparse.Namespace, rebuild: bool = False, features: str | None = None):
    """The archive and its model session, as every model command needs them; (session, seconds)."""
    from .archive import open_archive
    from .model.session import ModelSession

    archive = open_archive(args.archive)
    start = time.perf_counter()
    session = ModelSession.open(archive, str(features or getattr(args, "features", "auto")), rebuild=rebuild,
                                progress=TerminalProgress("Indexing archive"))
    if session.note:
        print(f"dermview: note: {session.note}", file=sys.stderr)
    if hasattr(args, "neighbours"):
        search_own_cases(session, args)
    return session, time.perf_counter() - start


def search_own_cases(session, args: argparse.Namespace) -> None:
    """Add the case library's confirmed cases to the search, per --neighbours. An unreachable library is a
    note when the archive is searched too, and an error when only own cases were asked for."""
    from .library.search import search_library
    from .library.store import CaseLibrary, library_exists, library_url, shown_url
    from .model.predictor import SearchIn

    session.search = SearchIn(args.neighbours)
    if not session.search.own:
        return
    url = library_url(args.library)
    try:
        if not library_exists(url):
            raise DermviewError(f"There is no case library at {shown_url(url)} yet.")
        own = search_library(session, CaseLibrary(url))
    except DermviewError as exc:
        if not session.search.archive:
            raise
        session.search = SearchIn.ARCHIVE
        if args.library or os.environ.get("DERMVIEW_LIBRARY"):  # asked for by name: say why it is not searched
            print(f"dermview: note: {exc} Searching the archive only.", file=sys.stderr)
        return
    for case_id, why in own.unreadable.items():
        print(f"dermview: note: library case {case_id} is not searched: {why}", file=sys.stderr)


@command("index")
def run_index(args: argparse.Namespace) -> int:
    from .model.index import cache_file

    session, seconds = open_session(args, rebuild=args.rebuild)
    index = session.index
    print(f"Index of {len(index.image_ids):,} images ({index.extractor} features) ready in {seconds:.1f} s "
          f"({index.nbytes / 1e6:.1f} MB): {cache_file(session.archive, session.extractor)}")
    for message in list(index.failed.values())[:10]:
        print(f"  not indexed: {message}")
    if len(index.failed) > 10:
        print(f"  ... and {len(index.failed) - 10} more images could not be read")
    return EXIT_OK


@command("info")
def run_info(args: argparse.Namespace) -> int:
    from .archive import dx_label, dx_type_label, open_archive

    with open_archive(args.archive) as archive:
        summary = archive.summary()
    if args.json:
        print(json.dumps(summary))
        return EXIT_OK
    print(f"Archive:   {summary['archive']}")
    print(f"Metadata:  {summary['metadata']}")
    print(f"Images in: {summary['layout']}")
    print(f"{summary['images']:,} images of {summary['lesions']:,} lesions; "
          f"{summary['missing_images']:,} missing; {summary['unlisted_files']:,} unlisted files ignored")
    for title, key, label in (("Diagnosis", "by_dx", dx_label), ("Confirmed by", "by_dx_type", dx_type_label),
                              ("Sex", "by_sex", str), ("Dataset", "by_dataset", str),
                              ("Body site", "by_localization", str)):
        print(f"\n{title}:")
        for code, n in summary[key].items():
            print(f"  {label(code):<45} {n:>6,}")
    for note in summary["notes"]:
        print(f"Note: {note}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .model.threads import use_one_blas_thread

    use_one_blas_thread()
    if getattr(args, "cache_dir", None):
        set_cache_dir(args.cache_dir)
    try:
        return COMMANDS[args.command](args)
    except DermviewError as exc:
        print(f"dermview: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. piped into `head`
        return EXIT_OK
    except KeyboardInterrupt:
        print("dermview: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("dermview: error: not enough memory for this task.", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bug: one line for the user, the traceback only when asked for
        if os.environ.get("DERMVIEW_DEBUG"):
            raise
        from .library.urls import redacted

        detail = redacted(str(exc).splitlines()[0] if str(exc) else "")[:300]  # never a statement's parameters
        print(f"dermview: internal error: {type(exc).__name__}: {detail}. This is a bug in dermview; "
              "run again with DERMVIEW_DEBUG=1 for the details and report them.", file=sys.stderr)
        return EXIT_INTERNAL


def check_k(args: argparse.Namespace) -> None:
    if args.k is not None and args.k < 1:
        raise DermviewError("--k must be at least 1.")


# -- predict ------------------------------------------------------------------------------------

def format_prediction(name: str, outcome) -> str:
    from .archive import dx_label
    from .model.explain import archive_image_sentence

    prediction = outcome.prediction
    votes = ", ".join(f"{code} {share:.0%}" for code, share in
                      sorted(prediction.votes.items(), key=lambda kv: -kv[1]) if share >= 0.005)
    nearest = prediction.neighbours[0] if prediction.neighbours else None
    if outcome.unfamiliar:  # muted: its neighbours are not evidence of a diagnosis
        from .model.familiarity import muted_headline

        return f"{name}: {muted_headline(outcome.unfamiliar_kind).upper()} - {outcome.unfamiliar}"
    line = f"{name}: {dx_label(prediction.prediction)} - votes {votes}"
    if nearest:
        line += f"; nearest {nearest.image_id} ({nearest.dx}, {nearest.dx_type}, distance {nearest.distance:.2f})"
    where = archive_image_sentence(outcome)
    return f"{line} ({where[:-1]})" if where else line


@command("predict")
def run_predict(args: argparse.Namespace) -> int:
    from .archive.inputs import gather_inputs
    from .archive.isic import write_submission
    from .clinic.worklist import WorkItem, write_csv
    from .outputs import check_output_path

    check_k(args)
    for output in (args.isic_csv, args.csv):
        if output:
            check_output_path(output)  # before the work, not after it
    images, problems = gather_inputs(args.inputs)
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


@command("report")
def run_report(args: argparse.Namespace) -> int:
    from .archive.inputs import gather_inputs
    from .clinic.report import report_page
    from .clinic.worklist import WorkItem
    from .outputs import check_output_path
    from .render.report_pdf import write_pdf  # the only command that draws: Qt's painter, offscreen

    check_k(args)
    check_output_path(args.pdf)
    images, problems = gather_inputs(args.inputs)
    session, _ = open_session(args)
    for name, message in problems:
        print(f"{name}: error: {message}", file=sys.stderr)
    pages = []
    failed = len(problems)
    for image in images:
        item = WorkItem(image.name, input=image, note=args.note)
        try:
            item.record(session.classify(image, k=args.k))
            pages.append(report_page(item, session))
        except DermviewError as exc:
            failed += 1
            print(f"{image.name}: error: {exc}", file=sys.stderr)
    if not pages:
        raise DermviewError("No image could be classified, so there is no report to write.")
    write_pdf(pages, args.pdf)
    print(f"Wrote {len(pages)} page{'s' if len(pages) != 1 else ''} to {args.pdf}")
    print(NOT_A_MEDICAL_DEVICE, file=sys.stderr)
    return EXIT_SOME_FAILED if failed else EXIT_OK


@command("library")
def run_library(args: argparse.Namespace) -> int:
    from .archive.codes import DX_CODES
    from .archive.inputs import gather_inputs
    from .library.store import CaseLibrary
    from .outputs import check_output_path

    if args.action == "export":
        check_output_path(args.output)
    library = CaseLibrary(args.library)
    try:
        if args.action == "add":
            images, problems = gather_inputs([args.image])
            if problems or len(images) != 1:
                raise DermviewError(problems[0][1] if problems else f"{args.image}: give one image file.")
            image = images[0]
            data = image.read()  # once: what is stored is what was classified
            features = None
            if args.archive:
                session = open_session(args)[0]
                outcome = session.classify(image, data=data)
                features = (outcome.vector_key, outcome.vector)  # searchable as soon as confirmed
            else:
                outcome = None
            case = library.add_case(data, args.case_id, file_name=image.file_name, body_site=args.site,
                                    age=args.age, sex=args.sex, note=args.note, outcome=outcome, features=features)
            print(f"Added case {case.case_id} (image {case.sha256[:12]}...), awaiting confirmation"
                  + (f"; dermview suggested {case.suggestion}" if case.suggestion else "") + ".")
        elif args.action == "confirm":
            case = library.confirm(args.case_id, args.diagnosis, args.dx_type, by=args.by, other=args.other)
            print(f"Case {case.case_id}: {case.outcome_text}"
                  + ("; it now votes among the neighbours." if case.confirmed_dx in DX_CODES else
                     "; a diagnosis outside the seven is kept but never votes."))
        elif args.action == "list":
            cases = library.cases_list(args.status)
            for case in cases:
                if args.json:
                    print(json.dumps(case.to_json()))
                else:
                    print(f"{case.case_id}\t{case.created_at[:10]}\t{case.outcome_text}\t"
                          f"suggested: {case.suggestion or '-'}")
            if not args.json:
                counts = library.counts()
                print(f"{counts['cases']} cases, {counts['awaiting']} awaiting confirmation.", file=sys.stderr)
        elif args.action == "export":
            count = library.export_zip(args.output)
            print(f"Exported {count} cases to {args.output}.")
        elif args.action == "import":
            added, present = library.import_zip(args.input)
            print(f"Imported {added} cases ({present} were already in the library).")
        elif args.action == "delete":
            if not args.yes:
                raise DermviewError(f"Deleting case {args.case_id} cannot be undone; add --yes to delete it.")
            library.delete_case(args.case_id)
            print(f"Deleted case {args.case_id}.")
    finally:
        library.close()
    return EXIT_OK


# -- evaluate -----------------------------------------------------------------------------------

def print_report(report: dict, title: str) -> None:
    from .archive import dx_label

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


@command("evaluate")
def run_evaluate(args: argparse.Namespace) -> int:
    if bool(args.test_images) != bool(args.ground_truth):
        raise DermviewError("--test-images and --ground-truth go together.")
    if args.folds < 2:
        raise DermviewError("--folds must be at least 2.")
    from .model.evaluate import evaluate_archive, evaluate_external

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.model:
        return run_evaluate_held_out(args, log)
    if args.external:
        return run_evaluate_external_folder(args)
    if not args.test_images and not args.in_sample:
        from .archive import open_archive
        from .model.extractors import choose_features, get_extractor

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


def run_evaluate_external_folder(args: argparse.Namespace) -> int:
    from .model.external import evaluate_external_folder

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
    from .model.learned import held_out_figures, model_info

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
    print("\nTo measure it yourself: train with --holdout-fold (see the README) and run\n"
          "  dermview evaluate --archive ... --model <held-out model>.onnx\n"
          "or add --in-sample for in-sample numbers, labelled as such; --features classic for the CV of "
          "the colour-texture model.")
    print(f"\n{NOT_A_MEDICAL_DEVICE}")
    return EXIT_OK


def run_evaluate_held_out(args: argparse.Namespace, log) -> int:

    from .archive import open_archive
    from .model.evaluate import evaluate_learned_held_out, held_out_split_of
    from .model.index import load_or_build_index
    from .model.learned import availability, model_info

    path = Path(args.model)
    reason = availability(path)
    if reason:
        raise DermviewError(f"cannot use {path}: {reason}")
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
