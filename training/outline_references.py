"""Measure the archive's lesions inside their published outlines, and store the table the window reads a new
lesion's measures against (dermview.model.lesion_measures.reference_table), in the outline network's sidecar.

    python -m training outline-references --archive ../shared/data/ham10000 \
        --masks ../shared/data/ham10000/segmentations --sidecar dermview/resources/models/dermview-outline.json

One image per lesion (the first the metadata lists), so that a lesion photographed six times counts once.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dermview.archive import Archive
from dermview.model import lesion_measures, outline
from dermview.outputs import atomic_file


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", required=True)
    parser.add_argument("--masks", required=True)
    parser.add_argument("--sidecar", required=True, help="the outline network's .json; its other keys are kept")
    args = parser.parse_args(argv)
    archive = Archive.open(args.archive)
    meta = archive.metadata[archive.metadata["available"]].drop_duplicates("lesion_id")
    measured = []
    for image_id, dx in zip(meta["image_id"], meta["dx"]):
        image = archive.load_image(image_id)
        mask = outline.read_mask(Path(args.masks) / f"{image_id}_segmentation.png", image.size)
        if mask.any():
            measured.append((str(dx), lesion_measures.measure(image, mask)))
    sidecar = Path(args.sidecar)
    card = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
    card["reference"] = {**lesion_measures.reference_table(measured),
                         "source": f"the published outlines of the archive's {len(measured):,} lesions "
                                   "(HAM10000 segmentation release), one image per lesion"}
    with atomic_file(sidecar) as handle:
        handle.write(json.dumps(card, indent=1) + "\n")
    print(f"measured {len(measured)} lesions; wrote {sidecar}")


if __name__ == "__main__":
    main()
