"""The one error type for corpora a user can get wrong."""
from pathlib import Path
from typing import Optional, Union

from ..errors import SpacyBilstmError


class CorpusError(SpacyBilstmError):
    """A problem with a corpus file: says what is wrong, where, and what to do.

    `path` is the file (or None when no file is involved) and `line` the 1-based line
    number, or None when the problem is not on one line.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Optional[Union[str, Path]] = None,
        line: Optional[int] = None,
        hint: Optional[str] = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        self.problem = message
        self.hint = hint
        where = ""
        if self.path is not None:
            where = f"{self.path}, line {line}: " if line is not None else f"{self.path}: "
        text = where + message
        if hint:
            text += f". {hint}" if not message.endswith(".") else f" {hint}"
        super().__init__(text)
