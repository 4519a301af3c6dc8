"""The first screen: what dermview is, where to get HAM10000, and a button to choose it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from .. import NOT_A_MEDICAL_DEVICE
from .text import plain_label

START_TEXT = f"""
<h2>dermview</h2>
<p>Browse the HAM10000 archive of dermatoscopic images, and see which archive images a new image
resembles most - with the diagnoses they carry.</p>
<p><b>{NOT_A_MEDICAL_DEVICE}</b></p>
<h3>You need the HAM10000 archive</h3>
<p>HAM10000 (Tschandl, Rosendahl &amp; Kittler, <i>Sci. Data</i> 5, 180161, 2018) holds 10,015
dermatoscopic images of pigmented lesions in seven diagnoses. It is free for non-commercial use under
CC BY-NC-SA 4.0; download it from the Harvard Dataverse record (doi:10.7910/DVN/DBW86T) or the ISIC
archive. dermview reads it where it is and never changes it.</p>
<p>Choose the folder that holds it, in any of these layouts:</p>
<ul>
<li>as published: <code>HAM10000_metadata</code> (.csv or .tab) with <code>HAM10000_images_part1.zip</code>
and <code>HAM10000_images_part2.zip</code> - no need to unpack;</li>
<li>the Kaggle copy: <code>HAM10000_images_part_1/</code> and <code>HAM10000_images_part_2/</code> folders;</li>
<li>one folder of <code>ISIC_*.jpg</code> images next to the metadata file.</li>
</ul>
"""


class StartPage(QWidget):
    choose = Signal()

    def __init__(self):
        super().__init__()
        # A text browser, not a QLabel: a word-wrapped rich-text label misjudges its height and cut
        # off the list of layouts, which is the part a first-time user needs most.
        text = QTextBrowser()
        text.setObjectName("start-text")
        text.setOpenExternalLinks(True)
        text.setFrameShape(QFrame.Shape.NoFrame)
        text.setStyleSheet("background: transparent;")
        text.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        text.setHtml(START_TEXT)
        text.setFixedWidth(760)
        text.document().setTextWidth(760)
        text.setFixedHeight(int(text.document().size().height()) + 12)
        self.text = text
        self.error = plain_label("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a00000;")
        self.error.setFixedWidth(760)  # a fixed width lets the wrapped message take the height it needs
        button = QPushButton("Choose archive folder...")
        button.setObjectName("choose-archive")
        button.clicked.connect(self.choose)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (text, self.error, button):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

    def error_text(self) -> str:
        """The sentence shown for the last archive that could not be opened, or ""."""
        return self.error.text()

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        # Centred widgets get no height-for-width from the layout: give the wrapped text its height.
        self.error.setMinimumHeight(self.error.heightForWidth(self.error.width()))
