"""``dermview compare EARLIER LATER``: one lesion at two visits, the later image aligned onto the earlier one,
and what changed (dermview.model.followup)."""

from __future__ import annotations

import argparse
import json

from ..errors import DermviewError
from .common import EXIT_OK


def add_parser(sub) -> None:
    compare = sub.add_parser("compare", help="one lesion at two visits: align the later image onto the earlier one "
                             "and say what changed (area, largest diameter, asymmetry, border, colours)")
    compare.add_argument("earlier", metavar="EARLIER", help="the earlier visit's image")
    compare.add_argument("later", metavar="LATER", help="the later visit's image")
    compare.add_argument("--days", type=int, default=None, metavar="N", help="days between the two visits")
    compare.add_argument("--json", action="store_true", help="one JSON object")
    compare.add_argument("--pdf", metavar="OUT.pdf", default=None,
                         help="also write the follow-up page: both images aligned, both outlines, what changed")
    compare.set_defaults(run=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..archive import load_image_file
    from ..model.followup import follow_up

    if args.days is not None and args.days < 0:
        raise DermviewError(f"--days {args.days} is negative: give the days from the earlier visit to the later one.")
    if args.pdf:
        from ..outputs import check_output_path

        check_output_path(args.pdf, (args.earlier, args.later))  # before the work: an output never replaces an input
    earlier, later = (load_image_file(Path(path)) for path in (args.earlier, args.later))
    change, before, after = follow_up(earlier, later, args.days)
    if args.pdf:
        from ..clinic.report import FollowUpPage
        from ..render.report_pdf import write_followup_pdf

        write_followup_pdf(FollowUpPage(Path(args.earlier).name, Path(args.later).name, before, after,
                                        change.sentences()), args.pdf)
    if args.json:
        print(json.dumps({"earlier": args.earlier, "later": args.later, **change.to_json()}))
        return EXIT_OK
    print("\n".join(change.sentences()))
    print("A research and teaching aid, not a diagnostic device.")
    return EXIT_OK
