"""The HAM10000 vocabularies: diagnosis codes, how a diagnosis was confirmed, and their display names."""

DX_NAMES = {
    "akiec": "Actinic keratosis / Bowen's disease",
    "bcc": "Basal cell carcinoma",
    "bkl": "Benign keratosis",
    "df": "Dermatofibroma",
    "mel": "Melanoma",
    "nv": "Melanocytic nevus",
    "vasc": "Vascular lesion",
}
DX_CODES = tuple(DX_NAMES)  # fixed order everywhere: alphabetical, as in the published table

# The column order of the ISIC 2018 Task 3 files (ground truth and submissions).
ISIC_COLUMNS = ("MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC")

DX_TYPE_NAMES = {
    "histo": "Histopathology",
    "follow_up": "Follow-up",
    "consensus": "Expert consensus",
    "confocal": "Confocal microscopy",
}


def dx_label(code: str) -> str:
    """'Melanoma (mel)'."""
    name = DX_NAMES.get(code)
    return f"{name} ({code})" if name else code


def dx_type_label(code: str) -> str:
    return DX_TYPE_NAMES.get(code, code)
