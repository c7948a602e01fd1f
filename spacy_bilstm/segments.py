"""What the LSTM and the CRF read: the reading units of a doc, and the windows they are cut
into.

- `reading = "sentence"`: a doc's sentences when it has sentence boundaries (from a sentencizer
  or parser earlier in the pipeline, or the corpus), else the whole doc. An entity that crosses
  a sentence boundary can never be predicted.
- `reading = "document"`: the whole doc, whatever its sentences: no entity is ever cut.

A unit longer than `window` tokens (None: no limit) is read in windows. In training the
windows do not overlap (the loss marginalises the tag of an entity cut by a window's edge).
At prediction they overlap by half a window, each token takes its scores from the window in
which it sits furthest from an edge, and the CRF then decodes the whole unit at once, so the
entities across a seam are as well formed as anywhere else. Training and prediction use the
same units, so a model sees at prediction the context it learned from.
"""
from typing import Iterable, List, Optional, Sequence, Tuple

from spacy.tokens import Doc

READINGS = ("sentence", "document")

# (doc index, start token, end token) of a reading unit or of a window.
Segment = Tuple[int, int, int]


def units_of_docs(docs: Iterable[Doc], reading: str = "sentence") -> List[Segment]:
    """The reading units of the docs, in order; a doc's units cover it exactly."""
    units = []
    for doc_index, doc in enumerate(docs):
        if len(doc) == 0:
            continue
        if reading == "sentence" and doc.has_annotation("SENT_START"):
            units.extend((doc_index, sentence.start, sentence.end) for sentence in doc.sents)
        else:
            units.append((doc_index, 0, len(doc)))
    return units


def windows_of_units(units: Sequence[Segment], window: Optional[int], overlapping: bool) -> List[Segment]:
    """The windows the LSTM reads: each unit whole when it fits in `window` tokens, else
    windows of `window` tokens, each starting half a window after the last when `overlapping`,
    a window after it otherwise; the last window ends where the unit ends."""
    if window is None:
        return list(units)
    stride = max(1, window // 2) if overlapping else window
    windows = []
    for doc_index, start, end in units:
        if end - start <= window:
            windows.append((doc_index, start, end))
            continue
        window_start = start
        while True:
            window_end = min(window_start + window, end)
            # An overlapping last window is moved back to full size: its tokens get context.
            windows.append((doc_index, max(start, window_end - window) if overlapping else window_start, window_end))
            if window_end == end:
                break
            window_start += stride
    return windows


def token_sources(units: Sequence[Segment], windows: Sequence[Segment]) -> List[List[Tuple[int, int, int]]]:
    """For each unit, the pieces its scores are taken from: (window index, start within the
    window, end within the window), in order, covering the unit. Each token comes from the
    window in which it is furthest from an edge (the earlier window on a tie)."""
    windows_of_doc = {}
    for window_index, (doc_index, start, end) in enumerate(windows):
        windows_of_doc.setdefault(doc_index, []).append((window_index, start, end))
    sources = []
    for doc_index, unit_start, unit_end in units:
        covering = [w for w in windows_of_doc[doc_index] if w[1] >= unit_start and w[2] <= unit_end]
        if len(covering) == 1:
            sources.append([(covering[0][0], 0, unit_end - unit_start)])
            continue
        pieces: List[Tuple[int, int, int]] = []
        for token in range(unit_start, unit_end):
            best = max(covering, key=lambda w: (min(token - w[1], w[2] - 1 - token), -w[0]) if w[1] <= token < w[2]
                       else (-1, 0))
            window_index, window_start, _ = best
            if pieces and pieces[-1][0] == window_index and pieces[-1][2] == token - window_start:
                pieces[-1] = (window_index, pieces[-1][1], token - window_start + 1)
            else:
                pieces.append((window_index, token - window_start, token - window_start + 1))
        sources.append(pieces)
    return sources
