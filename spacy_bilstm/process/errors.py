"""Errors a user can cause while processing, and the policy for bad input records."""
from pathlib import Path
from typing import Optional

from ..errors import SpacyBilstmError

ON_ERROR_CHOICES = ("raise", "skip")


class ProcessError(SpacyBilstmError):
    """A problem the user can fix (bad arguments, unreadable input, full disk).
    The CLI prints the message and exits non-zero; nothing is dropped silently."""


class BadRecordError(ProcessError):
    """An input record that cannot be processed, under `--on-error raise`."""

    def __init__(self, source: str, line: int, reason: str, errors_path: Optional[Path] = None):
        self.source = source
        self.line = line
        self.reason = reason
        hint = "Fix the record and rerun with --resume to continue after the records already written"
        if errors_path is not None:
            hint += f", or rerun with --on-error skip to write bad records to {errors_path} and go on"
        super().__init__(f"Bad record in {source}, line {line}: {reason}. {hint}.")


def errors_path_for(output_path: Path) -> Path:
    """`out.jsonl` -> `out.jsonl.errors.jsonl`: next to the output, named after it."""
    return output_path.with_name(output_path.name + ".errors.jsonl")
