"""Answering queries: an image (new or from the archive) -> vote shares, diagnosis, neighbours."""

from __future__ import annotations

from functools import cached_property
from typing import Protocol

import numpy as np
from PIL import Image

from ..archive import Archive
from .search_in import DEFAULT_SEARCH, SearchIn  # noqa: F401  (re-exported: the window and the session use it here)
from ..archive.codes import DX_CODES, dx_indices
from ..errors import DermviewError
from .extractors import VoteDefaults, get_extractor, get_kind
from .index import ArchiveIndex
from .knn import (Neighbour, Prediction, class_prior, decide, knn_vote, squared_distances, squared_distances_to,
                  squared_norms)




class ExtraPoints(Protocol):
    """Searchable points besides the archive (dermview.library.search: the practice's confirmed cases)."""

    embedded: np.ndarray  # (M, d), in the index's embedded space
    labels: np.ndarray  # (M,) indices into DX_CODES

    def neighbour(self, row: int, distance: float) -> Neighbour: ...


class Predictor:
    """Thread-compatible: queries only read the arrays; build one per index."""

    def __init__(self, archive: Archive, index: ArchiveIndex, vote: VoteDefaults | None = None):
        self.archive = archive
        self.index = index
        # The kind's own k and vote correction (the learned model carries those chosen on held-out lesions).
        self.vote = vote or get_kind(index.extractor).vote_defaults()
        self.extractor = get_extractor(index.extractor)
        meta = archive.metadata.set_index("image_id").loc[index.image_ids]
        self.lesion_ids = meta["lesion_id"].to_numpy().astype(str)
        self.dx = meta["dx"].astype(str).to_numpy()
        self.dx_type = meta["dx_type"].astype(str).to_numpy()
        self.labels = dx_indices(self.dx)
        self.prior = class_prior(self.labels)
        self._row = {image_id: i for i, image_id in enumerate(index.image_ids)}
        self._lesion_by_image = dict(zip(archive.metadata["image_id"], archive.metadata["lesion_id"].astype(str)))

    @cached_property
    def _norms(self) -> np.ndarray:
        """The indexed points' squared lengths: computed by the first query (a worker), not the constructor."""
        return squared_norms(self.index.embedded)

    def lesion_of(self, image_id: str) -> str | None:
        """The lesion of an archive image id, or None if the archive has no such image."""
        return self._lesion_by_image.get(image_id)

    def features_of(self, image: Image.Image) -> np.ndarray:
        return self.extractor.extract(self.extractor.prepare(image)[None])[0]

    def predict_features(self, features: np.ndarray, *, k: int | None = None, exclude_lesion: str | None = None,
                         extra: ExtraPoints | None = None, archive: bool = True) -> Prediction:
        """Vote among the archive's images (unless ``archive`` is False) and the ``extra`` points, together:
        one k, one distance, one prior correction (each diagnosis's share of the points searched)."""
        k = k or self.vote.k
        query = self.index.projection.transform(features[None])
        blocks, labels = [], []
        if archive:
            exclude = (self.lesion_ids == exclude_lesion)[None] if exclude_lesion else None
            # once, for neighbours and scores
            blocks.append(squared_distances_to(self.index.embedded, self._norms, query[0], exclude))
            labels.append(self.labels)
        if extra is not None and len(extra.labels) == 0:
            extra = None
        if extra is not None:
            blocks.append(squared_distances(extra.embedded, query))
            labels.append(extra.labels)
        if not blocks:
            raise DermviewError("There is nothing to search: the case library has no confirmed case with one of "
                                "the seven diagnoses yet. Search the archive, or confirm cases first.")
        all_labels = np.concatenate(labels)
        prior = self.prior if extra is None else class_prior(all_labels)
        idx, dist, shares, all_scores = knn_vote(np.concatenate(blocks, axis=1), all_labels, k, prior,
                                                 self.vote.prior_power)
        scores = all_scores[0]
        n_archive = len(self.labels) if archive else 0
        neighbours = [self._archive_neighbour(i, float(d)) if extra is None or i < n_archive
                      else extra.neighbour(i - n_archive, float(d)) for i, d in zip(idx[0], dist[0]) if np.isfinite(d)]
        return Prediction(prediction=DX_CODES[int(decide(shares)[0])],
                          votes={c: float(v) for c, v in zip(DX_CODES, shares[0])}, neighbours=neighbours,
                          scores={c: float(v) for c, v in zip(DX_CODES, scores)})

    def _archive_neighbour(self, row: int, distance: float) -> Neighbour:
        return Neighbour(image_id=str(self.index.image_ids[row]), lesion_id=str(self.lesion_ids[row]),
                         dx=str(self.dx[row]), dx_type=str(self.dx_type[row]), distance=distance)

    def predict_image(self, image: Image.Image, *, k: int | None = None) -> Prediction:
        return self.predict_features(self.features_of(image), k=k)

    def predict_archive_image(self, image_id: str, *, k: int | None = None, exclude_own_lesion: bool = True,
                              extra: ExtraPoints | None = None, archive: bool = True) -> Prediction:
        """'Find similar' for an archive image: by default its own lesion's images cannot vote."""
        row = self._row.get(image_id)
        if row is None:
            features = self.features_of(self.archive.load_image(image_id, draft_size=self.extractor.draft_size))
            lesion = self.lesion_of(image_id)
        else:
            features, lesion = self.index.features[row], self.lesion_ids[row]
        return self.predict_features(features, k=k, exclude_lesion=lesion if exclude_own_lesion else None,
                                     extra=extra, archive=archive)
