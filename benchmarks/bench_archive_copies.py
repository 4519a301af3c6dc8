"""How well archive copies are recognised by content (dermview.model.copies), on the shared archive.

- recognised: the 153 600x450 originals, under other names, against all 10,015 published 200x150 images;
- false matches: every image of the lesions of held-out fold 0 against the fingerprints of the other
  folds only (its own lesion is absent, so any match is a false one, or the same photograph published
  under two lesion ids).

Run: python -m benchmarks.bench_archive_copies
"""

from __future__ import annotations

import time

import numpy as np
from benchmarks._common import require_data
from PIL import Image

from dermview.archive import open_archive
from dermview.archive.codes import dx_indices
from dermview.model.copies import find_copy, fingerprint
from dermview.model.tuning import held_out_split


def main() -> None:
    data = require_data()
    archive = open_archive(data)
    meta = archive.metadata
    ids = meta["image_id"].astype(str).to_numpy()
    start = time.perf_counter()
    prints = [fingerprint(archive.load_image(i, draft_size=64)) for i in ids]
    hashes = np.array([p[0] for p in prints], np.uint64)
    thumbs = np.stack([p[1] for p in prints]).astype(np.float16)
    print(f"fingerprints of {len(ids):,} images: {time.perf_counter() - start:.1f} s")

    row = {image_id: r for r, image_id in enumerate(ids)}
    originals = sorted((data / "originals").glob("*.jpg"))
    right = sum(find_copy(*fingerprint(Image.open(p).convert("RGB")), hashes, thumbs) == row[p.stem]
                for p in originals)
    print(f"originals recognised as their archive copy: {right} of {len(originals)} ({right / len(originals):.1%})")

    labels = dx_indices(meta["dx"].astype(str).to_numpy())
    train, test = held_out_split(labels, meta["lesion_id"].astype(str).to_numpy(), 0, 5, 0)
    matches = [find_copy(prints[t][0], prints[t][1], hashes[train], thumbs[train]) for t in test]
    false = [(ids[t], ids[train[m]]) for t, m in zip(test, matches) if m is not None]
    print(f"held-out fold 0 images matched to an image of another lesion: {len(false)} of {len(test):,} "
          f"({len(false) / len(test):.2%})" + (f"; e.g. {false[:3]}" if false else ""))


if __name__ == "__main__":
    main()
