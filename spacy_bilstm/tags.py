"""The BILUO tag set of a list of entity labels: tag ids, allowed-transition masks, and
conversions between BILUO strings, tag ids and entity spans. Pure Python and numpy."""
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy

from .errors import LabelError

OUTSIDE = "O"
PREFIXES = ("B", "I", "L", "U")
UNKNOWN_TAG_ID = -1

Span = Tuple[int, int, str]  # (start token, end token exclusive, label)


class UnknownLabelError(LabelError):
    """A tag or label outside the tag set the component was initialized with."""


class BiluoTags:
    """Tag 0 is `O`; label k (0-based) owns tags 1+4k .. 4+4k as B, I, L, U."""

    def __init__(self, labels: Sequence[str]):
        self.labels: Tuple[str, ...] = tuple(labels)
        self.names: List[str] = [OUTSIDE] + [f"{prefix}-{label}" for label in self.labels for prefix in PREFIXES]
        self.ids = {name: i for i, name in enumerate(self.names)}
        kinds = [OUTSIDE] + [prefix for _ in self.labels for prefix in PREFIXES]
        owners = [None] + [label for label in self.labels for _ in PREFIXES]
        self._kind = numpy.array(kinds)
        self._owner = numpy.array(owners, dtype=object)

    def __len__(self) -> int:
        return len(self.names)

    def _of_kind(self, *kinds: str) -> numpy.ndarray:
        return numpy.isin(self._kind, kinds)

    @property
    def allowed_start(self) -> numpy.ndarray:
        """(T,) bool: a path may begin with O, B-X or U-X."""
        return self._of_kind(OUTSIDE, "B", "U")

    @property
    def allowed_end(self) -> numpy.ndarray:
        """(T,) bool: a path may end with O, L-X or U-X."""
        return self._of_kind(OUTSIDE, "L", "U")

    @property
    def allowed_transitions(self) -> numpy.ndarray:
        """(T_prev, T_next) bool. Outside an entity (after O, L-X, U-X) the next tag opens a new
        entity or stays outside; inside one (after B-X, I-X) it continues or closes the same X."""
        closes = self.allowed_end
        opens = self.allowed_start
        inside = self._of_kind("B", "I")
        continues = self._of_kind("I", "L")
        same_label = self._owner[:, None] == self._owner[None, :]
        return (closes[:, None] & opens[None, :]) | (inside[:, None] & continues[None, :] & same_label)

    def ids_from_biluo(self, biluo: Sequence[Optional[str]]) -> numpy.ndarray:
        """BILUO strings -> tag ids; None, "" and "-" (spaCy's missing values) become -1."""
        result = numpy.full(len(biluo), UNKNOWN_TAG_ID, dtype="int64")
        for i, tag in enumerate(biluo):
            if tag is None or tag in ("", "-"):
                continue
            try:
                result[i] = self.ids[tag]
            except KeyError:
                label = tag.split("-", 1)[-1]
                raise UnknownLabelError(
                    f"The gold tag {tag!r} (token {i}) names the label {label!r}, which is not among the "
                    f"labels: {', '.join(self.labels) or 'none'}."
                ) from None
        return result

    def cut_to_segment(self, ids: numpy.ndarray, start: int, end: int) -> numpy.ndarray:
        """The gold tag ids of tokens start..end. A gold entity that crosses the segment's edge
        (a sentence boundary inside an entity) cannot be a valid path within the segment: its
        tokens on this side become unknown (marginalised) instead of an impossible path."""
        segment = ids[start:end].copy()
        kind = self._kind
        position = 0
        while position < len(segment) and segment[position] >= 0 and kind[segment[position]] in ("I", "L"):
            segment[position] = UNKNOWN_TAG_ID
            position += 1
        position = len(segment) - 1
        while position >= 0 and segment[position] >= 0 and kind[segment[position]] in ("B", "I"):
            segment[position] = UNKNOWN_TAG_ID
            position -= 1
        return segment

    def spans_from_ids(self, ids: Iterable[int]) -> List[Span]:
        """Entity spans of a valid BILUO path of tag ids."""
        spans: List[Span] = []
        start = None
        for i, tag_id in enumerate(ids):
            kind = self._kind[tag_id]
            if kind == "U":
                spans.append((i, i + 1, self._owner[tag_id]))
            elif kind == "B":
                start = i
            elif kind == "L" and start is not None:
                spans.append((start, i + 1, self._owner[tag_id]))
                start = None
        return spans

    def span_tag_ids(self, span: Span) -> List[int]:
        """The tag sub-path that marks `span`: [U-X] or [B-X, I-X..., L-X]."""
        start, end, label = span
        if end - start == 1:
            return [self.ids[f"U-{label}"]]
        inner = [self.ids[f"I-{label}"]] * (end - start - 2)
        return [self.ids[f"B-{label}"], *inner, self.ids[f"L-{label}"]]

    def is_valid_path(self, ids: Sequence[int]) -> bool:
        if len(ids) == 0:
            return True
        transitions = self.allowed_transitions
        return bool(
            self.allowed_start[ids[0]]
            and self.allowed_end[ids[-1]]
            and all(transitions[a, b] for a, b in zip(ids[:-1], ids[1:]))
        )
