"""A worklist image saved as a case: exactly the bytes that were classified, with what dermview said."""

from __future__ import annotations

from ..clinic.worklist import WorkItem
from ..errors import DermviewError
from ..archive.inputs import sha256_of
from .store import Case, CaseLibrary


def add_work_item(library: CaseLibrary, item: WorkItem, case_id: str, *, body_site: str | None = None,
                  age: int | None = None, sex: str | None = None, note: str = "") -> Case:
    """Store ``item``'s image as a new case, awaiting confirmation, with its suggestion and features (so
    that it is searchable the moment it is confirmed). Raises DermviewError with a sentence for the user."""
    if item.input is None:
        raise DermviewError(f"{item.name} is an archive image, not one of your cases; save a clinic image instead.")
    outcome = item.outcome
    if outcome is None:
        raise DermviewError(f"{item.file_name} has no result yet: wait for it to be classified, then save it.")
    try:
        data = item.input.read()
    except OSError as exc:
        raise DermviewError(f"{item.file_name} can no longer be read ({exc.strerror or exc}); nothing was saved.") from exc
    if outcome.sha256 and sha256_of(data) != outcome.sha256:
        raise DermviewError(f"{item.file_name} has changed since it was classified; classify it again before "
                            "saving it, so that the case keeps what dermview said about these pixels.")
    features = (outcome.vector_key, outcome.vector) if outcome.vector is not None and outcome.vector_key else None
    return library.add_case(data, case_id, file_name=item.file_name, body_site=(body_site or "").strip() or None,
                            age=age, sex=sex, note=note, outcome=outcome, features=features)
