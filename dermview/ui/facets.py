"""The facet panel: check boxes with live counts, an age range and a search box."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea,
                               QSpinBox, QVBoxLayout, QWidget)

from ..archive.browse import AGE_MAX, AGE_MIN, FACETS, Browser, Filter
from ..archive.codes import dx_label, dx_type_label

FACET_TITLES = {"dx": "Diagnosis", "dx_type": "Confirmed by", "sex": "Sex", "localization": "Body site",
                "dataset": "Source dataset"}


def value_label(facet: str, value: str) -> str:
    if facet == "dx":
        return dx_label(value)
    if facet == "dx_type":
        return dx_type_label(value)
    return value.replace("_", " ").capitalize()


class FacetPanel(QScrollArea):
    filter_changed = Signal(object)  # Filter

    def __init__(self, browser: Browser, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setMinimumWidth(330)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._boxes: dict[str, dict[str, QCheckBox]] = {}
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search lesion_id or image_id")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search lesion or image id")
        layout.addWidget(self.search)
        # Typing should not re-filter 10,000 rows on every key: wait for a short pause.
        self._debounce = QTimer(self, singleShot=True, interval=150)
        self._debounce.timeout.connect(self._emit)
        self.search.textChanged.connect(self._debounce.start)

        for facet in FACETS:
            group = QGroupBox(FACET_TITLES[facet])
            group_layout = QVBoxLayout(group)
            group_layout.setSpacing(1)
            self._boxes[facet] = {}
            for value in browser.values[facet]:
                box = QCheckBox(value_label(facet, value))
                box.setObjectName(f"facet-{facet}-{value}")
                box.toggled.connect(self._emit)
                group_layout.addWidget(box)
                self._boxes[facet][value] = box
            layout.addWidget(group)
            if facet == "dx_type":
                layout.addWidget(self._age_group())

        clear = QPushButton("Clear all filters")
        clear.clicked.connect(self.clear)
        layout.addWidget(clear)
        layout.addStretch(1)
        self.setWidget(body)
        # Never clip a label: as wide as the longest check box with its count.
        self.setMinimumWidth(body.sizeHint().width() + 40)

    def _age_group(self) -> QGroupBox:
        group = QGroupBox("Age (years)")
        row = QHBoxLayout(group)
        self.age_min = QSpinBox(minimum=AGE_MIN, maximum=AGE_MAX, value=AGE_MIN)
        self.age_max = QSpinBox(minimum=AGE_MIN, maximum=AGE_MAX, value=AGE_MAX)
        self.age_min.setAccessibleName("Minimum age")
        self.age_max.setAccessibleName("Maximum age")
        for spin in (self.age_min, self.age_max):
            spin.valueChanged.connect(self._emit)
        for spin in (self.age_min, self.age_max):
            spin.setMinimumWidth(64)
        row.addWidget(QLabel("from"))
        row.addWidget(self.age_min)
        row.addWidget(QLabel("to"))
        row.addWidget(self.age_max)
        row.addStretch(1)
        group.setToolTip("Images of unknown age are shown only while the range is 0-100.")
        return group

    def current(self) -> Filter:
        selected = {facet: {v for v, box in boxes.items() if box.isChecked()} for facet, boxes in self._boxes.items()}
        lo, hi = sorted((self.age_min.value(), self.age_max.value()))
        return Filter(selected=selected, age_range=(lo, hi), text=self.search.text())

    def set_checked(self, facet: str, value: str, checked: bool = True) -> None:
        self._boxes[facet][value].setChecked(checked)

    def update_counts(self, counts: dict[str, dict[str, int]]) -> None:
        for facet, boxes in self._boxes.items():
            for value, box in boxes.items():
                n = counts[facet].get(value, 0)
                box.setText(f"{value_label(facet, value)}  ({n:,})")
                # Greyed, not hidden: what is ticked stays visible even when nothing matches.
                box.setStyleSheet("" if n or box.isChecked() else "color: gray;")

    def clear(self) -> None:
        self.blockSignals(True)
        for boxes in self._boxes.values():
            for box in boxes.values():
                box.blockSignals(True)
                box.setChecked(False)
                box.blockSignals(False)
        for spin, value in ((self.age_min, AGE_MIN), (self.age_max, AGE_MAX)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.blockSignals(False)
        self._emit()

    def _emit(self, *args) -> None:
        self.filter_changed.emit(self.current())
