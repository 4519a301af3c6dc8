"""Whose images may be neighbours: the archive, the practice's own confirmed cases, or both. A module of its own,
light to import: the command line's parsers offer the choice without loading the predictor."""

from __future__ import annotations

from enum import Enum


class SearchIn(str, Enum):
    """Whose images may be neighbours: the archive, the practice's own confirmed cases, or both."""

    ARCHIVE = "archive"
    OWN = "own"
    BOTH = "both"

    @property
    def label(self) -> str:
        return {"archive": "Archive only", "own": "Own cases only", "both": "Archive and own cases"}[self.value]

    @property
    def whose(self) -> str:
        """Whose nearest lesions a result shows: "The 18 nearest {whose}"."""
        return {"archive": "archive lesions", "own": "of your own cases",
                "both": "lesions (archive and your own cases)"}[self.value]

    @property
    def archive(self) -> bool:
        return self is not SearchIn.OWN

    @property
    def own(self) -> bool:
        return self is not SearchIn.ARCHIVE


DEFAULT_SEARCH = SearchIn.BOTH  # a practice's own confirmed cases join the archive once there are any
