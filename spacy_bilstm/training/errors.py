"""What training raises: a user error before any long work starts, or an interruption."""
from pathlib import Path
from typing import Optional

from ..errors import SpacyBilstmError


class TrainingError(SpacyBilstmError):
    """Something the user can fix (config, data, vectors, output directory); the message says
    what is wrong, where, and what to do. Raised before training starts."""


class TrainingInterrupted(Exception):
    """Ctrl-C stopped training; `model_last` is the pipeline saved on the way out, if any.
    Not a SpacyBilstmError: it reports a request, not a mistake to fix, and a handler of user
    errors must not swallow it."""

    def __init__(self, model_last: Optional[Path]):
        self.model_last = model_last
        super().__init__(f"training interrupted; model-last: {model_last}")
