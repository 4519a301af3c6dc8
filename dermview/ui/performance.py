"""Model > Performance: how the similarity in use did on lesions it never saw, as pictures.

A confusion matrix (rows: the true diagnosis, columns: the suggestion; each row coloured by its own
share, so rare diagnoses are as readable as nevi) and per-diagnosis recall and precision bars, from
the kind's own held-out evaluation (FeatureKind.held_out); the dialog only draws what the core says.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget

from ..archive.codes import DX_CODES
from ..model.explain import external_summary
from .text import plain_label


class ConfusionMatrix(QWidget):
    CELL = 42

    def __init__(self, report: dict):
        super().__init__()
        self.labels = report["confusion"]["labels"]
        self.matrix = report["confusion"]["matrix"]
        self.setFixedSize(self.sizeHint())
        self.setAccessibleName("Confusion matrix on held-out lesions")

    def sizeHint(self) -> QSize:
        n = len(self.labels)
        return QSize(70 + n * self.CELL, 40 + n * self.CELL)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        n, cell = len(self.labels), self.CELL
        painter.drawText(QRectF(70, 0, n * cell, 18), Qt.AlignmentFlag.AlignCenter, "suggested")
        for j, code in enumerate(self.labels):
            painter.drawText(QRectF(70 + j * cell, 18, cell, 20), Qt.AlignmentFlag.AlignCenter, code)
        for i, code in enumerate(self.labels):
            row = self.matrix[i]
            total = max(sum(row), 1)
            painter.drawText(QRectF(0, 40 + i * cell, 64, cell), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             f"true {code}")
            for j, value in enumerate(row):
                share = value / total
                colour = QColor.fromHsvF(0.0 if i != j else 0.33, min(1.0, 0.15 + share), 0.95)
                rect = QRectF(70 + j * cell, 40 + i * cell, cell - 2, cell - 2)
                painter.fillRect(rect, colour if value else QColor("#f4f4f4"))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{value}\n{share:.0%}")
        painter.end()


class RecallPrecisionBars(QWidget):
    ROW = 26

    def __init__(self, report: dict):
        super().__init__()
        self.per_class = report["per_class"]
        self.setMinimumSize(QSize(400, 40 + self.ROW * len(DX_CODES)))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Recall and precision per diagnosis on held-out lesions")

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        width = self.width() - 90
        painter.setPen(QColor("#c0392b"))
        painter.drawText(QRectF(90, 0, width, 18), Qt.AlignmentFlag.AlignLeft,
                         "recall: of 100 with the diagnosis, how many it found")
        painter.setPen(QColor("#2c6fbb"))
        painter.drawText(QRectF(90, 17, width, 18), Qt.AlignmentFlag.AlignLeft,
                         "precision: of 100 suggestions, how many were right")
        painter.setPen(QColor("#000000"))
        for i, code in enumerate(DX_CODES):
            row = self.per_class.get(code, {"recall": 0.0, "precision": 0.0})
            y = 38 + i * self.ROW
            painter.drawText(QRectF(0, y, 84, self.ROW), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, code)
            for k, (key, colour) in enumerate((("recall", "#c0392b"), ("precision", "#2c6fbb"))):
                bar = QRectF(90, y + 2 + k * 10, width * float(row[key]) * 0.85, 8)
                painter.fillRect(bar, QColor(colour))
                painter.drawText(QRectF(bar.right() + 4, y + k * 10 - 2, 60, 12), Qt.AlignmentFlag.AlignLeft,
                                 f"{round(100 * row[key])}")
        painter.end()


class PerformanceDialog(QDialog):
    def __init__(self, title: str, report: dict | None, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Performance on held-out lesions: {title}")
        layout = QVBoxLayout(self)
        if report is None:
            layout.addWidget(plain_label("No held-out evaluation is known for this similarity."))
        else:
            source = report.get("source", "held-out evaluation")
            summary = plain_label(
                f"{source[:1].upper()}{source[1:]}. Accuracy {report['accuracy']:.3f}, balanced "
                f"accuracy {report['balanced_accuracy']:.3f} (always answering 'nevus' scores 0.669 and 0.143).")
            summary.setWordWrap(True)
            layout.addWidget(summary)
            folds = report.get("by_fold", [])
            if len(folds) > 1:  # pooled figures: say how far apart the folds they pool were
                self.folds = plain_label("Fold by fold (accuracy / balanced accuracy / melanoma recall): " + "; ".join(
                    f"fold {f['fold']} {f['accuracy']:.3f} / {f['balanced_accuracy']:.3f} / {f['mel_recall']:.2f}"
                    for f in folds) + ".")
                self.folds.setWordWrap(True)
                layout.addWidget(self.folds)
            self.external = plain_label(external_summary(report.get("external")))
            self.external.setWordWrap(True)
            layout.addWidget(self.external)
            self.matrix = ConfusionMatrix(report)
            self.bars = RecallPrecisionBars(report)
            pictures = QHBoxLayout()  # side by side: the dialog fits an 800x600 screen
            pictures.addWidget(self.matrix, 0, Qt.AlignmentFlag.AlignTop)
            pictures.addSpacing(12)
            pictures.addWidget(self.bars, 1, Qt.AlignmentFlag.AlignTop)
            layout.addLayout(pictures)
        layout.addStretch(1)  # room to spare goes below the pictures, not between the sentences
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
