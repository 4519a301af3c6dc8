"""The learned embedding: a dermoscopy-trained network (ONNX) that turns an image into 1280 numbers.

The network is trained by ``training/train_embedding.py`` and shipped as
``dermview/resources/models/dermview-embedding.onnx`` with a JSON sidecar (input size, the k and vote
correction chosen on held-out lesions, what it was trained on). It runs with onnxruntime on the CPU.
Both are optional: without the model file or without onnxruntime dermview falls back to the
colour-texture features, and :func:`availability` says why in words a user can act on.

The image preparation lives here, and the training imports it, so the two can never drift apart.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import DermviewError
from . import features
from .familiarity import KindClassifier
from .field import crop_to_field, illuminant
from .runtime import shared_session, to_network_input  # noqa: F401  (to_network_input: the training imports it here)

MODEL_NAME = "dermview-embedding"
# The square a network reads when its sidecar does not say (the first recipe's; every sidecar has said
# since, and the shipped network reads 256: training/train_embedding.INPUT_SIZE).
SIDECAR_DEFAULT_INPUT_SIZE = 192
# The lesion-grouped split a held-out model leaves out one fold of (StratifiedGroupKFold over the
# archive's available images in metadata order, grouped by lesion_id).
HELD_OUT_FOLDS, HELD_OUT_SEED = 5, 0
# How much the colour-texture features count beside the network's embedding (LearnedExtractor): their
# projection is scaled to this length against the embedding's 1. Chosen on validation lesions, never a
# test fold, with the fold-0 and fold-2 networks (training/heldout/levers-fold{0,2}-colour-validation.json;
# k and the vote correction chosen on one half, scored on the other). Accuracy / balanced accuracy /
# melanoma recall, mean of the two networks: embedding alone 0.772 / 0.656 / 0.530; colour-texture at
# 0.25: 0.773 / 0.672 / 0.558, at 0.5: 0.774 / 0.700 / 0.586, at 0.75: 0.773 / 0.700 / 0.588, at 1:
# 0.764 / 0.675 / 0.566. 0.5 and 0.75 tie; 0.5 is the one tried first (on the colour-texture index's
# features, 0.779 / 0.702 / 0.594 and 0.786 / 0.709 / 0.586 for the two networks).
COLOUR_WEIGHT = 0.5
ENV_MODEL = "DERMVIEW_EMBEDDING_MODEL"  # points dermview at another .onnx (tests, retrained models)


def input_shape(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """A network's input as a sidecar records it -> (width, height): a number is a square, [width,
    height] a rectangle (320x240 keeps the archive's 4:3 shape). Raises ValueError otherwise."""
    if isinstance(size, (list, tuple)) and len(size) == 2:
        width, height = (int(side) for side in size)
    elif isinstance(size, (int, float)) and not isinstance(size, bool):
        width = height = int(size)
    else:
        raise ValueError(f"an input size is a number or [width, height], not {size!r}")
    if min(width, height) < 1:
        raise ValueError(f"an input size must be at least 1x1 pixel, not {width}x{height}")
    return width, height


def draft_size(shape: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of a network's input -> the (long, short) sides a JPEG draft must keep
    (archive.imaging.decode_image's draft_size), whichever way the image lies."""
    return max(shape), min(shape)


def prepare_image(image: Image.Image, size: int | tuple[int, int] = SIDECAR_DEFAULT_INPUT_SIZE,
                  grey_world_power: float = 0.0, field_of_view: bool = False,
                  lesion_centred: bool = False) -> np.ndarray:
    """The whole image, squashed to (height, width, 3) RGB uint8 (``size``: a square's side or (width,
    height)); with ``field_of_view``, first cropped to what the dermatoscope lit (field.crop_to_field);
    with ``grey_world_power``, its colour cast taken out (:func:`shades_of_grey`), as the network was
    trained; with ``lesion_centred``, cropped to a box around the lesion's outline (outline.lesion_view).
    For a rectangle, an image standing the other way is turned a quarter first."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    if field_of_view:
        image = crop_to_field(image)
    if lesion_centred:
        from .outline import lesion_view

        image = lesion_view(image)
    width, height = input_shape(size)
    if width != height and image.width != image.height and (width > height) != (image.width > image.height):
        # A dermatoscopic image has no "up": turning a portrait photograph loses nothing, squashing it would.
        image = image.transpose(Image.Transpose.ROTATE_90)
    pixels = np.asarray(image.resize((width, height), Image.Resampling.BILINEAR), np.uint8)
    return shades_of_grey(pixels, grey_world_power) if grey_world_power else pixels


def shades_of_grey(pixels: np.ndarray, power: float) -> np.ndarray:
    """(H, W, 3) uint8 -> the same with its illuminant made grey: each channel scaled so that the
    channels' power means (Finlayson and Trezzi's shades of grey; power 6 in the ISIC 2018-2019 winners'
    preprocessing) are equal, keeping their average. Takes out a camera's or a clinic's colour cast."""
    x = pixels.astype(np.float32)
    light = illuminant(x, power)  # (3,)
    gain = light.mean() / np.maximum(light, 1e-3)
    return np.clip(np.rint(x * gain), 0, 255).astype(np.uint8)


def split_fingerprint(image_ids, lesion_ids, dx) -> str:
    """Identifies the images (in order), lesions and diagnoses a held-out split was drawn from: the
    same fold of a different archive would be different images, some of them trained on."""
    h = hashlib.sha256()
    for row in zip(image_ids, lesion_ids, dx):
        h.update(("|".join(map(str, row)) + "\n").encode())
    return h.hexdigest()[:16]


def default_model_path() -> Path | None:
    from ..paths import shipped_model

    return shipped_model(MODEL_NAME, ENV_MODEL)


@dataclass(frozen=True)
class ModelInfo:
    """What the sidecar JSON says about a model file."""

    path: Path
    version: str  # changes whenever the file's bytes change: it keys the index cache
    k: int
    prior_power: float
    trained_on: str  # "all" or e.g. "fold 0 held out"
    held_out_fold: int | None
    held_out: dict | None  # metrics on held-out lesions, from the training run's report
    card: dict
    input_shape: tuple[int, int] = (SIDECAR_DEFAULT_INPUT_SIZE, SIDECAR_DEFAULT_INPUT_SIZE)  # (width, height) the network reads
    grey_world_power: float = 0.0  # the colour cast taken out before the network (shades_of_grey), 0: not
    field_of_view: bool = False  # images cropped to the dermatoscope's lit field first (field.crop_to_field)
    lesion_centred: bool = False  # images cropped around the lesion's outline first (outline.lesion_view)
    # Every held-out report the sidecar carries, in fold order: ``held_out`` (whose k and vote correction
    # the model uses) and the same recipe's reports on other folds ("other_held_out_metrics").
    held_out_folds: tuple[dict, ...] = ()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


@lru_cache(maxsize=8)
def _read_info(path: Path, mtime_ns: int, size: int) -> ModelInfo:
    sidecar = path.with_suffix(".json")
    card = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
    fold = card.get("held_out_fold")
    return ModelInfo(path=path, version=f"{card.get('version', 'unversioned')}-{_file_digest(path)}",
                     k=int(card.get("k", 15)), prior_power=float(card.get("prior_power", 0.5)),
                     trained_on="all" if fold is None else f"fold {fold} held out",
                     held_out_fold=fold, held_out=card.get("held_out_metrics"), card=card,
                     input_shape=input_shape(card.get("input_size", SIDECAR_DEFAULT_INPUT_SIZE)),
                     grey_world_power=float(card.get("grey_world_power", 0.0)),
                     field_of_view=bool(card.get("field_of_view", False)),
                     lesion_centred=bool(card.get("lesion_centred", False)),
                     held_out_folds=held_out_reports(card))


def held_out_reports(card: dict) -> tuple[dict, ...]:
    """A sidecar's held-out reports, in fold order (the one its k came from and the others); an entry
    that is not a report of a numbered fold is left out rather than trusted."""
    others = card.get("other_held_out_metrics")
    reports = [card.get("held_out_metrics"), *(others if isinstance(others, list) else [])]
    return tuple(sorted((r for r in reports if isinstance(r, dict) and isinstance(r.get("held_out_fold"), int)),
                        key=lambda report: report["held_out_fold"]))


def held_out_figures(reports: tuple[dict, ...] | list[dict]) -> dict | None:
    """What the app quotes about the learned similarity on lesions it never saw (the FeatureKind.held_out
    dict: accuracy, balanced accuracy, per_class, confusion, n, source, by_fold), from held-out reports:
    several folds are pooled (metrics.pooled_metrics), each fold scored by the same recipe trained
    without it. None without a report."""
    from .metrics import pooled_metrics

    usable = [r for r in reports if isinstance(r.get("learned"), dict) and "confusion" in r["learned"]]
    if not usable:
        return None
    folds = [{"fold": r["held_out_fold"], "n": r["n_test"], "accuracy": r["learned"]["accuracy"],
              "balanced_accuracy": r["learned"]["balanced_accuracy"],
              "mel_recall": r["learned"]["per_class"]["mel"]["recall"]} for r in usable]
    n = sum(fold["n"] for fold in folds)
    if len(usable) == 1:
        return {**usable[0]["learned"], "n": n, "by_fold": folds,
                "source": f"held-out fold {folds[0]['fold']}: {n:,} images of lesions the network was never "
                          "trained on (the same recipe, trained without them)"}
    numbers = [str(fold["fold"]) for fold in folds]
    return {**pooled_metrics([r["learned"] for r in usable]), "n": n, "by_fold": folds,
            "source": f"held-out folds {', '.join(numbers[:-1])} and {numbers[-1]} together: {n:,} images of "
                      "lesions the network was never trained on"}


def kinds_path(model_path: Path) -> Path:
    """Where the image-kind classifier fitted on ``model_path``'s embedding lives (familiarity.KindClassifier)."""
    return model_path.with_name(f"{model_path.stem}.kinds.json")


@lru_cache(maxsize=8)
def _read_kinds(path: Path, mtime_ns: int, version: str) -> KindClassifier | None:
    try:
        classifier = KindClassifier.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # damaged: the colour-texture check still guards the query
    return classifier if classifier.model_version == version else None


def kind_classifier(info: ModelInfo) -> KindClassifier | None:
    """The image-kind classifier shipped beside ``info``'s model file, if it was fitted on this very model's
    embedding (its version names the file's digest); None otherwise, or if it is missing or damaged."""
    path = kinds_path(info.path)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    return _read_kinds(path, mtime, info.version)


def external_figures(card: dict) -> dict | None:
    """The external check a sidecar carries ("external_check": dermview evaluate --external on the unread part
    of another clinic's dermoscopy, dermview.model.external), as the app quotes it: {"source", "per_class"
    (recall and called_melanoma per diagnosis present), "melanoma_auc", "n"}; None without one."""
    check = card.get("external_check")
    if not isinstance(check, dict) or not isinstance(check.get("overall"), dict):
        return None
    overall = check["overall"]
    per_class = {dx: row for dx, row in overall.get("per_class", {}).items()
                 if isinstance(row, dict) and {"recall", "called_melanoma", "n"} <= set(row)}
    return {"source": str(check.get("source", "dermoscopy from other clinics")), "per_class": per_class,
            "melanoma_auc": overall.get("melanoma_auc"), "n": overall.get("n")}


def model_info(path: Path | None = None) -> ModelInfo:
    path = Path(path) if path is not None else default_model_path()
    if path is None:
        raise FileNotFoundError("no learned model file is installed")
    stat = path.stat()
    return _read_info(path.resolve(), stat.st_mtime_ns, stat.st_size)


def availability(path: Path | None = None, *, load_runtime: bool = True) -> str | None:
    """None if the learned features can be used; otherwise why not, for the user to read.

    ``load_runtime=False`` only checks that onnxruntime is installed (the import costs ~0.4 s, too
    long for the GUI thread); the model worker imports it for real and falls back if that fails.
    """
    if load_runtime:
        try:
            import onnxruntime  # noqa: F401
        except Exception as exc:  # ImportError, or a broken native library
            return f"onnxruntime is not installed or cannot load ({exc.__class__.__name__}: {exc})"
    else:
        import importlib.util

        if importlib.util.find_spec("onnxruntime") is None:
            return "onnxruntime is not installed"
    path = Path(path) if path is not None else default_model_path()
    if path is None or not path.is_file():
        return "the learned model file is not installed"
    try:
        info = model_info(path)
    except (OSError, ValueError, TypeError) as exc:
        return f"the learned model's description could not be read ({exc})"
    if load_runtime:
        # Opening the network once proves the file is whole; the session is kept for the queries.
        try:
            shared_session(info.path, info.version, 1)
        except DermviewError as exc:
            return str(exc).rstrip(".")
    return None


class LearnedExtractor:
    """Feature extractor for dermview.model.index: the network's embedding (1280 numbers per member
    network, L2-normalised) followed by the image's colour-texture features (dermview.model.features).

    The similarity space puts the two side by side (:data:`COLOUR_WEIGHT`, projection.fit_combined):
    the embedding as it is, and the kernel-LDA projection of the colour-texture features fitted on the
    archive, at a quarter of the embedding's weight in squared distances. Both come from one decode.
    """

    name = "learned"
    draft_size: tuple[int, int]  # (long, short) side of the network's input: more than the colour-texture features need (96x72)
    batch_size = 32
    description = "learned dermoscopy embedding with colour-texture features"
    projected = True  # the colour-texture part's projection is fitted on the archive
    tail_weight = COLOUR_WEIGHT
    colour_texture_from: int | None  # = passthrough: the colour-texture features follow the embedding

    def __init__(self, path: Path | None = None, threads: int | None = None):
        self.info = model_info(path)
        self.version = f"{self.info.version}+colour-{features.FEATURE_VERSION}-w{COLOUR_WEIGHT:g}"
        self.input_shape = self.info.input_shape  # (width, height)
        self.draft_size = draft_size(self.input_shape)
        self.passthrough = int(self.info.card.get("embedding_dim", 1280))  # the embedding's columns
        self.colour_texture_from = self.passthrough
        # The shipped network has seen every archive image; a held-out one has not seen its fold.
        self.trained_on_archive = self.info.held_out_fold is None
        self._threads = threads
        self._session: Any = None  # an onnxruntime.InferenceSession, made on first use
        # Tells dermoscopy from clinical photographs and other pictures by the embedding (None: not shipped).
        self.kinds = kind_classifier(self.info)

    def _get_session(self):
        session = self._session
        if session is None:
            session = shared_session(self.info.path, self.info.version, self._threads or 1)
            network_input = session.get_inputs()[0]
            shape = network_input.shape  # [batch, 3, height, width]
            width, height = self.input_shape
            if list(shape[2:]) != [height, width]:
                raise DermviewError(f"The learned model file {self.info.path.name} reads {shape[3]}x{shape[2]} images but "
                                    f"its description says {width}x{height}; the two do not belong together.")
            self._session, self._input = session, network_input.name
        return session

    def prepare_network(self, image: Image.Image) -> np.ndarray:
        """(height, width, 3) uint8: what this network reads, prepared as it was trained."""
        return prepare_image(image, self.input_shape, self.info.grey_world_power, self.info.field_of_view,
                             self.info.lesion_centred)

    def prepare(self, image: Image.Image) -> np.ndarray:
        """(L,) uint8: the network's input and the colour-texture working image, flattened end to end. (For a
        network trained on lesion-centred views only the network's part is cropped: the colour-texture
        features of the view instead found fewer external melanomas, docs/experiments.md.)"""
        return np.concatenate([self.prepare_network(image).ravel(), features.to_work_array(image).ravel()])

    def extract(self, batch: np.ndarray) -> np.ndarray:
        """(N, L) prepared images -> (N, passthrough + colour-texture features) float32."""
        width, height = self.input_shape
        cut = width * height * 3
        network = batch[:, :cut].reshape(len(batch), height, width, 3)
        colour = batch[:, cut:].reshape(len(batch), features.WORK_SIZE[1], features.WORK_SIZE[0], 3)
        return np.hstack([self.embed(network), features.extract_batch(colour)])

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """The network alone: (N, height, width, 3) uint8 from prepare_network -> (N, passthrough)."""
        session = self._get_session()
        out = session.run(None, {self._input: to_network_input(batch)})[0].astype(np.float32)
        # The network normalises already; repeating it costs nothing and guards a retrained export.
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)
