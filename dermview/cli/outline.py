"""``dermview outline``: the lesion's outline of images, folders and zips, as one black-and-white PNG each."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import DermviewError
from .common import EXIT_OK, EXIT_SOME_FAILED


def add_parser(sub) -> None:
    outline = sub.add_parser("outline", help="draw the lesion's outline of images, folders (recursively) or zip files: "
                             "one OUT/<name>.png each, 255 on the lesion and 0 elsewhere, at the image's own size")
    outline.add_argument("--archive", metavar="PATH",
                         help="accepted as every command accepts it; outlining reads no archive")
    outline.add_argument("--out", required=True, metavar="DIR", help="the folder the masks are written to")
    outline.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
    outline.set_defaults(run=run_outline)


def mask_path(out: Path, stem: str, taken: set[str]) -> Path:
    """``out/<stem>.png``, or ``<stem>-2.png``... when an earlier input of this run had the same name."""
    name, n = f"{stem}.png", 1
    while name.lower() in taken:
        n += 1
        name = f"{stem}-{n}.png"
    taken.add(name.lower())
    return out / name


def run_outline(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from ..archive.inputs import gather_inputs
    from ..model.outline import NO_MODEL, REASONS, shared_finder
    from ..outputs import atomic_file

    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise DermviewError(f"--out {out} is a file, not a folder.")
    finder = shared_finder()
    if finder is None:
        raise DermviewError(REASONS[NO_MODEL])
    out.mkdir(parents=True, exist_ok=True)
    images, problems = gather_inputs(args.inputs)
    failed, taken = 0, set[str]()
    for name, message in problems:
        failed += 1
        print(f"{name}: error: {message}", flush=True)
    for item in images:
        try:
            image = item.load()
            found = finder.segment(image)
        except DermviewError as exc:
            failed += 1
            print(f"{item.name}: error: {exc}", flush=True)
            continue
        if found.mask is None:
            print(f"{item.name}: no outline - {found.sentence}", flush=True)
            continue
        path = mask_path(out, item.stem, taken)
        with atomic_file(path, "wb") as handle:
            Image.fromarray(np.where(found.mask, 255, 0).astype(np.uint8), mode="L").save(handle, format="PNG")
        print(f"{item.name}: {path} (the lesion covers {found.mask.mean():.0%} of the image)", flush=True)
    return EXIT_SOME_FAILED if failed else EXIT_OK
