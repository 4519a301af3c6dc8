"""The one renderer of case reports: draws :class:`~dermview.clinic.report.ReportPage` objects with
Qt's painter on any paged device - a PDF file (QPdfWriter) or a printer the print dialog chose
(QPrinter). All text is drawn as plain text."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, QSizeF, Qt
from PySide6.QtGui import (QColor, QFont, QFontMetricsF, QGuiApplication, QPageLayout, QPageSize, QPagedPaintDevice,
                           QPainter, QPdfWriter, QPen)

from ..clinic.report import QUERY_PRINT_SIDE, FollowUpPage, QueryChanged, ReportPage
from ..errors import DermviewError
from ..outputs import atomic_path
from .qimage import fit_within, to_qimage

PDF_DPI = 300
NEIGHBOUR_COLUMNS = 4
_ALIGN_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop) | int(Qt.TextFlag.TextWordWrap)
_NOTICE_FILL, _NOTICE_LINE, _NOTICE_TEXT = QColor("#fff4ce"), QColor("#c9a227"), QColor("#5c4400")
_WARNING, _BAR, _BAR_SUGGESTED, _BAR_TRACK = QColor("#a00000"), QColor("#4f79a8"), QColor("#c0392b"), QColor("#e6e6e6")


def ensure_gui_application() -> None:
    """Fonts need a QGuiApplication. Without a window (``dermview report``), make an offscreen one."""
    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        ensure_gui_application.app = QGuiApplication(["dermview"])  # type: ignore[attr-defined]  # kept alive


class _Pen:
    """Points to device pixels, fonts and wrapped text at a running y position."""

    def __init__(self, painter: QPainter, dpi: float):
        self.painter = painter
        self.scale = dpi / 72.0

    def pt(self, points: float) -> float:
        return points * self.scale

    def font(self, size: float, bold: bool = False) -> QFont:
        font = QFont("DejaVu Sans")
        font.setPixelSize(max(1, round(self.pt(size))))
        font.setBold(bold)
        # No ligatures: "ff" in a SHA-256 or "fi" in an id must copy out of the PDF as the letters they are.
        for tag in ("liga", "clig", "dlig"):
            font.setFeature(QFont.Tag(tag), 0)
        return font

    def text(self, rect: QRectF, text: str, size: float, *, bold: bool = False, colour: QColor | None = None,
             flags: int = _ALIGN_LEFT) -> float:
        """Draw ``text`` wrapped in ``rect``'s width from its top; returns the height used."""
        painter = self.painter
        painter.setFont(self.font(size, bold))
        painter.setPen(colour or QColor("#111111"))
        bounds = painter.boundingRect(QRectF(rect.x(), rect.y(), rect.width(), 1e6), flags, text)
        painter.drawText(QRectF(rect.x(), rect.y(), rect.width(), bounds.height()), flags, text)
        return bounds.height()

    def height_of(self, width: float, text: str, size: float, bold: bool = False) -> float:
        metrics = QFontMetricsF(self.font(size, bold), self.painter.device())
        return metrics.boundingRect(QRectF(0, 0, width, 1e6), _ALIGN_LEFT, text).height()


def draw_pages(pages: list[ReportPage], device: QPagedPaintDevice, new_page: Callable[[], bool]) -> None:
    """Draw each page on ``device`` (a QPdfWriter or QPrinter), calling ``new_page`` between pages."""
    painter = QPainter()
    if not painter.begin(device):
        raise DermviewError("The report could not be started: the PDF file or the printer refused to open.")
    try:
        for number, page in enumerate(pages, start=1):
            if number > 1 and not new_page():
                raise DermviewError("The report could not go on to a new page.")
            _draw_page(painter, device, page, number, len(pages))
    finally:
        painter.end()


NOTE_SHARE = 0.15  # of the page's height, at most, for the clinician's note
_NOTE_CUT = "(shortened here: the note has {:,} characters in all; the worklist keeps it whole)"


def write_pdf(pages: list[ReportPage], path: str | os.PathLike) -> Path:
    """``pages`` as an A4 PDF at ``path``, written atomically (a failure leaves no half file)."""
    return _write(path, "dermview case report", lambda writer: draw_pages(pages, writer, writer.newPage))


