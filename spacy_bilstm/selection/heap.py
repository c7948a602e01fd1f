"""The bounded top-N of the selection: at most N candidates, at most one per duplicate key,
whatever the size of the input."""
import heapq
from dataclasses import dataclass
from typing import Any, Dict, Hashable, List, Tuple

from ..errors import ConfigError


@dataclass(frozen=True)
class Candidate:
    """A document that may be chosen. `index` is its record's position in the input: of two
    equal scores the earlier record ranks higher, so the choice never depends on the order in
    which workers return."""

    score: float
    index: int
    key: Hashable
    payload: Any = None

    @property
    def rank_key(self) -> Tuple[float, int]:
        return (self.score, -self.index)


class TopN:
    """The N highest-ranked candidates offered so far, one per key.

    A min-heap of (score, -index) holds the N best, the worst on top to be evicted; a dict
    finds the entry of a key. A candidate whose key is already held replaces it only if it
    ranks higher. Keeping one per key among the best is exact: the result is the top N of the
    input with each key's best candidate only, as if every duplicate had been removed first."""

    def __init__(self, n: int):
        if n < 1:
            raise ConfigError(f"the selection size must be at least 1, not {n}")
        self.n = n
        self._heap: List[Tuple[float, int, Candidate]] = []
        self._by_key: Dict[Hashable, Tuple[float, int, Candidate]] = {}
        # Candidates dropped because a candidate with the same key was held.
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self._heap)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._by_key

    def admits(self, candidate: Candidate) -> bool:
        """Whether offer(candidate) would hold it (nothing changes): lets a worker serialise
        only the documents that can enter."""
        held = self._by_key.get(candidate.key)
        if held is not None:
            return candidate.rank_key > held[:2]
        return len(self._heap) < self.n or candidate.rank_key > self._heap[0][:2]

    def offer(self, candidate: Candidate) -> bool:
        """Hold `candidate` if it ranks among the best N (evicting the worst held) or above the
        held candidate of its key (replacing it). RETURNS whether it is held."""
        entry = (*candidate.rank_key, candidate)
        held = self._by_key.get(candidate.key)
        if held is not None:
            self.duplicates += 1
            if entry[:2] <= held[:2]:
                return False
            self._heap[self._heap.index(held)] = entry
            heapq.heapify(self._heap)
        elif len(self._heap) < self.n:
            heapq.heappush(self._heap, entry)
        elif entry[:2] > self._heap[0][:2]:
            evicted = heapq.heapreplace(self._heap, entry)
            del self._by_key[evicted[2].key]
        else:
            return False
        self._by_key[candidate.key] = entry
        return True

    def best_first(self) -> List[Candidate]:
        """The held candidates, highest rank first."""
        return [entry[2] for entry in sorted(self._heap, key=lambda entry: entry[:2], reverse=True)]
