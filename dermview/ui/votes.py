"""A horizontal bar chart of the vote shares of all seven classes."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..archive.codes import DX_CODES, DX_SHORT_NAMES, dx_label


class VoteChart(QWidget):
    ROW = 17

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._votes: dict[str, float] = {}
        self._predicted: str | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.ROW * len(DX_CODES) + 4)
        self.setAccessibleName("Vote shares per diagnosis")

    def sizeHint(self) -> QSize:
        return QSize(360, self.ROW * len(DX_CODES) + 4)

    def set_votes(self, votes: dict[str, float], predicted: str | None) -> None:
        self._votes = dict(votes)
        self._predicted = predicted
        self.setToolTip("\n".join(f"{dx_label(c)}: {v:.1%}" for c, v in self._votes.items()))
        self.update()

    def votes(self) -> dict[str, float]:
        return dict(self._votes)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = painter.fontMetrics()
        room = int(self.width() * 0.6)
        # The full names where they fit, else shorter ones, else the codes: a name is never cut off.
        namings = (dx_label, lambda c: f"{DX_SHORT_NAMES[c]} ({c})", lambda c: DX_SHORT_NAMES[c], str)
        name = next((n for n in namings if max(metrics.horizontalAdvance(n(c)) for c in DX_CODES) + 12 <= room), str)
        label_width = min(max(metrics.horizontalAdvance(name(c)) for c in DX_CODES) + 12, room)
        bar_left = label_width + 6
        bar_room = max(10, self.width() - bar_left - 48)
        base = self.font()
        bold = QFont(base)
        bold.setBold(True)
        for i, code in enumerate(DX_CODES):
            share = self._votes.get(code, 0.0)
            y = 2 + i * self.ROW
            predicted = code == self._predicted
            painter.setFont(bold if predicted else base)
            painter.setPen(self.palette().text().color())
            painter.drawText(QRectF(0, y, label_width, self.ROW), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             name(code))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e4e4e4"))
            painter.drawRect(QRectF(bar_left, y + 4, bar_room, self.ROW - 8))
            painter.setBrush(QColor("#c0392b") if predicted else QColor("#5d7fa3"))
            painter.drawRect(QRectF(bar_left, y + 4, bar_room * share, self.ROW - 8))
            painter.setPen(self.palette().text().color())
            painter.drawText(QRectF(bar_left + bar_room + 4, y, 44, self.ROW), Qt.AlignmentFlag.AlignVCenter,
                             f"{share:.0%}")
        painter.end()
