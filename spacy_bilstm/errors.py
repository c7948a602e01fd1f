"""The base class of every error a user of spacy-bilstm can cause and fix (a bad file, label,
config or argument): `except SpacyBilstmError` catches them all. It derives from ValueError,
as most of them always did."""


class SpacyBilstmError(ValueError):
    """A problem the user can fix; the message says what, where and what to do."""


class OutputWriteError(SpacyBilstmError, OSError):
    """An output file could not be written (no permission, full disk, vanished directory)."""


class ModelLoadError(SpacyBilstmError):
    """A saved pipeline's component could not be loaded (damaged, tampered with, or saved from
    another config or label set)."""
