"""The practice's confirmed cases as neighbours beside the archive, kept current without rebuilding anything.

:class:`OwnCases` holds the confirmed cases (one of the seven diagnoses) as points in the archive index's
embedded space, for one similarity. :meth:`OwnCases.refresh` runs before each query: when nothing changed
it costs one read of the library's revision number; otherwise it lists the confirmed cases again and
keeps every vector it already has, so confirming a case costs one row, not a rebuild of the archive's
10,015-image index. A case whose image has no stored vector for this similarity (imported, or added with
another one) is described once and its vector stored for every workstation.
"""

from __future__ import annotations

import logging

import numpy as np

from ..archive.codes import dx_indices
from ..archive.inputs import bytes_input
from ..errors import DermviewError
from ..model.extractors import vector_key
from ..model.knn import LIBRARY, Neighbour
from .store import CaseLibrary, SearchableCase

log = logging.getLogger(__name__)

LIBRARY_IMAGE_PREFIX = "library:"  # a neighbour image id for a library image: this prefix + its SHA-256


def library_image_id(sha256: str) -> str:
    return LIBRARY_IMAGE_PREFIX + sha256


def library_sha256(image_id: str) -> str | None:
    """The SHA-256 of a library image id, or None for an archive image id."""
    return image_id[len(LIBRARY_IMAGE_PREFIX):] if image_id.startswith(LIBRARY_IMAGE_PREFIX) else None


def library_picture(library: CaseLibrary, sha256: str, draft_size: int | tuple[int, int] | None = None, *,
                    name: str | None = None):
    """A library image, decoded (from a JPEG draft of at least ``draft_size``); errors name it ``name``
    (default: its SHA-256). Raises DermviewError."""
    data = library.image(sha256)
    return bytes_input(name or sha256, data).decode(data, draft_size)


def load_neighbour_image(archive, library: CaseLibrary | None, image_id: str,
                         draft_size: int | tuple[int, int] | None = None):
    """The picture of a neighbour: an archive image, or a library case's image (by its SHA-256).
    Raises DermviewError."""
    digest = library_sha256(image_id)
    if digest is None:
        return archive.load_image(image_id, draft_size=draft_size)
    if library is None:
        raise DermviewError("The case library is not open, so its image cannot be shown.")
    return library_picture(library, digest, draft_size)


class OwnCases:
    """Confirmed cases as searchable points (dermview.model.predictor.ExtraPoints). Used on one thread
    (the model worker, or the command line); ``embedded`` and ``labels`` are replaced, never changed in place."""

    def __init__(self, library: CaseLibrary, extractor, projection):
        self.library = library
        self.extractor = extractor
        self.projection = projection
        self.key = vector_key(extractor)
        self.revision = -1
        self.cases: list[SearchableCase] = []
        self.embedded = np.zeros((0, 0), np.float32)
        self.labels = np.zeros(0, np.int64)
        self.unreadable: dict[str, str] = {}  # case id -> why its image could not be described
        self._embedded_by_image: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.labels)

    def refresh(self) -> bool:
        """Catch up with the library; True if anything changed. Raises DermviewError (server unreachable)."""
        revision = self.library.revision()  # before the list: a change after it is seen next time
        if revision == self.revision:
            return False
        cases = self.library.searchable(self.key, known=self._embedded_by_image.keys())
        usable: list[SearchableCase] = []
        for case in cases:
            if case.sha256 not in self._embedded_by_image:
                vector = case.vector if case.vector is not None else self._describe(case)
                if vector is None:
                    continue
                self._embedded_by_image[case.sha256] = self.projection.transform(vector[None])[0].astype(np.float32)
            usable.append(case)
        self.cases = usable
        if usable:
            self.embedded = np.stack([self._embedded_by_image[c.sha256] for c in usable])
        else:
            self.embedded = np.zeros((0, 0), np.float32)
        self.labels = dx_indices([c.dx for c in usable]) if usable else np.zeros(0, np.int64)
        self.revision = revision
        return True

    def _describe(self, case: SearchableCase) -> np.ndarray | None:
        """The vector of a case's image, computed now and stored; None (and why, in ``unreadable``) if it
        cannot be read."""
        try:
            image = library_picture(self.library, case.sha256, self.extractor.draft_size, name=case.case_id)
            vector = self.extractor.extract(self.extractor.prepare(image)[None])[0].astype(np.float32)
        except DermviewError as exc:
            self.unreadable[case.case_id] = str(exc)
            log.warning("case %s is not searchable: %s", case.case_id, exc)
            return None
        if not np.isfinite(vector).all():
            self.unreadable[case.case_id] = "its image could not be described (its features are undefined)."
            return None
        self.library.store_features(case.sha256, self.key, vector)
        return vector

    def picture(self, image_id: str, draft_size: int | tuple[int, int] | None = None):
        """The image of a library neighbour id, or None for an archive image id. Raises DermviewError."""
        digest = library_sha256(image_id)
        return None if digest is None else library_picture(self.library, digest, draft_size)

    def neighbour(self, row: int, distance: float) -> Neighbour:
        case = self.cases[row]
        return Neighbour(image_id=library_image_id(case.sha256), lesion_id=f"case {case.case_id}", dx=case.dx,
                         dx_type=case.dx_type, distance=distance, source=LIBRARY, case_id=case.case_id)


def search_library(session, library: CaseLibrary) -> OwnCases:
    """Let ``session`` (a dermview.model.session.ModelSession) search ``library``'s confirmed cases beside the
    archive, per its ``search`` choice. Describes, once, any case image with no stored vector for its
    features (minutes for thousands of imported cases). Raises DermviewError (server unreachable)."""
    own = OwnCases(library, session.extractor, session.index.projection)
    own.refresh()
    session.own = own
    return own
