"""No part of the window reaches into another's child widgets (issue 43): the window's panels are asked and told
through what their classes define (methods, properties, signals), never through the widgets and models they
build in ``__init__``; and only the window itself touches its tabs, pages and splitter."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from dermview.ui.browser import ArchiveBrowser  # noqa: E402
from dermview.ui.classify import ClassifyPanel  # noqa: E402
from dermview.ui.clinic import ClinicActions  # noqa: E402
from dermview.ui.detail import DetailPanel  # noqa: E402
from dermview.ui.library import LibraryActions  # noqa: E402
from dermview.ui.start_page import StartPage  # noqa: E402

UI = Path(__file__).resolve().parent.parent / "dermview" / "ui"
# the window's attribute -> (its class, the module that owns it and may use its insides)
PANELS = {"classify": (ClassifyPanel, "classify.py"), "browser": (ArchiveBrowser, "browser.py"),
          "detail": (DetailPanel, "detail.py"), "clinic": (ClinicActions, "clinic.py"),
          "library": (LibraryActions, "library.py"), "start_page": (StartPage, "start_page.py")}
WINDOW_INSIDES = {"tabs", "pages", "splitter", "detail_page"}
BUILDER = "main_window.py"  # builds the panels and wires them together


def declared(cls: type) -> set[str]:
    """What a panel's class (and dermview's classes it derives from) declares: methods, properties, signals."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith("dermview."):
            names.update(vars(klass))
    return names


def reaches(path: Path) -> list[str]:
    """``window.panel.name`` uses in ``path`` (or ``self.panel.name`` where the module's ``panel`` property returns
    the window's) whose ``name`` the panel's class does not declare, and the window's own insides used outside it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases = {node.value.attr for node in ast.walk(tree) if isinstance(node, ast.Return)
               and isinstance(node.value, ast.Attribute) and ast.unparse(node.value.value) == "self.window"}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        inner = node.value
        if isinstance(inner, ast.Attribute) and inner.attr in PANELS:
            root = ast.unparse(inner.value)
            cls, owner = PANELS[inner.attr]
            if ((root in ("window", "self.window") or (root == "self" and inner.attr in aliases))
                    and path.name not in (owner, BUILDER) and node.attr not in declared(cls)):
                found.append(f"{path.name}:{node.lineno} .{inner.attr}.{node.attr}")
        if node.attr in WINDOW_INSIDES and path.name != BUILDER and ast.unparse(node.value) in ("window", "self.window"):
            found.append(f"{path.name}:{node.lineno} window.{node.attr}")
    return found


def test_no_part_of_the_window_reaches_into_another():
    files = sorted(UI.glob("*.py"))
    assert len(files) > 20
    problems = [problem for path in files for problem in reaches(path)]
    assert problems == []


def test_the_check_finds_a_reach(tmp_path):
    """The check itself: a module that reads the worklist's model through the panel is caught."""
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f(window):\n    return window.classify.model.items, window.tabs.count()\n\n"
                      "class Helper:\n    @property\n    def classify(self):\n        return self.window.classify\n\n"
                      "    def g(self):\n        return self.classify.worklist\n")
    assert sorted(reaches(sneaky)) == ["sneaky.py:10 .classify.worklist", "sneaky.py:2 .classify.model",
                                       "sneaky.py:2 window.tabs"]
    polite = tmp_path / "polite.py"
    polite.write_text("def f(window):\n    return window.classify.items(), window.classify.result_wanted\n")
    assert reaches(polite) == []
