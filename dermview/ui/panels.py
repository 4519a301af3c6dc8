"""The result of classifying a query, and the image and thumbnail widgets the tabs share."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QBoxLayout, QFrame, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem, QScrollArea,
                               QSizePolicy, QSplitter, QVBoxLayout, QWidget)

from .. import NOT_A_MEDICAL_DEVICE
from ..archive.codes import DX_SHORT_NAMES, dx_label, dx_type_label
from ..model.explain import NOTHING_CLOSE_CARE, LesionTile, archive_image_sentence
from ..model.familiarity import muted_headline, muted_text
from ..model.field import DEVICE_CARE
from ..model.knn import LIBRARY, Prediction
from ..model.outline import OUTLINE_COLOUR_NAME, lesion_lines
from ..model.session import QueryOutcome
from .thumbnail_loader import OUTLINE, PLAIN
from .thumbnails import THUMB_SIZE, ThumbnailCache, placeholder
from .text import escape, plain_label, rich_label
from .text import tooltip as plain_tooltip
from .votes import VoteChart

IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
# Where the measures say their outline is.
OUTLINE_SHOWN = f"drawn in {OUTLINE_COLOUR_NAME}"


class ScaledImage(QLabel):
    """Shows a pixmap as large as the label allows, aspect kept."""

    def __init__(self, minimum: QSize = QSize(320, 240)):
        super().__init__()
        self._pixmap: QPixmap | None = None
        self.setMinimumSize(minimum)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setStyleSheet("background: #202020; color: #dddddd;")
        self.setTextFormat(Qt.TextFormat.PlainText)  # error messages name files
        self.setWordWrap(True)

    def set_image(self, pixmap: QPixmap | None, text: str = "") -> None:
        self._pixmap = pixmap
        if pixmap is None:
            self.setPixmap(QPixmap())
            self.setText(text)
        else:
            self._rescale()

    def image(self) -> QPixmap | None:
        return self._pixmap

    def _rescale(self) -> None:
        if self._pixmap is not None and not self._pixmap.isNull():
            self.setPixmap(self._pixmap.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()


class ThumbnailStrip(QListWidget):
    """Thumbnails with captions; arrow keys move, Enter or a click activates."""

    def __init__(self, thumbnails: ThumbnailCache, wrap: bool, size: int = THUMB_SIZE, caption_lines: int = 3):
        super().__init__()
        self.thumbnails = thumbnails
        self.image_size = size
        self.outline = PLAIN  # or OUTLINE: the lesion's outline drawn on every picture (View > Lesion Outlines)
        self.caption_lines = caption_lines
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWrapping(wrap)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setSpacing(4)
        self.setUniformItemSizes(True)
        self.setWordWrap(True)
        self._apply_size()
        # Which items already show their real thumbnail (the screenshot mode waits for all of them).
        self._loaded: set[str] = set()
        thumbnails.ready.connect(self._thumbnail_ready)

    def cell(self, size: int) -> QSize:
        """The grid cell of a ``size``-pixel image with its caption lines."""
        return QSize(size + 24, size * 3 // 4 + self.caption_lines * self.fontMetrics().lineSpacing() + 14)

    def _apply_size(self) -> None:
        self.setIconSize(QSize(self.image_size, self.image_size * 3 // 4))
        self.setGridSize(self.cell(self.image_size))

    def set_image_size(self, size: int) -> None:
        """Show every image at ``size`` pixels on its long side (loaded at that size as needed)."""
        if size == self.image_size:
            return
        self.image_size = size
        self._apply_size()
        self._refresh_icons()

    def set_outlined(self, outlined: bool) -> None:
        """Draw the lesion's outline on every picture, or not (loaded with it as needed)."""
        outline = OUTLINE if outlined else PLAIN
        if outline != self.outline:
            self.outline = outline
            self._refresh_icons()

    def _refresh_icons(self) -> None:
        self._loaded.clear()
        for i in range(self.count()):
            item = self.item(i)
            pixmap = self.thumbnails.get(item.data(IMAGE_ID_ROLE), self.image_size, self.outline)
            if pixmap is not None:
                item.setIcon(pixmap)
                self._loaded.add(item.data(IMAGE_ID_ROLE))

    def add(self, image_id: str, caption: str, tooltip: str) -> QListWidgetItem:
        item = QListWidgetItem(caption)
        item.setData(IMAGE_ID_ROLE, image_id)
        item.setToolTip(plain_tooltip(tooltip))
        pixmap = self.thumbnails.get(image_id, self.image_size, self.outline)
        item.setIcon(pixmap if pixmap is not None else placeholder(self.image_size, self.image_size * 3 // 4))
        if pixmap is not None:
            self._loaded.add(image_id)
        self.addItem(item)
        return item

    def clear(self) -> None:
        super().clear()
        self._loaded.clear()

    def all_loaded(self) -> bool:
        return all(self.item(i).data(IMAGE_ID_ROLE) in self._loaded for i in range(self.count()))

    def _thumbnail_ready(self, image_id: str, size: int) -> None:
        if size != self.image_size:
            return
        for i in range(self.count()):
            item = self.item(i)
            if item.data(IMAGE_ID_ROLE) == image_id:
                pixmap = self.thumbnails.get(image_id, self.image_size, self.outline)
                if pixmap is not None:
                    item.setIcon(pixmap)
                    self._loaded.add(image_id)


def notice_label() -> QLabel:
    label = QLabel(f"<b>{NOT_A_MEDICAL_DEVICE}</b> The suggestion is the vote of the most similar archive "
                   "images; judge it by looking at them.")
    label.setWordWrap(True)
    label.setObjectName("medical-notice")
    label.setStyleSheet("background: #fff4ce; color: #5c4400; border: 1px solid #e0c060; padding: 6px;")
    return label


# How a diagnosis was confirmed, in a tile's few characters (the tool tip has the full wording).
_SHORT_CONFIRMATION = {"histo": "histopathology", "follow_up": "follow-up", "consensus": "consensus",
                       "confocal": "confocal"}
NEIGHBOUR_TILE = 152  # longest side of a neighbour lesion's image: 150 px or more to judge structures
LARGEST_TILE = 256  # larger screens get larger tiles, up to this
WANTED_VISIBLE = 15  # ... as long as this many tiles (or all of them) still fit without scrolling


def tile_size_for(area: QSize, cell, tiles: int, spacing: int = 4) -> int:
    """The image size (NEIGHBOUR_TILE..LARGEST_TILE, in steps of 8) that shows the most tiles fully in
    ``area``, up to min(tiles, WANTED_VISIBLE), and among those the largest. ``cell(size)`` gives a
    tile's grid cell. At 1366x768 this stays 152 px (12 visible); at 1920x1080 it is 200 px (16)."""
    wanted = max(1, min(tiles, WANTED_VISIBLE))

    def shown(size: int) -> int:
        box = cell(size)
        columns = max(0, (area.width() - spacing) // (box.width() + spacing))
        rows = max(0, (area.height() - spacing) // (box.height() + spacing))
        return min(wanted, columns * rows)

    return max(range(NEIGHBOUR_TILE, LARGEST_TILE + 1, 8), key=lambda size: (shown(size), size))


LESION_TEXT_WIDTH = 230  # the lesion's measures beside the query


class ResultPanel(QWidget):
    """The query large, what its neighbours are in words, and the neighbours as large lesion tiles."""

    neighbour_chosen = Signal(str)

    def __init__(self, thumbnails: ThumbnailCache):
        super().__init__()
        # Set by the window when the similarity in use was trained on the archive's own images.
        self.trained_on_archive_note = ""
        self.thumbnails = thumbnails
        self.prediction: Prediction | None = None
        self.tiles: list[LesionTile] = []
        self.outcome: QueryOutcome | None = None
        self.plain_query: QPixmap | None = None
        self.outlined_query: QPixmap | None = None  # the query with its lesion's outline, when one was found
        self.outlines = False  # View > Lesion Outlines: drawn on the query and on every neighbour
        self.query_name = ""
        self.title = rich_label("Drop an image anywhere on the window, or use File &gt; Open Image.")
        self.title.setWordWrap(True)
        self.query = ScaledImage(QSize(240, 180))
        self.query.setObjectName("query-image")
        self.query.set_image(None, "No query image yet")
        self.headline = rich_label("")
        self.headline.setWordWrap(True)
        self.headline.setObjectName("prediction-headline")
        self.headline.setStyleSheet("font-size: 15px;")
        self.summary = plain_label("")
        self.summary.setWordWrap(True)
        self.summary.setObjectName("result-summary")
        self.chart = VoteChart()
        self.chart.setVisible(False)  # no bars before there is a vote to show
        self.lesion_text = plain_label("")
        self.lesion_text.setWordWrap(True)
        self.lesion_text.setObjectName("lesion-measures")
        self.lesion_text.setFixedWidth(LESION_TEXT_WIDTH)
        self.lesion_text.setVisible(False)
        self.neighbour_title = plain_label("Nearest archive lesions")
        self.neighbour_title.setWordWrap(True)
        self.neighbours = ThumbnailStrip(thumbnails, wrap=True, size=NEIGHBOUR_TILE, caption_lines=4)
        self.neighbours.setObjectName("neighbour-tiles")
        self.neighbours.installEventFilter(self)  # larger tiles when the screen has room
        self.neighbours.itemActivated.connect(lambda item: self.neighbour_chosen.emit(item.data(IMAGE_ID_ROLE)))
        self.neighbours.itemClicked.connect(lambda item: self.neighbour_chosen.emit(item.data(IMAGE_ID_ROLE)))

        left = QWidget()
        self.left_layout = QVBoxLayout(left)
        self.left_layout.setContentsMargins(0, 0, 4, 0)
        # The lesion's measures sit beside the query (shown with its outline), where the 4:3 picture leaves room.
        # Where the column is too narrow for both (the archive browser shown on a small screen) they move under
        # the vote instead: the suggestion stays right below the query.
        self._beside = QHBoxLayout()
        self._beside.setContentsMargins(0, 0, 0, 0)
        self._beside.addWidget(self.query, 1)
        self._beside.addWidget(self.lesion_text, 0, Qt.AlignmentFlag.AlignTop)
        self._reflowing: list[QBoxLayout] = []  # rows that go under one another when the column is narrow
        self.left_layout.addWidget(self.title)
        self.left_layout.addLayout(self._beside, 1)
        for widget in (self.headline, self.summary, self.chart):
            self.left_layout.addWidget(widget)
        # Text never overlaps the image: on a small screen the column scrolls instead.
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(320)
        scroll.viewport().installEventFilter(self)
        self._column = scroll.viewport()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        right_layout.addWidget(self.neighbour_title)
        right_layout.addWidget(self.neighbours, 1)
        split = QSplitter()
        split.setChildrenCollapsible(False)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split, 1)
        layout.addWidget(notice_label())

    def eventFilter(self, watched, event) -> bool:
        if watched is self.neighbours and event.type() == QEvent.Type.Resize:
            self.fit_tiles()
        elif watched is self._column and event.type() == QEvent.Type.Resize:
            self.reflow()
        return False

    def reflow(self) -> None:
        """Each reflowing row side by side where the column's visible width holds it, else one under another,
        and the lesion's measures beside the query or under the vote: nothing is cut off at the right, since
        the column never scrolls sideways."""
        width = self._column.width()
        narrow = width < self.query.minimumWidth() + LESION_TEXT_WIDTH + self._beside.spacing()
        if narrow != (self._beside.indexOf(self.lesion_text) < 0):
            if narrow:
                self._beside.removeWidget(self.lesion_text)
                self.lesion_text.setMinimumWidth(0)
                self.lesion_text.setMaximumWidth(16777215)
                self.left_layout.addWidget(self.lesion_text)
            else:
                self.left_layout.removeWidget(self.lesion_text)
                self.lesion_text.setFixedWidth(LESION_TEXT_WIDTH)
                self._beside.addWidget(self.lesion_text, 0, Qt.AlignmentFlag.AlignTop)
        for row in self._reflowing:
            needed = sum(item.minimumSize().width() for item in map(row.itemAt, range(row.count())) if item)
            needed += row.spacing() * max(0, row.count() - 1)
            wanted = (QBoxLayout.Direction.LeftToRight if width >= needed else QBoxLayout.Direction.TopToBottom)
            if row.direction() != wanted:
                row.setDirection(wanted)

    def fit_tiles(self) -> None:
        # Measured as if the scroll bar were there: tiles must not grow and shrink as it comes and goes.
        strip = self.neighbours
        frame = 2 * strip.frameWidth()
        area = QSize(strip.width() - frame - strip.verticalScrollBar().sizeHint().width(), strip.height() - frame)
        strip.set_image_size(tile_size_for(area, strip.cell, len(self.tiles) or WANTED_VISIBLE))

    @property
    def query_pixmap(self) -> QPixmap | None:
        """The query as it is shown: with its outline when outlines are on and one was found."""
        return self.outlined_query if self.outlines and self.outlined_query is not None else self.plain_query

    def set_outlines(self, on: bool) -> None:
        """Draw the lesion's outline on the query and on every neighbour tile, or take it away."""
        self.outlines = on
        self.neighbours.set_outlined(on)
        if self.plain_query is not None:
            self.query.set_image(self.query_pixmap)
        self._show_lesion_text()

    def _show_lesion_text(self) -> None:
        """With outlines on, beside the query: the measures in a few lines (their sentences and the outline's
        held-out figure in the tool tip), or why there is no outline. Off: nothing, the query has the room."""
        outcome = self.outcome
        shown = self.outlines and outcome is not None and outcome.lesion is not None and not outcome.muted
        self.lesion_text.setVisible(shown)
        if not shown:
            self.lesion_text.setText("")
            self.lesion_text.setToolTip("")
            return
        self.lesion_text.setText("\n".join(lesion_lines(outcome, OUTLINE_SHOWN, compact=True)))
        self.lesion_text.setToolTip(plain_tooltip("\n\n".join(lesion_lines(outcome, OUTLINE_SHOWN))))

    def add_above(self, widget: QWidget, reflowing: QBoxLayout | None = None) -> None:
        """Put ``widget`` (the list of queries) at the top of the query's column; its ``reflowing`` row goes
        under one another where the column is too narrow for it."""
        self.left_layout.insertWidget(0, widget)
        if reflowing is not None:
            self._reflowing.append(reflowing)

    def show_busy(self, name: str, waiting: str = "") -> None:
        """``name`` is being classified: the previous image's result is cleared at once (it must never read as
        this image's), and ``waiting`` says what the query waits for (the index, its place in the queue)."""
        self.prediction = None
        self.tiles = []
        self.outcome = None
        self.query_name = name
        self.plain_query = self.outlined_query = None
        self.title.setText(f"Classifying <b>{escape(name)}</b> ...")
        self.query.set_image(None, "")
        self.headline.setText(escape(waiting))
        self.summary.setText("")
        self.chart.set_votes({}, None)
        self.chart.setVisible(False)
        self._show_lesion_text()
        self.neighbours.clear()
        self.neighbour_title.setText("Nearest archive lesions")

    def show_preview(self, pixmap: QPixmap) -> None:
        """The image being classified, shown before its result (which replaces it)."""
        if self.outcome is None:
            self.query.set_image(pixmap)

    def show_error(self, name: str, message: str) -> None:
        self.prediction = None
        self.tiles = []
        self.title.setText(f"<b>Could not classify {escape(name)}</b>")
        self.query.set_image(None, message)
        self.headline.setText(f"<span style='color:#a00'>{escape(message)}</span>")
        self.summary.setText("")
        self.chart.set_votes({}, None)
        self.chart.setVisible(False)
        self.outcome = None
        self._show_lesion_text()
        self.plain_query = self.outlined_query = None
        self.neighbours.clear()
        self.neighbour_title.setText("Nearest archive lesions")

    def show_result(self, name: str, pixmap: QPixmap, outcome: QueryOutcome, tiles: list[LesionTile],
                    sentences: list[str], outlined: QPixmap | None = None) -> None:
        prediction = outcome.prediction
        self.prediction = prediction
        self.tiles = tiles
        self.plain_query, self.outlined_query = pixmap, outlined
        self.query_name = name
        self.outcome = outcome
        self._show_lesion_text()
        note = f" {escape(self.trained_on_archive_note)}" if self.trained_on_archive_note else ""
        sentence = archive_image_sentence(outcome)
        where = f"<br><b>{escape(sentence)}</b>{note}" if sentence else ""
        self.title.setText(f"Query: <b>{escape(name)}</b>{where}")
        self.query.set_image(self.query_pixmap)
        if outcome.muted:  # no suggestion, no vote chart, a warning in its place
            self.headline.setText(
                f"<span style='color:#a00000'><b>{escape(muted_headline(outcome.unfamiliar_kind))}.</b></span> "
                f"{escape(muted_text(outcome.unfamiliar or ''))}")
            self.summary.setText("")
            self.chart.set_votes({}, None)
            self.chart.setVisible(False)
        else:
            cares = [text for note, text in ((outcome.device_note, DEVICE_CARE),
                                             (outcome.nothing_close, NOTHING_CLOSE_CARE)) if note]
            care = "".join(f" <span style='color:#a05000'><b>{text}.</b></span>" for text in cares)
            self.headline.setText(f"Nearest-neighbour suggestion: <b>{escape(dx_label(prediction.prediction))}</b>{care}")
            self.summary.setText(" ".join(sentences) + " The bars show each diagnosis's share of the weighted, "
                                 "corrected vote: not a probability.")
            self.chart.set_votes(prediction.votes, prediction.prediction)
            self.chart.setVisible(True)
        self.neighbours.clear()
        self.fit_tiles()
        images = len(prediction.neighbours)
        muted = outcome.muted  # its neighbours are shown for reference, without their diagnoses
        self.neighbour_title.setText(
            f"The {len(tiles)} nearest {outcome.search.whose}, for reference only: their diagnoses are not shown, "
            "because this image is unlike the archive's dermoscopy and their vote is no evidence. Click a tile to "
            "compare side by side." if muted else
            f"The {len(tiles)} nearest {outcome.search.whose} ({images} images voted). Each tile: a lesion's closest image, "
            "its diagnosis and how it was confirmed, and how alike it is: closer than that share of archive look-alike "
            "pairs. Click a tile to compare side by side; \"+N more\" tiles open the lesion's other images too.")
        for tile in tiles:
            n = tile.nearest
            near = (f"closer than {tile.closeness:.0%}" if tile.closeness is not None else f"distance {n.distance:.2f}")
            more = f" +{len(tile.more)} more" if tile.more else ""
            short = f"{tile.closeness:.0%}" if tile.closeness is not None else f"d {n.distance:.2f}"
            confirmation = _SHORT_CONFIRMATION.get(n.dx_type, n.dx_type)
            if n.source == LIBRARY:  # the practice's own case: its case id instead of archive ids
                caption = f"{DX_SHORT_NAMES[n.dx]}\n{confirmation}{more}\nOWN CASE\n{n.case_id} · {short}"
                where = f"Your own case {n.case_id} (case library)"
            else:
                caption = f"{DX_SHORT_NAMES[n.dx]}\n{confirmation}{more}\n{n.image_id}\n{n.lesion_id} · {short}"
                where = f"{n.image_id}, lesion {n.lesion_id}"
            others = "".join(f"\n  also {m.image_id} (distance {m.distance:.3f})" for m in tile.more)
            if muted:
                self.neighbours.add(n.image_id, f"diagnosis not shown\n{more.strip()}\n{n.image_id}\n{n.lesion_id} · {short}",
                                    f"{where}\ndistance {n.distance:.3f}: {near} of archive images are to their own "
                                    "nearest other lesion\nIts diagnosis is not shown: this image gets no suggestion.")
                continue
            self.neighbours.add(n.image_id, caption,
                                f"{dx_label(n.dx)}, confirmed by {dx_type_label(n.dx_type).lower()}\n"
                                f"{where}\ndistance {n.distance:.3f}: {near} of archive "
                                "images are to their own nearest other lesion (higher is more alike)"
                                + (f"\n{len(tile.more)} more images of this lesion are among the neighbours:" if tile.more
                                   else "") + others)
