"""Typed errors that the command line prints as one line and the window shows as a message."""


class DermviewError(Exception):
    """Base class: ``str(error)`` is a complete, user-facing sentence."""


class ArchiveError(DermviewError):
    """The archive cannot be opened as it is (no metadata, bad columns, damaged zip, ...)."""


class ImageDecodeError(DermviewError):
    """One image cannot be read or decoded; other images are unaffected."""


class CancelledError(DermviewError):
    """A long job was cancelled by its caller."""
