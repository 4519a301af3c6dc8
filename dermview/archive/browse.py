"""Faceted browsing of the metadata, in numpy: the Qt models only show the rows this returns.

Each facet (diagnosis, confirmation type, sex, body site, source dataset) is a set of chosen
values (empty = no restriction). A value's count is the number of rows that match every *other*
restriction and this value, so the numbers next to the check boxes always say what ticking one
would add.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

FACETS = ("dx", "dx_type", "sex", "localization", "dataset")
AGE_MIN, AGE_MAX = 0, 100


@dataclass
class Filter:
    selected: dict[str, set[str]] = field(default_factory=dict)
    age_range: tuple[int, int] = (AGE_MIN, AGE_MAX)
    text: str = ""  # part of a lesion_id or image_id, any case

    def age_active(self) -> bool:
        return tuple(self.age_range) != (AGE_MIN, AGE_MAX)


class Browser:
    def __init__(self, metadata: pd.DataFrame):
        self.metadata = metadata
        self.values: dict[str, list[str]] = {}
        self.codes: dict[str, np.ndarray] = {}
        for facet in FACETS:
            column = metadata[facet].astype(str)
            # most frequent first, as a clinician scans them
            order = column.value_counts().index.tolist()
            self.values[facet] = order
            lookup = {v: i for i, v in enumerate(order)}
            self.codes[facet] = column.map(lookup).to_numpy(np.int32)
        self.age = metadata["age"].to_numpy(np.float32)
        self.search_keys = (metadata["lesion_id"].str.lower() + " " + metadata["image_id"].str.lower()).to_numpy(str)

    def _facet_mask(self, facet: str, chosen: set[str]) -> np.ndarray | None:
        if not chosen:
            return None
        wanted = [self.values[facet].index(v) for v in chosen if v in self.values[facet]]
        return np.isin(self.codes[facet], wanted)

    def _base_mask(self, flt: Filter) -> np.ndarray:
        mask = np.ones(len(self.metadata), bool)
        if flt.age_active():
            lo, hi = flt.age_range
            with np.errstate(invalid="ignore"):
                mask &= (self.age >= lo) & (self.age <= hi)  # unknown ages drop out of a narrowed range
        text = flt.text.strip().lower()
        if text:
            mask &= np.char.find(self.search_keys, text) >= 0
        return mask

    def rows(self, flt: Filter) -> np.ndarray:
        mask = self._base_mask(flt)
        for facet in FACETS:
            m = self._facet_mask(facet, flt.selected.get(facet, set()))
            if m is not None:
                mask &= m
        return np.flatnonzero(mask)

    def counts(self, flt: Filter) -> dict[str, dict[str, int]]:
        base = self._base_mask(flt)
        masks = {f: self._facet_mask(f, flt.selected.get(f, set())) for f in FACETS}
        out = {}
        for facet in FACETS:
            mask = base.copy()
            for other, m in masks.items():
                if other != facet and m is not None:
                    mask &= m
            counted = np.bincount(self.codes[facet][mask], minlength=len(self.values[facet]))
            out[facet] = {v: int(c) for v, c in zip(self.values[facet], counted)}
        return out

    def sort(self, rows: np.ndarray, column: str, descending: bool = False) -> np.ndarray:
        values = self.metadata[column].to_numpy()[rows]
        if column == "age":
            keys = np.where(np.isnan(values.astype(np.float32)), np.inf, values.astype(np.float32))
        else:
            keys = np.asarray(values).astype(str)
        order = np.argsort(keys, kind="stable")
        if descending:
            order = order[::-1]
        return rows[order]


def lesion_mates(metadata: pd.DataFrame, image_id: str) -> tuple[pd.Series, list[tuple[str, str]]]:
    """An archive image's metadata row, and the other images of its lesion as (image_id, dx) pairs."""
    row = metadata.loc[metadata["image_id"] == image_id].iloc[0]
    same = metadata[(metadata["lesion_id"] == row["lesion_id"]) & (metadata["image_id"] != image_id)]
    return row, list(zip(same["image_id"], same["dx"].astype(str)))
