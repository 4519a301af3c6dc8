"""Help > About dermview."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from .. import NOT_A_MEDICAL_DEVICE, __version__


def show_about(parent: QWidget) -> None:
    QMessageBox.about(parent, "About dermview",
                      f"<p><b>dermview {__version__}</b></p><p>{NOT_A_MEDICAL_DEVICE}</p>"
                      "<p>Archive: HAM10000 (Tschandl, Rosendahl &amp; Kittler, Sci. Data 5, 180161, 2018), "
                      "CC BY-NC-SA 4.0.</p>")