def write_followup_pdf(page: FollowUpPage, path: str | os.PathLike) -> Path:
    """The follow-up page as a one-page A4 PDF at ``path``, written atomically."""
    def draw(writer: QPdfWriter) -> None:
        painter = QPainter()
        if not painter.begin(writer):
            raise DermviewError("The report could not be started: the PDF file refused to open.")
        try:
            _draw_followup(painter, writer, page)
        finally:
            painter.end()

    return _write(path, "dermview follow-up", draw)


def _write(path: str | os.PathLike, title: str, draw: Callable[[QPdfWriter], None]) -> Path:
    ensure_gui_application()
    with atomic_path(path) as temporary:
        writer = QPdfWriter(str(temporary))
        writer.setResolution(PDF_DPI)
        writer.setTitle(title)
        writer.setCreator("dermview")
        writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                         QMarginsF(14, 14, 14, 14), QPageLayout.Unit.Millimeter))
        draw(writer)
        del writer  # closes the file; atomic_path then fsyncs and renames it
        # Qt's PDF writer says nothing when the disk fills: a PDF ends with its trailer, or it is not whole.
        with open(temporary, "rb") as written:
            written.seek(max(0, os.fstat(written.fileno()).st_size - 64))
            if b"%%EOF" not in written.read():
                raise DermviewError(f"Cannot write {path}: the PDF came out incomplete (is the disk full?). Nothing "
                                    "was written; any earlier file of that name was left as it was.")
    return Path(path)


def _header(painter: QPainter, pen: _Pen, width: float, title: str, notice: str, number: int, total: int) -> float:
    """The title line with the page number, and the boxed notice under it; returns the height used."""
    gap = pen.pt(6)
    pen.text(QRectF(0, 0, width, 0), f"Page {number} of {total}", 8,
             flags=int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop))
    y = pen.text(QRectF(0, 0, width * 0.7, 0), title, 15, bold=True) + gap * 0.5
    # The notice, boxed, at the top: nobody reads a page without seeing it.
    inner = pen.pt(5)
    notice_height = pen.height_of(width - 2 * inner, notice, 8.5, bold=True) + 2 * inner
    painter.setPen(QPen(_NOTICE_LINE, pen.pt(0.8)))
    painter.setBrush(_NOTICE_FILL)
    painter.drawRect(QRectF(0, y, width, notice_height))
    pen.text(QRectF(inner, y + inner, width - 2 * inner, 0), notice, 8.5, bold=True, colour=_NOTICE_TEXT)
    return y + notice_height + gap


def _draw_followup(painter: QPainter, device: QPagedPaintDevice, page: FollowUpPage) -> None:
    layout = device.pageLayout()
    dpi = device.logicalDpiX()
    area = QRectF(layout.paintRectPixels(dpi))
    pen = _Pen(painter, dpi)
    width, gap = area.width(), pen.pt(6)
    y = _header(painter, pen, width, "dermview follow-up of one lesion", page.notice, 1, 1)
    box_width = (width - gap) / 2
    box_height = box_width * 0.75
    sides = tuple(zip(page.titles, (page.earlier, page.later)))
    titles = max(pen.height_of(box_width, title, 8.5, bold=True) for title, _ in sides)  # both boxes level
    for column, (title, image) in enumerate(sides):
        x = column * (box_width + gap)
        pen.text(QRectF(x, y, box_width, 0), title, 8.5, bold=True)
        box = QRectF(x, y + titles + gap * 0.5, box_width, box_height)
        painter.fillRect(box, QColor("#202020"))
        _draw_fitted(painter, to_qimage(fit_within(image, QUERY_PRINT_SIDE)), box)
    y += titles + box_height + gap * 1.5
    pen.text(QRectF(0, y, width, 0), "\n".join(page.sentences), 10)


