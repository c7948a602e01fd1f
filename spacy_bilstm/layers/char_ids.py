"""Characters as ids for the character CNN: each character hashed into `n_rows - 1` rows (row 0
is padding), a word longer than `max_chars` cut to both its ends."""
from functools import lru_cache
from typing import Sequence, Tuple

import numpy
from spacy.attrs import ORTH


@lru_cache(maxsize=2**18)
def _char_ids(text: str, n_rows: int, max_chars: int) -> Tuple[int, ...]:
    if len(text) > max_chars:
        # Keep both ends: prefixes and suffixes carry most of the signal.
        n_tail = max_chars // 2
        text = text[: max_chars - n_tail] + text[len(text) - n_tail :]
    return tuple(ord(c) % (n_rows - 1) + 1 for c in text)


def char_ids_of_docs(docs, n_rows: int, max_chars: int) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """The distinct token strings of the docs as (U, C) char ids (0 = padding) and (U,) char
    counts, and for each token of the docs in order (N,) the row of its string. The CNN then
    runs once per distinct string in a batch rather than once per token."""
    orths = [doc.to_array(ORTH) for doc in docs if len(doc)]
    if not orths:
        empty = numpy.zeros(0, dtype="int64")
        return numpy.zeros((0, 0), dtype="int64"), empty, empty
    unique_orths, token_rows = numpy.unique(numpy.concatenate(orths), return_inverse=True)
    char_ids, lengths = char_ids_of_strings(
        [docs[0].vocab.strings[int(orth)] for orth in unique_orths], n_rows, max_chars
    )
    return char_ids, lengths, token_rows.reshape(-1).astype("int64")


def char_ids_of_strings(strings: Sequence[str], n_rows: int, max_chars: int) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """(U, C) char ids (0 = padding) and (U,) char counts of U strings."""
    unique_ids = [_char_ids(string, n_rows, max_chars) for string in strings]
    lengths = numpy.fromiter((len(ids) for ids in unique_ids), dtype="int64", count=len(unique_ids))
    char_ids = numpy.zeros((len(unique_ids), int(lengths.max())), dtype="int64")
    char_ids[numpy.arange(int(lengths.max())) < lengths[:, None]] = numpy.fromiter(
        (c for ids in unique_ids for c in ids), dtype="int64", count=int(lengths.sum())
    )
    return char_ids, lengths
