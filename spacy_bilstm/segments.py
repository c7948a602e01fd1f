"""What the LSTM and the CRF read.

- The CRF decodes (and trains on) reading units: whole docs with `reading = "document"`, so
  that no entity is ever cut, or each sentence with `reading = "sentence"` (a doc's sentences
  when it has sentence boundaries from a sentencizer, a parser or the corpus, else the whole
  doc), so that an entity never crosses a sentence boundary.
- The LSTM reads pieces of a unit: its sentences with `context = "sentence"`, or the whole unit
  with `context = "document"`; in either case in windows of at most `window` tokens (None: no
  limit). In training the windows do not overlap. At prediction they overlap by half a window,
  and each token takes its scores from the window in which it sits furthest from an edge.

The CRF then reads the unit's scores whole, so entities across a sentence or window seam are as
well formed as anywhere else. Training and prediction use the same units and context, so a
model sees at prediction the context it learned from.
"""
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.tokens import Doc

READINGS = ("sentence", "document")

# (doc index, start token, end token) of a reading unit or of a window.
Segment = Tuple[int, int, int]
# (window index, start within the window, end within the window)
Piece = Tuple[int, int, int]


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


def windows_of_units(
    docs: Sequence[Doc], units: Sequence[Segment], context: str, window: Optional[int], overlapping: bool,
    reading: Optional[str] = None,
) -> List[Segment]:
    """The windows the LSTM reads, unit by unit in order: the unit's sentences (`context =
    "sentence"`) or the unit whole, each cut into windows of `window` tokens when longer, each
    starting half a window after the last when `overlapping`, a window after it otherwise.
    `reading`: how the units were made; units read as they were made are read whole."""
    if context == reading and window is None:
        return list(units)
    windows: List[Segment] = []
    for doc_index, start, end in units:
        doc = docs[doc_index]
        if context == "sentence" and doc.has_annotation("SENT_START"):
            pieces = [(doc_index, max(s.start, start), min(s.end, end)) for s in doc[start:end].sents]
        else:
            pieces = [(doc_index, start, end)]
        for piece in pieces:
            windows.extend(_cut(piece, window, overlapping))
    return windows


def _cut(segment: Segment, window: Optional[int], overlapping: bool) -> List[Segment]:
    doc_index, start, end = segment
    if window is None or end - start <= window:
        return [segment]
    stride = max(1, window // 2) if overlapping else window
    cut = []
    window_start = start
    while True:
        window_end = min(window_start + window, end)
        # An overlapping last window is moved back to full size: its tokens get context.
        cut.append((doc_index, max(start, window_end - window) if overlapping else window_start, window_end))
        if window_end == end:
            return cut
        window_start += stride


def token_sources(units: Sequence[Segment], windows: Sequence[Segment]) -> List[List[Piece]]:
    """For each unit, the pieces of windows its scores are taken from, in order, covering the
    unit: each token from the window in which it is furthest from an edge (the earlier window
    on a tie). `windows` are windows_of_units' for these units, in its order."""
    if len(units) == len(windows):  # each unit read whole
        return [[(index, 0, end - start)] for index, (_, start, end) in enumerate(units)]
    by_doc: Dict[int, List[Tuple[int, int, int]]] = {}
    for window_index, (doc_index, start, end) in enumerate(windows):
        by_doc.setdefault(doc_index, []).append((window_index, start, end))
    sources = []
    for doc_index, unit_start, unit_end in units:
        inside = [w for w in by_doc[doc_index] if unit_start <= w[1] and w[2] <= unit_end]
        pieces: List[Piece] = []
        token = unit_start
        for position, (window_index, start, end) in enumerate(inside):
            if position + 1 < len(inside):
                next_start = inside[position + 1][1]
                # In the overlap, this window's tokens up to the middle are further from its
                # right edge than from the next window's left edge.
                last = min(end, (end - 1 + next_start) // 2 + 1)
            else:
                last = unit_end
            if last > token:
                pieces.append((window_index, token - start, last - start))
                token = last
        sources.append(pieces)
    return sources
