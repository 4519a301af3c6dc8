"""The window's status bar: which archive is open, the state of its similarity index, and the index
build's progress with Cancel."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QStatusBar, QWidget

from .text import plain_label


class CancellableProgress(QWidget):
    """A progress bar with its Cancel button, shown and hidden together (index builds, the worklist)."""

    def __init__(self, cancel: Callable[[], None], width: int):
        super().__init__()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(width)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        self.setVisible(False)

    def show_progress(self, done: int, total: int) -> None:
        self.bar.setMaximum(total)
        self.bar.setValue(done)
        self.setVisible(True)


class IndexStatus:
    def __init__(self, bar: QStatusBar, cancel: Callable[[], None]):
        self.archive_label = plain_label("No archive open")
        self.index_label = plain_label("")
        self.library_label = plain_label("")  # the case library's awaiting-confirmation count
        self.progress = CancellableProgress(cancel, 260)
        bar.addWidget(self.archive_label, 1)
        bar.addPermanentWidget(self.library_label)
        bar.addPermanentWidget(self.index_label)
        bar.addPermanentWidget(self.progress)

    def building(self, done: int, total: int) -> None:
        self.index_label.setText("Building the similarity index (first use of this archive):")
        self.progress.show_progress(done, total)

    def finished(self, text: str) -> None:
        self.progress.setVisible(False)
        self.index_label.setText(text)
