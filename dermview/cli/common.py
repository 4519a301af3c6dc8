"""What every command shares: the common options, the progress bar, opening a model session with the
case library's cases when asked for, and the exit statuses."""

from __future__ import annotations

import argparse
import os
import sys
import time

from ..errors import DermviewError

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", required=True, metavar="PATH",
                        help="folder holding HAM10000_metadata and the images (zips or folders)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="where dermview keeps its cache, settings and logs (default: per-user folders; "
                             "also DERMVIEW_CACHE_DIR)")


def add_features(parser: argparse.ArgumentParser) -> None:
    from ..model.extractors import AUTO, feature_choices, kinds

    described = "; ".join(f"{k.name}: {k.description}" for k in kinds())
    parser.add_argument("--features", choices=feature_choices(), default=AUTO,
                        help=f"what 'similar' means ({described}); {AUTO} (default): the first of "
                             f"{', '.join(k.name for k in kinds())} that can be used here")


LIBRARY_HELP = ("an SQLite file (sqlite:///PATH) or a practice's PostgreSQL database (postgresql://user@host/db); "
                "default: DERMVIEW_LIBRARY, else library.sqlite in the per-user data folder")


def add_search(parser: argparse.ArgumentParser) -> None:
    from ..model.search_in import DEFAULT_SEARCH, SearchIn

    parser.add_argument("--neighbours", choices=[s.value for s in SearchIn], default=DEFAULT_SEARCH.value,
                        help="whose images may be neighbours: the archive, your case library's confirmed cases "
                             f"(own), or both (default {DEFAULT_SEARCH.value}; without a library, the archive)")
    parser.add_argument("--library", metavar="URL", help=f"the case library to search: {LIBRARY_HELP}")


def add_library_location(parser: argparse.ArgumentParser, default=None) -> None:
    parser.add_argument("--library", metavar="URL", help=LIBRARY_HELP, default=default)
    parser.add_argument("--cache-dir", metavar="DIR", help="where dermview keeps everything it writes", default=default)


def gather(named: list[str]):
    """(images, problems) of the inputs the user named (archive.inputs.gather_inputs), saying on stderr how many
    files inside the folders were not images and were passed over."""
    from ..archive.inputs import gather_inputs, skipped_sentence

    skipped: list[str] = []
    images, problems = gather_inputs(named, skipped)
    if skipped:
        print(f"dermview: note: {skipped_sentence(skipped)}", file=sys.stderr)
    return images, problems


def input_paths(named: list[str], images) -> list[str]:
    """What a command must never write over: the paths the user named (files, folders, zips) and the image files
    found in them (InputImage.path)."""
    return [*named, *(str(image.path) for image in images if image.path is not None)]


def check_k(args: argparse.Namespace) -> None:
    if args.k is not None and args.k < 1:
        raise DermviewError("--k must be at least 1.")


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
    from ..archive import open_archive
    from ..model.session import ModelSession

    archive = open_archive(args.archive)
    images = len(archive.metadata) - archive.missing_images
    if getattr(args, "k", None) is not None and args.k > images:  # more neighbours than there are images
        print(f"dermview: note: --k {args.k:,} is more than the archive's {images:,} images; using {images:,}.",
              file=sys.stderr)
        args.k = images
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
    from ..library.search import search_library
    from ..library.store import CaseLibrary, library_exists, library_url, shown_url
    from ..model.predictor import SearchIn

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
