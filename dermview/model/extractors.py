"""Feature extractors: how an image becomes a vector. The index and KNN work with any of them.

``classic`` is the hand-made colour-texture description; ``learned`` is the dermoscopy-trained
network (dermview.model.learned), the default whenever its model file and onnxruntime are present.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..errors import DermviewError
from . import features

FEATURE_CHOICES = ("auto", "learned", "classic")


class ClassicExtractor:
    """Hand-made colour-texture features (dermview.model.features)."""

    name = "classic"
    version = features.FEATURE_VERSION
    draft_size = features.DRAFT_SIZE
    batch_size = 32
    description = "colour-texture features"
    projected = True  # a kernel-LDA projection is fitted on top (dermview.model.embedding)

    def prepare(self, image: Image.Image) -> np.ndarray:
        return features.to_work_array(image)

    def extract(self, batch: np.ndarray) -> np.ndarray:
        return features.extract_batch(batch)


def get_extractor(name: str = "classic"):
    if name == "classic":
        return ClassicExtractor()
    if name == "learned":
        from .learned import LearnedExtractor, availability

        reason = availability()
        if reason:
            raise DermviewError(f"Learned features are not available: {reason}")
        return LearnedExtractor()
    raise ValueError(f"unknown feature extractor {name!r}")


@dataclass(frozen=True)
class FeatureChoice:
    name: str  # what will be used: "learned" or "classic"
    note: str | None  # why the request could not be honoured, for the user to see


def choose_features(requested: str = "auto") -> FeatureChoice:
    """``auto`` means learned when possible. An explicit ``learned`` that is impossible is an error
    for the command line to report; the window asks with ``auto`` semantics and shows the note."""
    if requested not in FEATURE_CHOICES:
        raise DermviewError(f"Unknown features {requested!r}; choose one of {', '.join(FEATURE_CHOICES)}.")
    if requested == "classic":
        return FeatureChoice("classic", None)
    from .learned import availability

    reason = availability()
    if reason is None:
        return FeatureChoice("learned", None)
    if requested == "learned":
        raise DermviewError(f"Learned features are not available: {reason}. Use --features classic or auto.")
    return FeatureChoice("classic", f"Learned features are not available: {reason}; using colour-texture features.")
