"""The progress bar on stderr (rich's, shown only on a terminal) and the closing summary."""
import sys
import time
from dataclasses import dataclass
from typing import Optional, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
)


@dataclass
class RunSummary:
    """What a `process` run did."""

    docs: int = 0
    words: int = 0
    entities: int = 0
    errors: int = 0
    seconds: float = 0.0
    # Input records skipped by --resume because an earlier run already did them.
    resumed_after: int = 0

    @property
    def records(self) -> int:
        """Input records this run went through: documents written plus bad records."""
        return self.docs + self.errors

    @property
    def words_per_second(self) -> float:
        return self.words / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        text = (
            f"{self.docs} docs, {self.words} words, {self.entities} entities, {self.errors} errors "
            f"in {self.seconds:.1f}s ({self.words_per_second:,.0f} words/s)"
        )
        if self.resumed_after:
            text += f"; resumed after {self.resumed_after} input records already done"
        return text


class Progress:
    """Records done (of `total`, when known), docs/s, words/s, elapsed time and ETA."""

    def __init__(self, *, total: Optional[int], enabled: bool, stream: Optional[TextIO] = None):
        self.records = 0
        self.words = 0
        self.start = time.perf_counter()
        self._bar: Optional[RichProgress] = None
        if enabled:
            self._bar = RichProgress(
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("docs | {task.fields[docs_per_second]:,.0f} docs/s | {task.fields[words_per_second]:,.0f} words/s |"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=stream if stream is not None else sys.stderr, force_terminal=True),
            )
            self._task = self._bar.add_task("process", total=total, docs_per_second=0.0, words_per_second=0.0)
            self._bar.start()

    @staticmethod
    def should_show(quiet: bool, stream: Optional[TextIO] = None) -> bool:
        stream = stream if stream is not None else sys.stderr
        return not quiet and hasattr(stream, "isatty") and stream.isatty()

    def update(self, n_words: int) -> None:
        self.records += 1
        self.words += n_words
        if self._bar is not None:
            elapsed = max(time.perf_counter() - self.start, 1e-9)
            self._bar.update(
                self._task, completed=self.records, docs_per_second=self.records / elapsed,
                words_per_second=self.words / elapsed,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
