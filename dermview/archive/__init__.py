"""Qt-free access to a HAM10000 archive: validated metadata and thread-safe image reads.

The names below are imported when first used (PEP 562), so that a module needing only the diagnosis codes
(``dermview.archive.codes``) does not pay for pandas: the command line builds its parser without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .archive import Archive, open_archive
    from .codes import DX_CODES, DX_NAMES, DX_TYPE_NAMES, ISIC_COLUMNS, dx_label, dx_type_label
    from .imaging import decode_image, load_image_file

_WHERE = {"Archive": ".archive", "open_archive": ".archive", "DX_CODES": ".codes", "DX_NAMES": ".codes",
          "DX_TYPE_NAMES": ".codes", "ISIC_COLUMNS": ".codes", "dx_label": ".codes", "dx_type_label": ".codes",
          "decode_image": ".imaging", "load_image_file": ".imaging"}

__all__ = ["Archive", "open_archive", "DX_CODES", "DX_NAMES", "DX_TYPE_NAMES", "ISIC_COLUMNS",
           "dx_label", "dx_type_label", "decode_image", "load_image_file"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value
