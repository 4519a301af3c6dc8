"""The image corpora the familiarity check is fitted and measured on, each split once into a part the
fit may see and a part it never sees (issue "unfamiliar on images no one picked").

Nothing is downloaded and nothing is copied into the project: every image is read where an installed
package or ``../shared/data`` keeps it, or drawn here. Which part an image belongs to depends on its
name alone (:func:`part`), so every run, machine and script agrees.

| corpus | what | where from |
| --- | --- | --- |
| ``pictures`` | photos, textures, documents, charts, screenshots, other medical images | scikit-image's, scikit-learn's and matplotlib's sample images, pydicom's test images, dermview's own screenshots in ``docs/``, charts drawn with matplotlib, and training/nondermoscopy.py's made images |
| ``clinical`` | phone photographs of skin lesions | ``external/clinical`` (PAD-UFES-20) |
| ``dermoscopy`` | other institutions' dermatoscopes | ``external/dermoscopy`` (ISIC archive) |

HAM10000 itself is split by lesion (dermview.model.tuning.held_out_split, fold 0 held out).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from .nondermoscopy import synthetic

FIT, TEST = "fit", "test"
TEST_SHARE = 0.4  # of every corpus but the external dermoscopy (whose split issue 32 fixed: 40% unread)
PROJECT = Path(__file__).resolve().parents[1]


def part(name: str, test_share: float = TEST_SHARE) -> str:
    """FIT or TEST for an image of this name: a fixed hash, so that the split never moves."""
    draw = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return TEST if draw < test_share else FIT


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "P"):
        background = Image.new("RGB", image.size, "white")
        image = image.convert("RGBA")
        background.paste(image, mask=image.split()[-1])
        return background
    return image.convert("RGB")


def _package_files(module: str, suffixes: tuple[str, ...], under: str = "") -> list[Path]:
    try:
        package = __import__(module)
    except Exception:  # not installed: the corpus is smaller, and the benchmark says so
        return []
    root = Path(package.__file__).parent / under
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in suffixes)


def packaged_photos() -> dict[str, Image.Image]:
    """Photos, textures, scans and icons that ship inside installed Python packages (over 64 pixels)."""
    out = {}
    files = (_package_files("skimage", (".png", ".jpg", ".gif"), "data")
             + _package_files("sklearn", (".jpg",), "datasets/images")
             + _package_files("matplotlib", (".png", ".jpg"), "mpl-data/sample_data"))
    for path in files:
        try:
            image = Image.open(path)
            image.seek(0)
            if min(image.size) >= 64:
                out[f"{path.parent.name}/{path.name}"] = _rgb(image)
        except Exception:  # a file Pillow cannot read is not part of the corpus
            continue
    return out


def _look(image: Image.Image) -> bytes:
    """A coarse thumbnail: pydicom ships one picture in many encodings, which must count once (and never
    sit on both sides of the split)."""
    return (np.asarray(image.convert("L").resize((12, 12), Image.Resampling.BILINEAR)) // 32).tobytes()


def medical_images() -> dict[str, Image.Image]:
    """Radiology and other medical images from pydicom's test files (those it can decode with numpy
    alone), each picture once however many encodings of it ship."""
    out: dict[str, Image.Image] = {}
    seen: set[bytes] = set()
    try:
        import warnings

        import pydicom
    except Exception:
        return out
    warnings.filterwarnings("ignore", module="pydicom")
    for path in _package_files("pydicom", (".dcm",), "data/test_files"):
        try:
            pixels = pydicom.dcmread(path).pixel_array
        except Exception:  # compressed with a codec not installed, or no pixels at all
            continue
        pixels = np.asarray(pixels, np.float64)
        while pixels.ndim > 3 or (pixels.ndim == 3 and pixels.shape[-1] not in (3, 4)):
            pixels = pixels[pixels.shape[0] // 2]
        if pixels.ndim == 3:
            pixels = pixels[..., :3]
        if min(pixels.shape[:2]) < 64:
            continue
        lo, hi = np.percentile(pixels, (1, 99))
        scaled = np.clip((pixels - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
        image = Image.fromarray(scaled).convert("RGB")
        if _look(image) not in seen:
            seen.add(_look(image))
            out[f"dicom/{path.stem}"] = image
    return out


def drawn_charts(count: int = 16, seed: int = 0) -> dict[str, Image.Image]:
    """Line, bar, scatter and image plots drawn with matplotlib (if installed), as a report would hold."""
    out: dict[str, Image.Image] = {}
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        return out
    rng = np.random.default_rng(seed)
    for n in range(count):
        fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
        kind = n % 4
        if kind == 0:
            ax.plot(np.cumsum(rng.normal(size=(200, 3)), axis=0))
        elif kind == 1:
            ax.bar(range(8), rng.random(8), color=plt.cm.tab10(range(8)))
        elif kind == 2:
            ax.scatter(*rng.normal(size=(2, 300)), c=rng.random(300), cmap="viridis")
        else:
            ax.imshow(rng.random((20, 20)) if n % 8 == 3 else np.outer(np.sin(np.linspace(0, 6, 60)), np.cos(np.linspace(0, 6, 60))),
                      cmap=("magma", "coolwarm", "gray")[n % 3])
        ax.set_title(f"figure {n}")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        out[f"chart-{n}.png"] = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return out


def screenshots() -> dict[str, Image.Image]:
    """dermview's own window, as its documentation shows it."""
    return {f"docs/{p.name}": _rgb(Image.open(p)) for p in sorted((PROJECT / "docs").glob("*.png"))}


def pictures(data: Path | None = None) -> dict[str, Image.Image]:
    """Everything that is not a photograph of skin: the ``pictures`` corpus (both parts)."""
    return {**packaged_photos(), **medical_images(), **drawn_charts(), **screenshots(),
            **{f"made/{k}": v for k, v in synthetic(data).items()}}


def clinical(shared: Path) -> dict[str, Image.Image]:
    """Phone photographs of skin lesions (``external/clinical``)."""
    folder = shared / "external" / "clinical"
    return {p.name: Image.open(p).convert("RGB") for p in sorted(folder.glob("*.jpg"))}


def external_dermoscopy(shared: Path) -> Iterator[tuple[str, str, Path]]:
    """(image name, diagnosis or "", path) of every image in ``external/dermoscopy`` (labels.csv order)."""
    folder = shared / "external" / "dermoscopy"
    with open(folder / "labels.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            yield row["image"], row["diagnosis"], folder / "images" / f"{row['image']}.jpg"


def split(images: dict[str, Image.Image], which: str) -> dict[str, Image.Image]:
    return {name: image for name, image in images.items() if part(name) == which}
