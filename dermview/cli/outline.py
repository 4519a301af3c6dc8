"""``dermview outline``: the lesion's outline of images, folders and zips, as one black-and-white PNG each."""

from __future__ import annotations

import argparse
from pathlib import Path

from typing import TYPE_CHECKING

from ..errors import DermviewError
from .common import EXIT_OK, EXIT_SOME_FAILED, gather

if TYPE_CHECKING:  # the command line's parser is built without importing the archive reader
    from ..archive.inputs import InputImage


def add_parser(sub) -> None:
    outline = sub.add_parser("outline", help="draw the lesion's outline of images, folders (recursively) or zip files: "
                             "one OUT/<name>.png each, 255 on the lesion and 0 elsewhere, at the image's own size")
    outline.add_argument("--archive", metavar="PATH",
                         help="accepted as every command accepts it; outlining reads no archive")
    outline.add_argument("--out", required=True, metavar="DIR", help="the folder the masks are written to")
    outline.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
    outline.set_defaults(run=run_outline)


# Written into every mask's PNG text (its Software field): a file there that lacks it was not made by this
# command, and is never replaced.
MASK_SOFTWARE = "dermview outline mask"


def mask_path(out: Path, stem: str, taken: set[str]) -> Path:
    """``out/<stem>.png``, or ``<stem>-2.png``... when an earlier input of this run had the same name."""
    name, n = f"{stem}.png", 1
    while name.lower() in taken:
        n += 1
        name = f"{stem}-{n}.png"
    taken.add(name.lower())
    return out / name


def made_here(path: Path) -> bool:
    """True if ``path`` is a mask this command wrote (its PNG text says so)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.format == "PNG" and image.info.get("Software") == MASK_SOFTWARE
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def plan_masks(out: Path, images: list[InputImage], named: list[str]) -> list[tuple[InputImage, Path, str]]:
    """(image, its mask's path, a note when its name had to change) for every image, before any is outlined.
    Raises DermviewError, naming both paths, when a mask would replace one of the inputs or a file this
    command did not make."""
    from ..outputs import refuse_replacing
    from .common import input_paths

    taken: set[str] = set()
    inputs = input_paths(named, images)
    plan = []
    for item in images:
        path = mask_path(out, item.stem, taken)
        if path.exists():
            refuse_replacing(path, inputs, replaces_images=True)
            if not made_here(path):
                raise DermviewError(f"Cannot write the outline of {item.name} to {path}: a file of that name is already "
                                    "there and was not made by dermview outline; nothing was written. Choose another "
                                    "--out folder.")
        note = f" (not {item.stem}.png: another input has that name)" if path.name != f"{item.stem}.png" else ""
        plan.append((item, path, note))
    return plan


def run_outline(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    from ..model.outline import NO_MODEL, REASONS, shared_finder
    from ..outputs import atomic_file

    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise DermviewError(f"--out {out} is a file, not a folder.")
    finder = shared_finder()
    if finder is None:
        raise DermviewError(REASONS[NO_MODEL])
    images, problems = gather(args.inputs)
    plan = plan_masks(out, images, args.inputs)  # every clash refused before anything is written
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name, message in problems:
        failed += 1
        print(f"{name}: error: {message}", flush=True)
    for item, path, renamed in plan:
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
        text = PngInfo()
        text.add_text("Software", MASK_SOFTWARE)
        with atomic_file(path, "wb") as handle:
            Image.fromarray(np.where(found.mask, 255, 0).astype(np.uint8), mode="L").save(handle, format="PNG",
                                                                                        pnginfo=text)
        print(f"{item.name}: {path}{renamed} (the lesion covers {found.mask.mean():.0%} of the image)", flush=True)
    return EXIT_SOME_FAILED if failed else EXIT_OK