def _draw_page(painter: QPainter, device: QPagedPaintDevice, page: ReportPage, number: int, total: int) -> None:
    layout = device.pageLayout()
    dpi = device.logicalDpiX()
    area = QRectF(layout.paintRectPixels(dpi))
    area.moveTo(0, 0)  # the painter's origin is the paint rectangle's corner
    pen = _Pen(painter, dpi)
    width = area.width()
    gap = pen.pt(6)
    inner = pen.pt(5)
    y = _header(painter, pen, width, "dermview case report", page.notice, number, total)

    # Which file, exactly.
    facts = [f"Image: {page.file_name}", f"From: {page.source}" if page.source != page.file_name else "",
             f"SHA-256: {page.sha256 or 'not applicable (an archive image)'}",
             f"Classified: {page.classified_at or 'unknown'}", page.method]
    y += pen.text(QRectF(0, y, width, 0), "\n".join(f for f in facts if f), 8) + gap

    # The query, as large as its box allows, beside the suggestion and the vote.
    box_width, box_height = width * 0.46, width * 0.46 * 0.75
    query_box = QRectF(0, y, box_width, box_height)
    painter.fillRect(query_box, QColor("#202020"))
    try:
        image = to_qimage(fit_within(page.load_query(), QUERY_PRINT_SIDE))
        _draw_fitted(painter, image, query_box)
    except QueryChanged:  # the page would print another image's suggestion: no report at all
        raise
    except DermviewError as exc:
        pen.text(query_box.adjusted(inner, inner, -inner, -inner), str(exc), 9, colour=QColor("#ffffff"))
    right = QRectF(box_width + pen.pt(12), y, width - box_width - pen.pt(12), box_height)
    ry = right.y()
    ry += pen.text(QRectF(right.x(), ry, right.width(), 0), page.headline, 12.5, bold=True,
                   colour=_WARNING if page.muted else None) + gap
    if page.votes:
        ry += pen.text(QRectF(right.x(), ry, right.width(), 0), "Share of the neighbours' corrected vote:", 8) + gap / 2
        row = pen.pt(13)
        label_width, value_width = right.width() * 0.55, pen.pt(30)
        bar_width = right.width() - label_width - value_width - pen.pt(8)
        for label, share, chosen in page.votes:
            pen.text(QRectF(right.x(), ry, label_width - pen.pt(4), row), label, 7.5, bold=chosen,
                     flags=int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop))
            bar = QRectF(right.x() + label_width, ry + pen.pt(2), bar_width, row - pen.pt(5))
            painter.fillRect(bar, _BAR_TRACK)
            painter.fillRect(QRectF(bar.x(), bar.y(), bar.width() * share, bar.height()),
                             _BAR_SUGGESTED if chosen else _BAR)
            pen.text(QRectF(bar.right() + pen.pt(4), ry, value_width, row), f"{share:.0%}", 7.5, bold=chosen)
            ry += row
    y += max(box_height, ry - y) + gap

    # What the neighbours are, in words; whether this is an archive image.
    for paragraph, bold in [(page.where, True), (" ".join(page.sentences), False)]:
        if paragraph:
            y += pen.text(QRectF(0, y, width, 0), paragraph, 8.5, bold=bold) + gap / 2
    if page.lesion:
        y += pen.text(QRectF(0, y, width, 0), " ".join(page.lesion), 8) + gap / 2

    # The clinician's note and the page's foot come last; the neighbours get the room in between.
    note = _fitted_note(pen, width - 2 * inner, page.note, NOTE_SHARE * area.height() - 2 * inner)
    note_height = pen.height_of(width - 2 * inner, note, 8.5) + 2 * inner
    grid_bottom = area.height() - note_height - gap
    # The caption says how many tiles the page really has room for (a page with the lesion's measures has fewer).
    grid_top = y + gap + pen.height_of(width, page.neighbour_caption, 7.5)
    shown = _tiles_that_fit(painter, pen, len(page.neighbours), QRectF(0, grid_top, width, grid_bottom - grid_top))
    y += gap / 2 + pen.text(QRectF(0, y + gap / 2, width, 0), page.caption_showing(shown), 7.5) + gap / 2
    _draw_neighbours(painter, pen, page, QRectF(0, y, width, grid_bottom - y))
    painter.setPen(QPen(QColor("#888888"), pen.pt(0.6)))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(QRectF(0, grid_bottom + gap, width, note_height))
    pen.text(QRectF(inner, grid_bottom + gap + inner, width - 2 * inner, 0), note, 8.5)


