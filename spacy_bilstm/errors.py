"""The base class of every error a user of spacy-bilstm can cause and fix (a bad file, label,
config or argument): `except SpacyBilstmError` catches them all. It derives from ValueError,
as most of them always did.

The rule (tests/test_errors.py enforces it): the package never raises a bare ValueError or
TypeError. A problem the user can fix raises a subclass of SpacyBilstmError; a broken internal
invariant (a bug in this package, not in its input) raises RuntimeError. The one exception
outside the base is `training.TrainingInterrupted`: Ctrl-C is a request, not a mistake to fix,
and `except SpacyBilstmError` must not swallow it."""


class SpacyBilstmError(ValueError):
    """A problem the user can fix; the message says what, where and what to do."""


class ConfigError(SpacyBilstmError):
    """A setting is out of range or contradicts another: in a config (an architecture, the
    component, a callback) or given as an argument or environment variable (threads, bins,
    thresholds, a tag scheme)."""


class LabelError(SpacyBilstmError):
    """An entity label that cannot be used: not a non-empty string, added too late, missing
    from the component's label set, or no labels at all."""


class AnnotationError(SpacyBilstmError):
    """A training example's gold entities cannot be learned from, e.g. a BILUO sequence that
    no path of the tag set can follow."""


class TrainingDivergedError(SpacyBilstmError, FloatingPointError):
    """The loss or the model's scores stopped being finite numbers; the settings (learning rate,
    gradient clipping, precision) need changing. Still a FloatingPointError, as it always was."""


class ScoreError(SpacyBilstmError):
    """Entity confidence scores that cannot be used: a span group whose scores do not pair with
    its spans, values that are not probabilities, or a measure asked of no scores at all."""


class OutputWriteError(SpacyBilstmError, OSError):
    """An output file could not be written (no permission, full disk, vanished directory)."""


class ModelLoadError(SpacyBilstmError):
    """A saved pipeline's component could not be loaded (damaged, tampered with, or saved from
    another config or label set)."""
