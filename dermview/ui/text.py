"""Text from files and users on screen: always as plain text, never interpreted as Qt rich text.

QLabel, tool tips and message boxes guess "rich text" from anything that looks like a tag, so a
file named ``<font size=7>MELANOMA<br>.jpg`` would render as a large instruction. Labels that show
such text are plain; where a label mixes our own emphasis with a name, the name is escaped.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget


def plain_label(text: str = "") -> QLabel:
    """A QLabel that never interprets its text as markup."""
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def rich_label(text: str = "") -> QLabel:
    """A QLabel for our own markup; every piece of outside text in it must go through :func:`escape`."""
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setText(text)
    return label


def escape(text: object) -> str:
    """Outside text made safe to put inside our own rich text."""
    return html.escape(str(text), quote=False)


def tooltip(text: str) -> str:
    """A tool tip that shows ``text`` literally (tool tips, too, guess rich text from tags)."""
    return "<qt>" + escape(text).replace("\n", "<br>") + "</qt>"


def warn(parent: QWidget, title: str, message: str) -> None:
    """A warning box whose message is shown as plain text."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()