def _fitted_note(pen: _Pen, width: float, note: str, height: float) -> str:
    """The note's paragraph, shortened (with how long it is in all) to at most ``height``: a long note must not
    push the neighbours, or the notice, off the page."""
    if not note.strip():
        return "Clinician's note: (none)"
    whole = f"Clinician's note: {note}"
    if pen.height_of(width, whole, 8.5) <= height:
        return whole
    low, high = 0, len(note)
    while low < high:  # the longest beginning that fits with the remark after it
        mid = (low + high + 1) // 2
        if pen.height_of(width, f"Clinician's note: {note[:mid]}... {_NOTE_CUT.format(len(note))}", 8.5) <= height:
            low = mid
        else:
            high = mid - 1
    return f"Clinician's note: {note[:low]}... {_NOTE_CUT.format(len(note))}"


_TILE_CAPTION_SIZE = 7


def _tile_grid(painter: QPainter, pen: _Pen, count: int, area: QRectF) -> tuple[int, float, float, float, float]:
    """(rows, tile width, image height, caption height, spacing) of ``count`` neighbour tiles in ``area``: images
    as large as the rows allow, at most the tile's width at 4:3, and fewer rows when they would be too small to
    judge anything."""
    columns = NEIGHBOUR_COLUMNS
    spacing = pen.pt(8)
    tile_width = (area.width() - (columns - 1) * spacing) / columns
    caption_height = 4 * QFontMetricsF(pen.font(_TILE_CAPTION_SIZE), painter.device()).lineSpacing() + pen.pt(3)
    rows = max(1, -(-count // columns))
    image_height = min(tile_width * 0.75, (area.height() - rows * (caption_height + spacing)) / rows)
    if image_height < pen.pt(40):
        rows = max(1, int(area.height() // (pen.pt(40) + caption_height + spacing)))
        image_height = min(tile_width * 0.75, (area.height() - rows * (caption_height + spacing)) / rows)
    return rows, tile_width, image_height, caption_height, spacing


def _tiles_that_fit(painter: QPainter, pen: _Pen, count: int, area: QRectF) -> int:
    return min(count, _tile_grid(painter, pen, count, area)[0] * NEIGHBOUR_COLUMNS)


def _draw_neighbours(painter: QPainter, pen: _Pen, page: ReportPage, area: QRectF) -> None:
    columns = NEIGHBOUR_COLUMNS
    caption_size = _TILE_CAPTION_SIZE
    rows, tile_width, image_height, caption_height, spacing = _tile_grid(painter, pen, len(page.neighbours), area)
    for position, neighbour in enumerate(page.neighbours[:rows * columns]):
        row, column = divmod(position, columns)
        x = area.x() + column * (tile_width + spacing)
        y = area.y() + row * (image_height + caption_height + spacing)
        box = QRectF(x, y, tile_width, image_height)
        painter.fillRect(box, QColor("#f0f0f0"))
        try:
            _draw_fitted(painter, to_qimage(fit_within(page.load_neighbour(neighbour.image_id), 900)), box)
        except DermviewError:
            pen.text(box, "image unreadable", 7)
        more = f" (+{neighbour.more} more)" if neighbour.more else ""
        label = f"{neighbour.diagnosis} ({neighbour.dx})\n{neighbour.confirmed}" if neighbour.dx else "diagnosis not shown"
        caption = f"{label}{more}\n{neighbour.ids}\n{neighbour.closeness}"
        pen.text(QRectF(x, y + image_height + pen.pt(2), tile_width, caption_height), caption, caption_size,
                 flags=int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop))


def _draw_fitted(painter: QPainter, image, box: QRectF) -> None:
    """``image`` scaled into ``box`` with its aspect kept, centred; its pixels go to the page as they are."""
    size = QSizeF(image.width(), image.height())
    size.scale(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
    target = QRectF(box.x() + (box.width() - size.width()) / 2, box.y() + (box.height() - size.height()) / 2,
                    size.width(), size.height())
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.drawImage(target, image)
