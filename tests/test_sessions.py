"""The saved session (dermview.clinic.sessions): a damaged file is a sentence, never a crash, and a
session the user did not reopen is kept aside, never overwritten (issue "keep clinicians' data safe")."""

from __future__ import annotations

import json

import pytest

from dermview.clinic.sessions import keep_earlier_session, load_session, save_session
from dermview.clinic.worklist import WorkItem
from dermview.errors import DermviewError


@pytest.mark.parametrize("document", [
    '{"format": "dermview-session", "version": "abc", "images": []}',
    '{"format": "dermview-session", "version": 1, "images": 5}',
    '{"format": "dermview-session", "version": true, "images": []}',
    '{"format": "dermview-session", "version": 1, "images": [{"name": "a.jpg", "note": {"x": 1}}]}',
    "[" * 100_000 + "]" * 100_000,
    '{"format": "dermview-session", "version": 1e999, "images": []}',
])
def test_a_damaged_session_is_a_sentence_and_left_alone(tmp_path, document):
    path = tmp_path / "last-session.json"
    path.write_text(document)
    try:
        saved = load_session(path)
    except DermviewError as exc:
        assert "left as it is" in str(exc) and str(path) in str(exc)
    else:  # a row of the wrong shape is left out, not trusted
        assert saved is None
    assert path.read_text() == document


def test_a_session_not_reopened_is_kept_aside_with_its_notes(tmp_path):
    path = tmp_path / "sessions" / "last-session.json"
    items = [WorkItem(f"/clinic/img-{n}.jpg", note=f"note {n}") for n in range(150)]
    save_session(items, "/archive", path)
    message = keep_earlier_session(path)
    assert message and "150 images, 150 with notes" in message
    kept = [p for p in path.parent.glob("session-*.json")]
    assert len(kept) == 1 and not path.exists()
    notes = [image["note"] for image in json.loads(kept[0].read_text())["images"]]
    assert notes == [f"note {n}" for n in range(150)]
    assert keep_earlier_session(path) is None  # nothing left to keep


def test_a_damaged_session_is_kept_aside_too(tmp_path):
    path = tmp_path / "last-session.json"
    path.write_text('{"format": "dermview-session", "version": "abc"}')
    message = keep_earlier_session(path)
    assert message and "could not be read" in message and not path.exists()
    assert [p.read_text() for p in tmp_path.glob("session-damaged-*.json")] == ['{"format": "dermview-session", "version": "abc"}']
