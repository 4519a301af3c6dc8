"""One lesion at two visits in the window: the earlier image and the later one aligned onto it, side by side with
zoom and pan in step, a slider that fades the later into the earlier (an overlay, or a flicker when dragged), and
what changed in words (dermview.model.followup). The work is done off the GUI thread; this only shows it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QDialog, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout

from .. import NOT_A_MEDICAL_DEVICE
from .compare import SyncedView, link_views, view_buttons
from .text import plain_label


class FollowUpDialog(QDialog):
    """``earlier`` and ``later`` (the later one already in the earlier's frame), titled, with ``sentences``."""

    pdf_wanted = Signal()  # Save as PDF: the window asks where and writes the follow-up page

    def __init__(self, earlier: QImage, later: QImage, titles: tuple[str, str], sentences: list[str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Follow-up: the earlier visit and the later one, aligned")
        self.resize(1100, 700)
        self.earlier, self.later = QPixmap.fromImage(earlier), QPixmap.fromImage(later)
        self.left, self.right = SyncedView(self.earlier), SyncedView(self.later)
        link_views(self.left, self.right, self.zoom)
        grid = QGridLayout()
        for column, (title, view) in enumerate(zip(titles, (self.left, self.right))):
            label = plain_label(title)
            label.setWordWrap(True)
            grid.addWidget(label, 0, column)
            grid.addWidget(view, 1, column)
            grid.setColumnStretch(column, 1)
        self.blend = QSlider(Qt.Orientation.Horizontal)
        self.blend.setObjectName("followup-blend")
        self.blend.setRange(0, 100)
        self.blend.setToolTip("Fade the later image (left end) into the earlier one (right end), in place: drag "
                              "back and forth to flicker between the visits")
        self.blend.valueChanged.connect(self._blend)
        blend_row = QHBoxLayout()
        blend_row.addWidget(QLabel("Later"))
        blend_row.addWidget(self.blend, 1)
        blend_row.addWidget(QLabel("Earlier"))
        self.changes = plain_label("\n".join(sentences))
        self.changes.setObjectName("followup-changes")
        self.changes.setWordWrap(True)
        notice = plain_label(NOT_A_MEDICAL_DEVICE)
        notice.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(grid, 1)
        layout.addLayout(blend_row)
        layout.addWidget(self.changes)
        layout.addWidget(notice)
        buttons = view_buttons(self, self.zoom, self.fit)
        self.save_pdf = QPushButton("Save as PDF...")
        self.save_pdf.setToolTip("The follow-up page: both images aligned, both outlines, what changed")
        self.save_pdf.clicked.connect(self.pdf_wanted)
        buttons.insertWidget(buttons.count() - 1, self.save_pdf)
        layout.addLayout(buttons)

    def _blend(self, value: int) -> None:
        """The right side: the later image with the earlier one over it at ``value`` percent."""
        mixed = QPixmap(self.later)
        painter = QPainter(mixed)
        painter.setOpacity(value / 100)
        painter.drawPixmap(0, 0, self.earlier.scaled(mixed.size()))
        painter.end()
        self.right.set_pixmap(mixed)

    def zoom(self, factor: float) -> None:
        for view in (self.left, self.right):
            view.scale(factor, factor)

    def fit(self) -> None:
        for view in (self.left, self.right):
            view.fitInView(view.item, Qt.AspectRatioMode.KeepAspectRatio)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.fit()
