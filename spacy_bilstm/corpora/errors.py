"""The one error type for corpora a user can get wrong."""
from pathlib import Path
from typing import Optional, Union

from ..errors import SpacyBilstmError


class CorpusError(SpacyBilstmError):
    """A problem with a corpus file, in one sentence: where, what is wrong, and what to do.

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
        # One sentence: what is wrong, then what to do, whichever module wrote the two halves.
        text = where + message[:1].upper() + message[1:].rstrip(".")
        if hint:
            text += "; " + hint.rstrip(".")
        super().__init__(text + ".")
