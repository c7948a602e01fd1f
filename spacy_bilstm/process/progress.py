"""Progress bar on stderr and the closing summary."""
import sys
import time
from dataclasses import dataclass
from typing import Optional, TextIO


@dataclass
class Summary:
    docs: int = 0
    words: int = 0
    entities: int = 0
    errors: int = 0
    seconds: float = 0.0
    # Input records skipped by --resume because an earlier run already did them.
    resumed_after: int = 0

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


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


class Progress:
    """A one-line progress display, redrawn at most every `interval` seconds."""

    def __init__(self, *, total: Optional[int], enabled: bool, stream: Optional[TextIO] = None,
                 interval: float = 0.25):
        self.total = total
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.records = 0
        self.words = 0
        self.start = time.perf_counter()
        self._last_draw = 0.0

    @staticmethod
    def should_show(quiet: bool, stream: Optional[TextIO] = None) -> bool:
        stream = stream if stream is not None else sys.stderr
        return not quiet and hasattr(stream, "isatty") and stream.isatty()

    def update(self, n_words: int) -> None:
        self.records += 1
        self.words += n_words
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last_draw >= self.interval:
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.start, 1e-9)
        docs_per_second = self.records / elapsed
        line = f"{self.records} docs"
        if self.total:
            fraction = min(self.records / self.total, 1.0)
            filled = int(fraction * 20)
            line = f"[{'#' * filled}{'.' * (20 - filled)}] {self.records}/{self.total} docs {fraction:.0%}"
        line += f" | {docs_per_second:,.0f} docs/s | {self.words / elapsed:,.0f} words/s"
        line += f" | {_duration(elapsed)}"
        if self.total and docs_per_second > 0:
            line += f" ETA {_duration(max(self.total - self.records, 0) / docs_per_second)}"
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()
