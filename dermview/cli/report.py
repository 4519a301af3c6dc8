"""``dermview report``: a PDF case report, one page per image (the only command that draws, through
dermview.render, offscreen)."""

from __future__ import annotations

import argparse
import sys

from .. import NOT_A_MEDICAL_DEVICE
from ..errors import DermviewError
from .common import EXIT_OK, EXIT_SOME_FAILED, add_common, add_features, add_search, check_k, gather, input_paths, open_session


def add_parser(sub) -> None:
    report = sub.add_parser("report", help="a PDF case report of images, one page each (Qt draws it offscreen)")
    add_common(report)
    add_features(report)
    report.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
    report.add_argument("--pdf", required=True, metavar="OUT", help="the PDF file to write (A4)")
    report.add_argument("--show-path", action="store_true",
                        help="print where each image was (its folder or zip), not only its file name: a folder's name "
                             "can hold a patient's")
    report.add_argument("--k", type=int, default=None, help="number of neighbours (default: the tuned value)")
    report.add_argument("--note", default="", help="a note printed on every page (e.g. a pseudonymous case id)")
    add_search(report)
    report.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    from ..clinic.report import report_page
    from ..clinic.worklist import WorkItem
    from ..outputs import check_output_path
    from ..render.report_pdf import write_pdf  # the only command that draws: Qt's painter, offscreen

    check_k(args)
    images, problems = gather(args.inputs)
    check_output_path(args.pdf, input_paths(args.inputs, images))
    session, _ = open_session(args)
    for name, message in problems:
        print(f"{name}: error: {message}", file=sys.stderr)
    pages = []
    failed = len(problems)
    for image in images:
        item = WorkItem(image.name, input=image, note=args.note)
        try:
            item.record(session.classify(image, k=args.k))
            pages.append(report_page(item, session, full_path=args.show_path))
        except DermviewError as exc:
            failed += 1
            print(f"{image.name}: error: {exc}", file=sys.stderr)
    if not pages:
        raise DermviewError("No image could be classified, so there is no report to write.")
    write_pdf(pages, args.pdf)
    print(f"Wrote {len(pages)} page{'s' if len(pages) != 1 else ''} to {args.pdf}")
    print(NOT_A_MEDICAL_DEVICE, file=sys.stderr)
    return EXIT_SOME_FAILED if failed else EXIT_OK
