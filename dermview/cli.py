"""The command line: ``dermview info | index | evaluate | predict``. Qt-free.

Every expected failure (a bad archive, an unreadable image) prints one line and exits with status 2;
a batch of predictions exits 1 if any image failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Sequence

from . import NOT_A_MEDICAL_DEVICE, __version__
from .errors import DermviewError
from .paths import set_cache_dir

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
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
    return parser


def add_model_parsers(sub) -> None:
    pass


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
