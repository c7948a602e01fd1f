"""The character CNN's output for each word met at CPU inference, so that a word is convolved
once, not in every batch it appears in: most tokens of a text are words seen before. Study 3 in
benchmarks/README.md measures the speed on a first pass, while the cache fills, and after."""
import os
import threading
from typing import Dict, List, Tuple

import numpy

# 100,000 strings of 64 filters (the default width) take 25.6 MB in float32, plus the index of
# the strings: a bound on memory that a long-running process can afford.
CHAR_CACHE_MAX_STRINGS = 100_000


class _ForkSafeLock:
    """A lock that a forked child gets anew: a child forked while another thread held it
    would otherwise wait forever. No fork hook is registered: the process id tells."""

    def __init__(self):
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def __enter__(self):
        if self._pid != os.getpid():
            self._pid, self._lock = os.getpid(), threading.Lock()
        return self._lock.__enter__()

    def __exit__(self, *exc_info):
        return self._lock.__exit__(*exc_info)


# Two threads tagging with one pipeline must not claim the same rows: one lock for all caches.
_CACHE_ADDING = _ForkSafeLock()


class CharFeatureCache:
    """Features by ORTH, valid for the weights they were computed with (`key`, from the shim)."""

    def __init__(self, key: Tuple, width: int, max_strings: int):
        self.key = key
        self.max_strings = max_strings
        self.row_of_orth: Dict[int, int] = {}
        self.table = numpy.zeros((min(1024, max_strings), width), dtype="float32")
        # Rows in use: more than len(row_of_orth) when two threads added the same word.
        self.used = 0

    def rows(self, orths: List[int]) -> numpy.ndarray:
        """Each orth's row in `table`, -1 where it has none."""
        row_of_orth = self.row_of_orth
        return numpy.fromiter((row_of_orth.get(orth, -1) for orth in orths), dtype="int64", count=len(orths))

    def has_room_for(self, n_strings: int) -> bool:
        return self.used + n_strings <= self.max_strings

    def add(self, orths: List[int], features: numpy.ndarray) -> None:
        with _CACHE_ADDING:
            first = self.used
            needed = first + len(orths)
            if needed > self.table.shape[0]:
                # Grown into a new array: a reader holding the old one still finds its rows there.
                grown = numpy.zeros((max(needed, min(2 * self.table.shape[0], self.max_strings)), self.table.shape[1]),
                                    dtype=self.table.dtype)
                grown[:first] = self.table[:first]
                self.table = grown
            self.table[first:needed] = features
            self.used = needed
            self.row_of_orth.update(zip(orths, range(first, needed)))
