"""The Archive image tab: one archive image, large (with both outlines when asked for), its metadata and the
other images of its lesion."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QPushButton, QVBoxLayout, QWidget

from ..archive.codes import dx_label, dx_type_label
from .panels import IMAGE_ID_ROLE, ScaledImage, ThumbnailStrip
from .text import plain_label
from .thumbnail_loader import BOTH_OUTLINES, PLAIN
from .thumbnails import LARGE_SIZE, THUMB_SIZE, ThumbnailCache


class DetailPanel(QWidget):
    """One archive image, large, with its metadata and the other images of its lesion."""

    find_similar = Signal(str)
    image_chosen = Signal(str)

    def __init__(self, thumbnails: ThumbnailCache):
        super().__init__()
        self.thumbnails = thumbnails
        self.image_id: str | None = None
        self.available = False
        self.image = ScaledImage()
        self.image.set_image(None, "Select an image in the archive")
        self.outline = PLAIN  # BOTH_OUTLINES with View > Lesion Outlines: dermview's and the published one
        self.outline_note = plain_label("")
        self.outline_note.setWordWrap(True)
        self.outline_note.setObjectName("outline-agreement")
        form_frame = QWidget()
        self.form = QFormLayout(form_frame)
        self.fields = {}
        for key, title in (("image_id", "Image"), ("lesion_id", "Lesion"), ("dx", "Diagnosis"),
                           ("dx_type", "Confirmed by"), ("age", "Age"), ("sex", "Sex"),
                           ("localization", "Body site"), ("dataset", "Source")):
            label = plain_label("-")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = label
            self.form.addRow(title + ":", label)
        self.similar = QPushButton("Find similar images (excluding this lesion)")
        self.similar.setEnabled(False)
        self.similar.clicked.connect(lambda: self.image_id and self.find_similar.emit(self.image_id))
        self.lesion_title = plain_label("Other images of this lesion")
        self.lesion_strip = ThumbnailStrip(thumbnails, wrap=False)
        self.lesion_strip.setFixedHeight(THUMB_SIZE * 3 // 4 + 74)
        self.lesion_strip.itemActivated.connect(lambda item: self.image_chosen.emit(item.data(IMAGE_ID_ROLE)))
        self.lesion_strip.itemClicked.connect(lambda item: self.image_chosen.emit(item.data(IMAGE_ID_ROLE)))
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 3)
        layout.addWidget(self.outline_note)
        layout.addWidget(form_frame)
        layout.addWidget(self.similar)
        layout.addWidget(self.lesion_title)
        layout.addWidget(self.lesion_strip)
        thumbnails.ready.connect(self._large_ready)

    def show_image(self, row, others: list[tuple[str, str]], available: bool) -> None:
        self.image_id = row["image_id"]
        age = row["age"]
        values = dict(row)
        values["dx"] = dx_label(row["dx"])
        values["dx_type"] = dx_type_label(row["dx_type"])
        values["age"] = "unknown" if age != age else f"{age:.0f}"
        for key, label in self.fields.items():
            label.setText(str(values[key]))
        self.similar.setEnabled(available)
        self.lesion_strip.clear()
        self.lesion_title.setText(f"Other images of lesion {row['lesion_id']}: {len(others)}")
        for image_id, dx in others:
            self.lesion_strip.add(image_id, image_id, f"{image_id} ({dx})")
        self.available = available
        self._show_large()

    def set_outlines(self, on: bool) -> None:
        """Draw dermview's outline and the published one (where the archive folder has it) on the image, or not."""
        self.outline = BOTH_OUTLINES if on else PLAIN
        self.lesion_strip.set_outlined(on)
        if self.image_id is not None:
            self._show_large()

    def _show_large(self) -> None:
        self.outline_note.setText("")
        self.outline_note.setVisible(bool(self.outline))
        if not self.available:
            self.image.set_image(None, "The image file is missing from the archive")
            return
        pixmap = self.thumbnails.get(str(self.image_id), LARGE_SIZE, self.outline)
        self.image.set_image(pixmap, "Loading...")
        if pixmap is not None:
            self._large_ready(str(self.image_id), LARGE_SIZE)

    def _large_ready(self, image_id: str, size: int) -> None:
        if size == LARGE_SIZE and image_id == self.image_id:
            pixmap = self.thumbnails.get(image_id, LARGE_SIZE, self.outline)
            if pixmap is None:  # the other variant arrived; this one is on its way
                return
            error = self.thumbnails.error(image_id, LARGE_SIZE, self.outline)
            self.image.set_image(None if error else pixmap, error or "")
            if self.outline:
                self.outline_note.setText(self.thumbnails.note(image_id, LARGE_SIZE, self.outline))
