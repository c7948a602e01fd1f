"""How informative a document is to annotate, for each selection strategy (higher: chosen
first), and what makes two documents duplicates. Scalar arithmetic on what the component
computed: the CRF maths lives in nn.lattice (path_log_probs) and layers.decoding."""
import hashlib
import math
import re
from typing import Sequence

STRATEGIES = ("uncertainty", "entity", "random")

_WHITESPACE = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")


def uncertainty_score(best_path_log_prob: float, n_tokens: int) -> float:
    """1 - P(best path)^(1/n_tokens): one minus the per-token geometric mean of the probability
    of the best tagging of the whole document (the product of its units' probabilities).

    Normalised for length because P(best path) is a product of one factor per token: without
    it, every long document would look uncertain and every short one sure. The geometric mean
    rather than -log P(best) / n because it stays in [0, 1), like the `entity` score, so the
    summary's score range reads the same for both; the order of documents is the same with
    either. An empty document scores 0 (its only, empty path is certain)."""
    if n_tokens == 0:
        return 0.0
    return 1.0 - math.exp(best_path_log_prob / n_tokens)


def entity_score(entity_probabilities: Sequence[float], best_path_log_prob: float) -> float:
    """1 - the lowest probability among the document's predicted entities (every entity of the
    best path, below the component's threshold too): a document is as doubtful as its most
    doubtful entity.

    A document with no predicted entity scores 1 - P(best path), whose path is then all O: one
    minus the probability that the document holds no entity at all, the same kind of claim as
    an entity's probability and on the same scale (not normalised for length: a long document
    with no entity found is more likely to hide one)."""
    if len(entity_probabilities):
        return 1.0 - min(entity_probabilities)
    return 1.0 - math.exp(best_path_log_prob)


def random_score(seed: int, index: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, the record's index in the input): the top N
    are a uniform sample of the input, the same whatever the engine, the number of processes or
    the partition size."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode("ascii"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def normalised_text(text: str) -> str:
    """What counts as the same document: texts equal after casefolding, turning every digit
    into 0 and every run of whitespace into one space, and stripping the ends ("Paid $1,200 on
    3 May" and "paid  $9,999 on 4 may" are duplicates; a changed word is not)."""
    return _WHITESPACE.sub(" ", _DIGIT.sub("0", text.casefold())).strip()


def duplicate_key(text: str) -> bytes:
    """A 16-byte hash of normalised_text: what the selection keeps one document per."""
    return hashlib.blake2b(normalised_text(text).encode("utf8"), digest_size=16).digest()
