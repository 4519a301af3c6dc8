"""The command line: ``dermview info | index | evaluate | predict | outline | compare | report | library``. Qt-free, but for
``report`` and ``compare --pdf``, which draw through dermview.render.

One module per command group, each owning its parser and its handler (``set_defaults(run=...)``).
Every expected failure (a bad archive, an unreadable image) prints one line and exits with status 2;
a batch of predictions exits 1 if any image failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .. import NOT_A_MEDICAL_DEVICE, __version__
from ..errors import DermviewError
from ..paths import set_cache_dir
from . import archive, compare, evaluate, library, outline, predict, report
from .common import EXIT_INTERNAL, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_SOME_FAILED", "EXIT_USAGE", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dermview",
        description="Browse HAM10000 and classify dermatoscopic images by their nearest neighbours. "
                    + NOT_A_MEDICAL_DEVICE,
        epilog="Without a command, dermview starts the window: 'dermview --help' lists its options.")
    parser.add_argument("--version", action="version", version=f"dermview {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    archive.add_parsers(sub)
    evaluate.add_parser(sub)
    predict.add_parser(sub)
    outline.add_parser(sub)
    compare.add_parser(sub)
    report.add_parser(sub)
    library.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..model.threads import use_one_blas_thread

    use_one_blas_thread()
    if getattr(args, "cache_dir", None):
        set_cache_dir(args.cache_dir)
    try:
        return args.run(args)
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
        from ..library.urls import redacted

        detail = redacted(str(exc).splitlines()[0] if str(exc) else "")[:300]  # never a statement's parameters
        print(f"dermview: internal error: {type(exc).__name__}: {detail}. This is a bug in dermview; "
              "run again with DERMVIEW_DEBUG=1 for the details and report them.", file=sys.stderr)
        return EXIT_INTERNAL
