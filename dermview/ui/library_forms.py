"""The case library's two forms: "Save as case" and "Confirm case" (plain widgets; the checks are dermview.library's)."""

from __future__ import annotations


from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLineEdit, QPlainTextEdit, QSpinBox, QVBoxLayout, QWidget)

from ..archive.codes import DX_CODES, dx_label, dx_type_label
from ..errors import DermviewError
from ..library.rules import SEXES as RULE_SEXES
from ..library.rules import check_note, check_text
from ..library.store import CONFIRMATIONS, OTHER, Case, check_case_id
from .text import plain_label

SEXES = ("", *RULE_SEXES)  # "": not given


# -- the forms -------------------------------------------------------------------------------------

class CaseForm(QDialog):
    """Save the current image as a case: a pseudonymous case id and optional details. Window-modal and
    non-blocking; ``submitted`` carries what was entered once it passes the core's checks."""

    submitted = Signal(dict)

    def __init__(self, file_name: str, note: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Save as case")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.case_id = QLineEdit()
        self.case_id.setPlaceholderText("e.g. K-2026-017 (pseudonymous: no patient name)")
        self.site = QLineEdit()
        self.site.setPlaceholderText("e.g. left scapula")
        self.age = QSpinBox()
        self.age.setRange(-1, 130)
        self.age.setSpecialValueText("not given")
        self.age.setValue(-1)
        self.sex = QComboBox()
        for value in SEXES:
            self.sex.addItem(value or "not given", value)
        self.note = QPlainTextEdit(note)
        self.note.setFixedHeight(70)
        self.error = plain_label("")
        self.error.setStyleSheet("color: #a40000")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow(plain_label("Image:"), plain_label(file_name))
        for title, widget in (("Case id:", self.case_id), ("Body site:", self.site), ("Age:", self.age),
                              ("Sex:", self.sex), ("Note:", self.note)):
            form.addRow(plain_label(title), widget)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(plain_label("The case awaits confirmation until you record its diagnosis; until then it "
                                     "never votes among the neighbours."))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _submit(self) -> None:
        """Check what was typed with the library's own rules; if it passes, ask for it to be stored and wait:
        the form closes when the case is stored (stored()), and stays filled, saying why, if it is not
        (not_stored(): a case id already taken, the library unreachable)."""
        try:
            case_id = check_case_id(self.case_id.text())
            site = check_text(self.site.text().strip(), "body site")
            note = check_note(self.note.toPlainText())
        except DermviewError as exc:
            self.error.setText(str(exc))
            return
        self.error.setText("Saving ...")
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)
        self.submitted.emit({"case_id": case_id, "body_site": site, "age": None if self.age.value() < 0 else
                             self.age.value(), "sex": self.sex.currentData() or None, "note": note})

    def stored(self) -> None:
        self.accept()

    def not_stored(self, why: str) -> None:
        self.error.setText(f"The case was not saved: {why}")
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(True)


class ConfirmForm(QDialog):
    """Record or correct how a case turned out: a diagnosis (or "other" with its text) and how it was
    confirmed, and who records it."""

    submitted = Signal(dict)

    def __init__(self, case: Case, recorder: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Confirm case {case.case_id}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.case_id = case.case_id
        self.diagnosis = QComboBox()
        for code in DX_CODES:
            self.diagnosis.addItem(dx_label(code), code)
        self.diagnosis.addItem("Other (say which)", OTHER)
        self.other = QLineEdit(case.confirmed_other or "")
        self.other.setPlaceholderText("e.g. seborrhoeic wart")
        self.how = QComboBox()
        for code in CONFIRMATIONS:
            self.how.addItem(dx_type_label(code), code)
        self.by = QLineEdit(case.confirmed_by or recorder)
        if case.confirmed_dx:
            self.diagnosis.setCurrentIndex(max(0, self.diagnosis.findData(case.confirmed_dx)))
            self.how.setCurrentIndex(max(0, self.how.findData(case.dx_type)))
        elif case.suggestion in DX_CODES:  # the form starts from what dermview said, to be changed
            self.diagnosis.setCurrentIndex(self.diagnosis.findData(case.suggestion))
        self.diagnosis.currentIndexChanged.connect(self._other_enabled)
        self._other_enabled()
        self.error = plain_label("")
        self.error.setStyleSheet("color: #a40000")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow(plain_label("Diagnosis:"), self.diagnosis)
        form.addRow(plain_label("Other:"), self.other)
        form.addRow(plain_label("Confirmed by:"), self.how)
        form.addRow(plain_label("Recorded by:"), self.by)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(plain_label(f"Case {case.case_id}: {case.outcome_text}"
                                     + (f"; dermview suggested {dx_label(case.suggestion)}." if case.suggestion else ".")))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _other_enabled(self) -> None:
        self.other.setEnabled(self.diagnosis.currentData() == OTHER)

    def _submit(self) -> None:
        if self.diagnosis.currentData() == OTHER and not self.other.text().strip():
            self.error.setText("Say which diagnosis it was (e.g. seborrhoeic wart).")
            return
        self.submitted.emit({"case_id": self.case_id, "diagnosis": self.diagnosis.currentData(),
                             "dx_type": self.how.currentData(), "other": self.other.text().strip() or None,
                             "by": self.by.text().strip() or None})
        self.accept()


