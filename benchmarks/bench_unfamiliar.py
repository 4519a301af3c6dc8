"""How often the "unfamiliar image" warning (dermview.model.familiarity) fires, on lesions it never saw
and on images that are not dermoscopy.

The model is fitted exactly as an index build of the chosen similarity fits it (on the colour-texture
columns of its own description, index.fit_archive_familiarity), but on folds 1-4 only; fold 0 (lesions
it never saw) stands for new dermoscopy. The non-dermoscopy set is made on the fly (tests/nondermoscopy.py)
plus photos, screenshots and figures found on this machine.

Run: python benchmarks/bench_unfamiliar.py [--features classic|learned]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from _common import PROJECT_ROOT, require_data

from dermview.archive import open_archive
from dermview.archive.codes import dx_indices
from dermview.model.extractors import colour_texture_part, get_extractor
from dermview.model.familiarity import fit_familiarity, sample_rows
from dermview.model.index import compute_features
from dermview.model.tuning import held_out_split

sys.path.insert(0, str(PROJECT_ROOT / "tests"))
from nondermoscopy import found_on_disk, synthetic  # noqa: E402  (test helpers, not shipped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", choices=("classic", "learned"), default="classic")
    extractor = get_extractor(parser.parse_args().features)
    data = require_data()
    archive = open_archive(data)
    meta = archive.metadata
    ids = meta["image_id"].astype(str).to_numpy()
    labels = dx_indices(meta["dx"].astype(str).to_numpy())
    train, test = held_out_split(labels, meta["lesion_id"].astype(str).to_numpy(), 0, 5, 0)
    fit_rows = train[sample_rows(len(train))]
    feats, _ = compute_features(lambda i: archive.load_image(i, draft_size=extractor.draft_size),
                                ids[np.concatenate([fit_rows, test])], extractor)
    feats = colour_texture_part(extractor, feats)
    model = fit_familiarity(feats[:len(fit_rows)])
    held = np.array([model.unfamiliar(f) is not None for f in feats[len(fit_rows):]])
    made, found = synthetic(data), found_on_disk()
    for title, images in (("made", made), ("found on this machine", found)):
        if not images:
            continue
        vectors = colour_texture_part(extractor, extractor.extract(np.stack([extractor.prepare(im) for im in images.values()])))
        fires = np.array([model.unfamiliar(v) is not None for v in vectors])
        print(f"non-dermoscopy, {title}: fires on {fires.sum()} of {len(fires)} ({fires.mean():.1%})"
              + ("; missed: " + ", ".join(n for n, f in zip(images, fires) if not f) if not fires.all() else ""))
    print(f"{extractor.description}; held-out fold 0 (dermoscopy of lesions never seen): fires on {held.sum()} of {len(held):,} "
          f"({held.mean():.2%}); threshold {model.threshold:.1f}, median archive distance {model.typical:.1f}")


if __name__ == "__main__":
    main()
