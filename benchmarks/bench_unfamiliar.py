"""How often the "unfamiliar image" warning fires, on the parts of four corpora that its fit never saw
(issue "unfamiliar on images no one picked").

The warning is what a query gets (dermview.model.familiarity.judge_query): the image-kind classifier
shipped beside the learned model (training/fit_familiarity.py), then the colour-texture Gaussian. The
Gaussian is refitted here on folds 1-4 only, as training/fit_familiarity.py fits the classifier, so
that HAM10000's fold 0 is lesions neither saw. The corpora and their split: training/corpora.py.

| corpus | test part | target |
| --- | --- | --- |
| pictures that are not dermoscopy | 40% of the pictures corpus, by name | flagged >= 95% |
| clinical photographs of skin | 40% of external/clinical, by name | flagged >= 80%, as clinical photographs |
| HAM10000 held-out lesions | fold 0 (lesion-grouped) | flagged <= 2% |
| external dermoscopy | its unread part (40%, by name) | flagged <= 8% |
| Derm7pt dermoscopy (another source and era) | its development part (60%, by name) | flagged <= 5% |

Run: python -m benchmarks.bench_unfamiliar [--features classic|learned] [--shipped-gaussian]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from benchmarks._common import require_data
from PIL import Image

from dermview.archive import open_archive
from dermview.model.external import UNREAD, part_of
from dermview.model.extractors import colour_texture_part, get_extractor
from dermview.model.familiarity import CLINICAL_PHOTO, fit_familiarity, judge_query, sample_rows

from training import corpora
from training.fit_familiarity import archive_parts, describe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", choices=("classic", "learned"), default="learned")
    extractor = get_extractor(parser.parse_args().features)
    data = require_data()
    shared = data.parent
    archive = open_archive(data)
    kinds = getattr(extractor, "kinds", None)
    print(f"{extractor.description}; image-kind classifier: "
          + (f"P(dermoscopy) < {kinds.threshold:.3f}" if kinds else "none shipped for this model"))

    fit_ids, test_ids = archive_parts(archive)
    meta = archive.metadata[archive.metadata["available"]]
    train_ids = np.setdiff1d(meta["image_id"].astype(str).to_numpy(), test_ids)
    gaussian_ids = np.sort(train_ids)[sample_rows(len(train_ids))]
    gaussian = fit_familiarity(colour_texture_part(extractor, describe(
        extractor, [archive.load_image(i, draft_size=extractor.draft_size) for i in gaussian_ids])))

    def rates(title: str, source: str, images: dict[str, Image.Image], clinical: bool = False) -> None:
        start = time.perf_counter()
        feats = describe(extractor, list(images.values()))
        seconds = (time.perf_counter() - start) / max(1, len(images))
        verdicts = [judge_query(f[:extractor.passthrough] if kinds else None, colour_texture_part(extractor, f), kinds,
                                gaussian) for f in feats]
        always = np.array([judge_query(f[:extractor.passthrough] if kinds else None, colour_texture_part(extractor, f),
                                       kinds, gaussian, confident=None) is not None for f in feats])
        flagged = np.array([v is not None for v in verdicts])
        line = (f"{title}: flagged {flagged.sum()} of {len(flagged)} ({flagged.mean():.1%}; asking the colour-texture "
                f"check whatever the classifier says: {always.mean():.1%})")
        if clinical:
            as_clinical = np.array([v is not None and v.kind == CLINICAL_PHOTO for v in verdicts])
            line += f", as clinical photographs {as_clinical.sum()} ({as_clinical.mean():.1%})"
        if 0 < flagged.sum() < len(flagged) and len(flagged) <= 200:
            names = [n for n, f in zip(images, flagged) if f != (title.startswith(("pictures", "clinical")))]
            line += ("; missed: " if title.startswith(("pictures", "clinical")) else "; flagged: ") + ", ".join(names[:12])
        print(f"{line}\n    source: {source}; {seconds * 1000:.0f} ms per image to describe")

    rates("pictures that are not dermoscopy", "scikit-image, scikit-learn, matplotlib and pydicom sample images, "
          "docs/ screenshots, drawn charts and made images (training/corpora.py), test part",
          corpora.split(corpora.pictures(data), corpora.TEST))
    rates("clinical photographs of skin", "external/clinical (PAD-UFES-20), test part",
          corpora.split(corpora.clinical(shared), corpora.TEST), clinical=True)
    rates("HAM10000 held-out lesions", "fold 0 of the lesion-grouped split (never in either fit)",
          {i: archive.load_image(i, draft_size=extractor.draft_size) for i in test_ids})
    rates("external dermoscopy", "external/dermoscopy (ISIC archive), unread part",
          {n: Image.open(p).convert("RGB") for n, _, p in corpora.external_dermoscopy(shared) if part_of(n) == UNREAD})
    derm7pt = shared / "derm7pt" / "images"
    if derm7pt.is_dir():  # the external check: its development part only
        rates("Derm7pt dermoscopy", "derm7pt (Interactive Atlas of Dermoscopy), development part",
              {p.stem: Image.open(p).convert("RGB") for p in sorted(derm7pt.glob("*.jpg")) if part_of(p.stem) != UNREAD})


if __name__ == "__main__":
    main()
