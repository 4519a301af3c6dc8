"""Qt-free access to a HAM10000 archive: validated metadata and thread-safe image reads."""

from .archive import Archive, open_archive
from .codes import DX_CODES, DX_NAMES, DX_TYPE_NAMES, ISIC_COLUMNS, dx_label, dx_type_label
from .imaging import decode_image, load_image_file

__all__ = ["Archive", "open_archive", "DX_CODES", "DX_NAMES", "DX_TYPE_NAMES", "ISIC_COLUMNS",
           "dx_label", "dx_type_label", "decode_image", "load_image_file"]
