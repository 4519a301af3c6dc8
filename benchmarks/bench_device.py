"""Where the archive's images lie in frame and colour cast: the bounds behind dermview.model.field's
"another kind of dermatoscope" note, and how often it fires on the archive and on external dermoscopy.

Run: python -m benchmarks.bench_device   (prints the constants to compare with dermview/model/field.py)
"""

from __future__ import annotations

import numpy as np
from benchmarks._common import require_data
from PIL import Image

from dermview.model.field import device_note, frame_share, illuminant_chroma


def main() -> None:
    data = require_data()
    archive_files = sorted((data / "images").glob("*.jpg"))
    sample = archive_files[::3]
    frames = np.array([frame_share(Image.open(f)) for f in sample])
    chroma = np.array([illuminant_chroma(Image.open(f)) for f in sample])
    mean, cov = chroma.mean(axis=0), np.cov(chroma.T)
    offset = chroma - mean
    distance = np.sqrt(np.einsum("ij,jk,ik->i", offset, np.linalg.inv(cov), offset))
    print(f"every third archive image ({len(sample):,}): illuminant log(R/G), log(B/G) mean {np.round(mean, 3).tolist()}, "
          f"covariance {np.round(cov, 5).tolist()}; 99th percentile of the colour distance {np.quantile(distance, 0.99):.2f}; "
          f"99th percentile of the frame share {np.quantile(frames, 0.99):.3f}")
    other = archive_files[1::7]
    noted = sum(device_note(Image.open(f)) is not None for f in other)
    print(f"note fires on {noted} of {len(other):,} other archive images ({noted / len(other):.1%})")
    external = sorted((data.parent / "external" / "dermoscopy" / "images").glob("*.jpg"))
    if external:
        noted = sum(device_note(Image.open(f)) is not None for f in external)
        print(f"note fires on {noted} of {len(external)} external dermoscopic images ({noted / len(external):.1%})")


if __name__ == "__main__":
    main()
