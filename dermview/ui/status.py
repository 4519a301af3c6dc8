"""The window's status bar: which archive is open, the state of its similarity index, and the index
build's progress with Cancel."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QProgressBar, QPushButton, QStatusBar

from .text import plain_label


class IndexStatus:
    def __init__(self, bar: QStatusBar, cancel: Callable[[], None]):
        self.archive_label = plain_label("No archive open")
        self.index_label = plain_label("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(cancel)
        bar.addWidget(self.archive_label, 1)
        bar.addPermanentWidget(self.index_label)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)

    def building(self, done: int, total: int) -> None:
        self.index_label.setText("Building the similarity index (first use of this archive):")
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.progress.setMaximum(total)
        self.progress.setValue(done)

    def finished(self, text: str) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.index_label.setText(text)
