"""The HAM10000 vocabularies: diagnosis codes, how a diagnosis was confirmed, and their display names."""

import numpy as np

DX_NAMES = {
    "akiec": "Actinic keratosis / Bowen's disease",
    "bcc": "Basal cell carcinoma",
    "bkl": "Benign keratosis",
    "df": "Dermatofibroma",
    "mel": "Melanoma",
    "nv": "Melanocytic nevus",
    "vasc": "Vascular lesion",
}
# Where a line is short (a neighbour tile, a worklist cell): the full name is in the tool tip.
DX_SHORT_NAMES = {**DX_NAMES, "akiec": "AK / Bowen's disease"}
DX_CODES = tuple(DX_NAMES)  # fixed order everywhere: alphabetical, as in the published table
_DX_SORTED = np.array(DX_CODES)

# The column order of the ISIC 2018 Task 3 files (ground truth and submissions).
ISIC_COLUMNS = ("MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC")

DX_TYPE_NAMES = {
    "histo": "Histopathology",
    "follow_up": "Follow-up",
    "consensus": "Expert consensus",
    "confocal": "Confocal microscopy",
}


def dx_indices(codes) -> np.ndarray:
    """Diagnosis codes (validated, so all known) as integer labels: positions in DX_CODES."""
    return np.searchsorted(_DX_SORTED, np.asarray(codes, dtype=str))


def dx_label(code: str) -> str:
    """'Melanoma (mel)'."""
    name = DX_NAMES.get(code)
    return f"{name} ({code})" if name else code


def dx_type_label(code: str) -> str:
    return DX_TYPE_NAMES.get(code, code)
