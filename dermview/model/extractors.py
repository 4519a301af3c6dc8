"""Feature extractors: how an image becomes a vector. The index and KNN work with any of them."""

from __future__ import annotations

import numpy as np
from PIL import Image

from . import features


class ClassicExtractor:
    """Hand-made colour-texture features (dermview.model.features)."""

    name = "classic"
    version = features.FEATURE_VERSION
    draft_size = features.DRAFT_SIZE
    batch_size = 32
    description = "colour-texture features"

    def prepare(self, image: Image.Image) -> np.ndarray:
        return features.to_work_array(image)

    def extract(self, batch: np.ndarray) -> np.ndarray:
        return features.extract_batch(batch)


def get_extractor(name: str = "classic") -> ClassicExtractor:
    if name == "classic":
        return ClassicExtractor()
    raise ValueError(f"unknown feature extractor {name!r}")
