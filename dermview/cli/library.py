"""``dermview library``: the practice's own confirmed cases (add, confirm, list, export, import, delete)."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import DermviewError
from .common import EXIT_OK, add_features, add_library_location, open_session


def add_parser(sub) -> None:
    library = sub.add_parser("library", help="your own confirmed cases: add, confirm, list, export, import, delete")
    add_library_location(library)
    library.set_defaults(run=run_library)
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


def run_library(args: argparse.Namespace) -> int:
    from ..library.store import CaseLibrary, library_exists, library_url, shown_url
    from ..outputs import check_output_path

    if args.action == "export":
        from ..library.urls import sqlite_path

        own_file = sqlite_path(library_url(args.library))  # the library's own file is an input too
        check_output_path(args.output, [own_file] if own_file else [])  # before the library is opened
    url = library_url(args.library)
    new = not library_exists(url)
    if new and args.action not in CREATING:  # a mistyped path must not look like an empty library
        raise DermviewError(f"There is no case library at {shown_url(url)}; nothing was created. Check the path, or "
                            "start one with: dermview library add.")
    library = CaseLibrary(args.library)
    if new:
        print(f"Created a new case library at {shown_url(url)}.", file=sys.stderr)
    try:
        ACTIONS[args.action](library, args)
    finally:
        library.close()
    return EXIT_OK


def add_case(library, args: argparse.Namespace) -> None:
    from ..archive.inputs import gather_inputs

    images, problems = gather_inputs([args.image])
    if problems or len(images) != 1:
        raise DermviewError(problems[0][1] if problems else f"{args.image}: give one image file.")
    image = images[0]
    data = image.read()  # once: what is stored is what was classified
    outcome = features = None
    if args.archive:
        session = open_session(args)[0]
        outcome = session.classify(image, data=data)
        features = (outcome.vector_key, outcome.vector)  # searchable as soon as confirmed
    case = library.add_case(data, args.case_id, file_name=image.file_name, body_site=args.site,
                            age=args.age, sex=args.sex, note=args.note, outcome=outcome, features=features)
    print(f"Added case {case.case_id} (image {case.sha256[:12]}...), awaiting confirmation"
          + (f"; dermview suggested {case.suggestion}" if case.suggestion else "") + ".")


def confirm_case(library, args: argparse.Namespace) -> None:
    from ..archive.codes import DX_CODES

    case = library.confirm(args.case_id, args.diagnosis, args.dx_type, by=args.by, other=args.other)
    print(f"Case {case.case_id}: {case.outcome_text}"
          + ("; it now votes among the neighbours." if case.confirmed_dx in DX_CODES else
             "; a diagnosis outside the seven is kept but never votes."))


def list_cases(library, args: argparse.Namespace) -> None:
    for case in library.cases_list(args.status):
        if args.json:
            print(json.dumps(case.to_json()))
        else:
            print(f"{case.case_id}\t{case.created_at[:10]}\t{case.outcome_text}\tsuggested: {case.suggestion or '-'}")
    if not args.json:
        counts = library.counts()
        print(f"{counts['cases']} cases, {counts['awaiting']} awaiting confirmation.", file=sys.stderr)


def export_cases(library, args: argparse.Namespace) -> None:
    print(f"Exported {library.export_zip(args.output)} cases to {args.output}.")


def import_cases(library, args: argparse.Namespace) -> None:
    added, present = library.import_zip(args.input)
    print(f"Imported {added} cases ({present} were already in the library).")


def delete_case(library, args: argparse.Namespace) -> None:
    if not args.yes:
        raise DermviewError(f"Deleting case {args.case_id} cannot be undone; add --yes to delete it.")
    library.delete_case(args.case_id)
    print(f"Deleted case {args.case_id}.")


CREATING = ("add", "import")  # the only actions that may make a new library; the others only read or change one
ACTIONS = {"add": add_case, "confirm": confirm_case, "list": list_cases, "export": export_cases,
           "import": import_cases, "delete": delete_case}
