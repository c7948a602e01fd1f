"""The units the LSTM reads: a doc's sentences when it has sentence boundaries (from a
sentencizer or parser earlier in the pipeline, or the corpus), else the whole doc. Training
and prediction use the same rule, so a model sees at prediction the context it learned from."""
from typing import Iterable, List, Sequence, Tuple

from spacy.tokens import Doc


def segment_lengths(doc: Doc) -> List[int]:
    """Token counts of the doc's segments, in order; they add up to len(doc)."""
    if len(doc) == 0:
        return []
    if not doc.has_annotation("SENT_START"):
        return [len(doc)]
    return [len(sentence) for sentence in doc.sents]


def segment_bounds(lengths: Sequence[int]) -> List[Tuple[int, int]]:
    bounds = []
    start = 0
    for length in lengths:
        bounds.append((start, start + length))
        start += length
    return bounds


def segments_of_docs(docs: Iterable[Doc]) -> List[Tuple[int, int, int]]:
    """(doc index, start token, end token) of every segment of the docs, in order."""
    return [
        (doc_index, start, end)
        for doc_index, doc in enumerate(docs)
        for start, end in segment_bounds(segment_lengths(doc))
    ]
