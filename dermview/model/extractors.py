"""What "similar" means: feature extractors behind one interface, and the registry of the kinds a
user can choose.

Every list of choices (the command line's ``--features``, the window's Similarity menu, the stored
setting), every label, default k and fallback comes from :data:`REGISTRY`. Adding a similarity is one
module with an extractor plus one :func:`register` call.

``classic`` is the hand-made colour-texture description; ``learned`` is the dermoscopy-trained
network (dermview.model.learned), preferred whenever its model file and onnxruntime are present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Protocol, runtime_checkable
from collections.abc import Callable

import numpy as np
from PIL import Image

from ..errors import DermviewError
from .knn import DEFAULT_K, DEFAULT_PRIOR_POWER
from .projection import Projection, fit_combined, fit_kernel_lda, identity_fit

AUTO = "auto"  # the best available kind (lowest preference number)


@runtime_checkable
class FeatureExtractor(Protocol):
    """How an image becomes a vector. The index, the KNN and the evaluation work with any of these."""

    name: str  # the registry key; also part of the cache file name
    version: str  # changes whenever the vectors would: keys the index cache
    @property
    def draft_size(self) -> int | tuple[int, int]: ...  # the smallest decode that loses nothing (JPEG draft)

    batch_size: int
    description: str  # for people: "colour-texture features"
    projected: bool  # True: a kernel-LDA projection is fitted on top (dermview.model.projection)
    # The leading columns kept as they are (an embedding made for KNN); the projection is fitted on the
    # rest and put beside them (projection.fit_combined). 0: every column is projected.
    passthrough: int
    tail_weight: float  # with passthrough: the projected columns' length beside the kept ones'
    # Where the image's colour-texture features (dermview.model.features) begin among its columns, or None
    # if it has none: the "unfamiliar image" model is fitted on and applied to those.
    colour_texture_from: int | None
    # True: the extractor itself was fitted on the archive's images (cross-validating it there is in-sample).
    trained_on_archive: bool

    def prepare(self, image: Image.Image) -> np.ndarray: ...

    def extract(self, batch: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class VoteDefaults:
    k: int = DEFAULT_K
    prior_power: float = DEFAULT_PRIOR_POWER


@dataclass(frozen=True)
class FeatureKind:
    """One choice of similarity, as users see it."""

    name: str
    label: str  # short, for a menu: "Learned"
    description: str  # one sentence, for a tool tip or --help
    make: Callable[[], FeatureExtractor]
    # None if it can be used; otherwise why not, in words a user can act on. ``load_runtime=False`` is a
    # cheap check fit for the GUI thread; the full check (the worker, the CLI) loads what it needs.
    unavailable: Callable[[bool], str | None]
    vote_defaults: Callable[[], VoteDefaults]
    preference: int  # ``auto`` and fallbacks take the available kind with the lowest number
    # How it did on lesions it never saw: {"source", "accuracy", "balanced_accuracy", "per_class",
    # "confusion", "n"} from the evaluation that produced the shipped numbers, or None if unknown; with
    # "by_fold" (a list of {"fold", "n", "accuracy", "balanced_accuracy", "mel_recall"}) when the figures
    # pool several held-out folds.
    held_out: Callable[[], dict | None] = lambda: None

    def default_k(self) -> int:
        """The k a user starts from; the general default if the kind cannot say (e.g. a damaged model)."""
        try:
            return self.vote_defaults().k
        except (OSError, ValueError, TypeError, DermviewError):
            return DEFAULT_K


def space_fitter(extractor: FeatureExtractor) -> Callable[..., Projection]:
    """How ``extractor``'s similarity space is fitted on training images: ``fit(features, labels, seed=0)``.
    The index, the cross-validation and the held-out evaluation all fit it through this one function."""
    if not extractor.projected:
        return identity_fit
    if extractor.passthrough:
        return partial(fit_combined, passthrough=extractor.passthrough, tail_weight=extractor.tail_weight)
    return fit_kernel_lda


def colour_texture_part(extractor: FeatureExtractor, features: np.ndarray) -> np.ndarray | None:
    """The colour-texture columns of ``features`` (..., D) described by ``extractor``, or None if it has none."""
    start = extractor.colour_texture_from
    return None if start is None else features[..., start:]


def vector_key(extractor: FeatureExtractor) -> str:
    """Which stored vectors fit which similarity: its name and version (as the archive index is keyed)."""
    return f"{extractor.name}:{extractor.version}"


REGISTRY: dict[str, FeatureKind] = {}


def register(kind: FeatureKind) -> FeatureKind:
    REGISTRY[kind.name] = kind
    return kind


def kinds() -> list[FeatureKind]:
    """Every registered kind, preferred first."""
    return sorted(REGISTRY.values(), key=lambda k: (k.preference, k.name))


def feature_names() -> list[str]:
    return [k.name for k in kinds()]


def feature_choices() -> list[str]:
    """What ``--features`` accepts."""
    return [AUTO, *feature_names()]


def get_kind(name: str) -> FeatureKind:
    try:
        return REGISTRY[name]
    except KeyError:
        raise DermviewError(f"Unknown features {name!r}; choose one of {', '.join(feature_choices())}.") from None


def get_extractor(name: str = "classic") -> FeatureExtractor:
    kind = get_kind(name)
    reason = kind.unavailable(True)
    if reason:
        raise DermviewError(f"{kind.label} features are not available: {reason}.")
    return kind.make()


@dataclass(frozen=True)
class FeatureChoice:
    name: str  # what will be used
    note: str | None  # why the request could not be honoured, for the user to see


def choose_features(requested: str = AUTO, *, strict: bool | None = None, load_runtime: bool = True) -> FeatureChoice:
    """The kind to use for ``requested``.

    ``auto`` takes the most preferred available kind. A named kind that cannot be used is an error when
    ``strict`` (the command line's explicit request, the default for a named kind); otherwise it falls
    back like ``auto``, with a note saying why (the window, whose stored choice may have become unusable).
    ``load_runtime=False`` decides on the cheap checks alone (the GUI thread); the worker decides for real.
    """
    if requested != AUTO:
        get_kind(requested)  # unknown names are an error either way
    strict = requested != AUTO if strict is None else strict
    notes: list[str] = []
    candidates = kinds() if requested == AUTO else [get_kind(requested)] + [k for k in kinds() if k.name != requested]
    for kind in candidates:
        reason = kind.unavailable(load_runtime)
        if reason is None:
            note = "; ".join(notes) + f"; using {kind.description}." if notes else None
            return FeatureChoice(kind.name, note)
        if strict:
            raise DermviewError(f"{kind.label} features are not available: {reason}. "
                                f"Use --features {AUTO} or another of {', '.join(feature_names())}.")
        notes.append(f"{kind.label} features are not available: {reason}")
    raise DermviewError("No kind of similarity can be used here: " + "; ".join(notes) + ".")


# -- the built-in kinds ----------------------------------------------------------------------------

class ClassicExtractor:
    """Hand-made colour-texture features (dermview.model.features, imported when one is made: the command line's
    parsers list the kinds without loading scipy)."""

    name = "classic"
    batch_size = 32
    description = "colour-texture features"
    projected = True
    passthrough = 0
    tail_weight = 1.0
    colour_texture_from: int | None = 0  # every column
    trained_on_archive = False  # only its projection is, and evaluation refits that inside every fold

    def __init__(self) -> None:
        from . import features

        self._features = features
        self.version = features.FEATURE_VERSION
        self.draft_size = features.DRAFT_SIZE

    def prepare(self, image: Image.Image) -> np.ndarray:
        return self._features.to_work_array(image)

    def extract(self, batch: np.ndarray) -> np.ndarray:
        return self._features.extract_batch(batch)


def _learned_kind() -> FeatureKind:
    def make() -> FeatureExtractor:
        from .learned import LearnedExtractor
        return LearnedExtractor()

    def unavailable(load_runtime: bool) -> str | None:
        from .learned import availability
        return availability(load_runtime=load_runtime)

    def vote_defaults() -> VoteDefaults:
        from .learned import model_info
        info = model_info()  # chosen on validation lesions the network was not trained on
        return VoteDefaults(k=info.k, prior_power=info.prior_power)

    def held_out() -> dict | None:
        from .learned import external_figures, held_out_figures, model_info
        info = model_info()
        figures = held_out_figures(info.held_out_folds)  # the training runs' reports on held-out folds
        return figures and {**figures, "external": external_figures(info.card)}

    return FeatureKind(name="learned", label="Learned",
                       description="the learned dermoscopy embedding, with colour-texture features beside it",
                       make=make, unavailable=unavailable, vote_defaults=vote_defaults, preference=0,
                       held_out=held_out)


def _classic_held_out() -> dict | None:
    from ..paths import resources_dir
    path = resources_dir() / "performance" / "classic.json"  # written by `dermview evaluate --features classic --json`
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


register(_learned_kind())
register(FeatureKind(name="classic", label="Colour-texture", description="colour-texture features",
                     make=ClassicExtractor, unavailable=lambda load_runtime: None,
                     vote_defaults=VoteDefaults, preference=10, held_out=_classic_held_out))
