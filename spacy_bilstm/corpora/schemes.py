"""Tag schemes: turning per-token tags into entity spans and back.

Every scheme maps onto the same spans, `(start, end, label)` with `end` exclusive.
BIOES and BILUO are decoded here rather than with spaCy's `iob_to_biluo`, which reads
BIOES `B-PER E-PER` as two one-token entities.
"""
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple

from ..errors import ConfigError, SpacyBilstmError

Span = Tuple[int, int, str]

SCHEMES = ("iob1", "iob2", "bioes", "biluo", "io")
# The tag of a token whose annotation is unknown: spaCy's missing value, not O.
MISSING_TAG = "-"

# Prefixes each scheme allows, and which of them begin / continue / end an entity.
_PREFIXES = {
    "iob1": frozenset("BI"),
    "iob2": frozenset("BI"),
    "io": frozenset("I"),
    "bioes": frozenset("BIES"),
    "biluo": frozenset("BILU"),
}
_ALL_PREFIXES = frozenset("BIESLU")
# For the two closed schemes: (begin, inside, last, unit)
_CLOSED = {"bioes": ("B", "I", "E", "S"), "biluo": ("B", "I", "L", "U")}


class TagError(SpacyBilstmError):
    """A problem with one tag; `index` is the token position within its sequence;
    `at_missing` says that the problem is an entity running across a missing (`-`) token."""

    def __init__(self, message: str, index: int, *, repairable: bool = False, at_missing: bool = False) -> None:
        super().__init__(message)
        self.index = index
        self.repairable = repairable
        self.at_missing = at_missing


@dataclass(frozen=True)
class SchemeEvidence:
    """What auto-detection saw: the scheme and the (sequence, token) that decided it."""

    scheme: str
    reason: str
    where: Optional[Tuple[int, int]] = None


def split_tag(tag: str, index: int = 0) -> Tuple[str, str]:
    """Split `B-PER` into `("B", "PER")`; `O` gives `("O", "")`. Labels may contain hyphens."""
    if tag == "O":
        return "O", ""
    prefix, sep, label = tag.partition("-")
    if not sep or not label or prefix.upper() not in _ALL_PREFIXES or prefix != prefix.upper():
        raise TagError(
            f"unknown tag {tag!r}: expected 'O' or a prefix B-, I-, E-, S-, L- or U- followed by a label "
            "(e.g. B-PER)",
            index,
        )
    return prefix, label


def tags_to_spans(tags: Sequence[str], scheme: str = "iob2", *, repair: bool = False) -> List[Span]:
    """Decode one sentence's tags into entity spans. Invalid sequences raise `TagError`
    unless `repair` is set, in which case they are read as the nearest valid sequence."""
    spans, _ = decode_tags(tags, scheme, repair=repair)
    return spans


def decode_tags(tags: Sequence[str], scheme: str, *, repair: bool = False) -> Tuple[List[Span], int]:
    """Like `tags_to_spans`, also returning how many repairs were made."""
    if scheme not in _PREFIXES:
        raise ConfigError(f"unknown tag scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    if scheme in _CLOSED:
        return _decode_closed(tags, scheme, repair)
    return _decode_open(tags, scheme, repair)


def decode_partial_tags(
    tags: Sequence[str], scheme: str, *, repair: bool = False
) -> Tuple[List[Span], List[int], int]:
    """Like `decode_tags` for a sequence where some tags are `MISSING_TAG` (not annotated):
    also returns the positions of those tokens. A missing token is in no entity: the entity
    before it must end there and the tag after it is read as if it began the sequence. An
    entity that runs on across a missing token (IOB2 `B-PER - I-PER`, BIOES `B-PER - E-PER`)
    raises `TagError`, even with `repair`, since no reading of it is the annotator's."""
    missing = [i for i, tag in enumerate(tags) if tag == MISSING_TAG]
    if not missing:
        spans, repairs = decode_tags(tags, scheme, repair=repair)
        return spans, [], repairs
    _check_missing_neighbours(tags, scheme)
    spans: List[Span] = []
    repairs = 0
    for start, end in zip([-1, *missing], [*missing, len(tags)]):
        start += 1
        if start == end:
            continue
        try:
            found, fixed = decode_tags(tags[start:end], scheme, repair=repair)
        except TagError as err:
            raise TagError(str(err), start + err.index, repairable=err.repairable) from None
        spans.extend((start + s, start + e, label) for s, e, label in found)
        repairs += fixed
    return spans, missing, repairs


def _check_missing_neighbours(tags: Sequence[str], scheme: str) -> None:
    closed = _CLOSED.get(scheme)
    continuing = {"iob2": "I", "iob1": "", "io": ""}.get(scheme) or (closed[1] + closed[2] if closed else "")
    for i, tag in enumerate(tags):
        if tag == MISSING_TAG or i == 0:
            continue
        prefix, label = split_tag(tag, i)
        if tags[i - 1] == MISSING_TAG and prefix in continuing:
            raise TagError(
                f"{tag!r} follows a not-annotated token ({MISSING_TAG!r}), so it continues an entity across a "
                f"token whose tag is unknown; in {scheme.upper()} an entity after {MISSING_TAG!r} starts with "
                f"{closed[0] if closed else 'B'}-{label}",
                i, at_missing=True,
            )
        if closed and i + 1 < len(tags) and tags[i + 1] == MISSING_TAG and prefix in closed[:2]:
            raise TagError(
                f"the entity {tag!r} is cut off by the not-annotated token ({MISSING_TAG!r}) after it: in "
                f"{scheme.upper()} it must be closed with {closed[2]}-{label} before it",
                i, at_missing=True,
            )


def _decode_open(tags: Sequence[str], scheme: str, repair: bool) -> Tuple[List[Span], int]:
    """IOB1, IOB2 and IO: an entity ends where a tag does not continue it."""
    allowed = _PREFIXES[scheme]
    spans: List[Span] = []
    repairs = 0
    start: Optional[int] = None
    label = ""
    for i, tag in enumerate(tags):
        prefix, tag_label = split_tag(tag, i)
        if prefix != "O" and prefix not in allowed:
            raise TagError(f"tag {tag!r} uses prefix {prefix}-, which the {scheme.upper()} scheme does not have", i)
        continues = prefix == "I" and start is not None and tag_label == label
        if continues:
            continue
        if start is not None:
            spans.append((start, i, label))
            start = None
        if prefix == "O":
            continue
        if prefix == "I" and scheme == "iob2":
            previous = "the start of the sentence" if i == 0 else f"{tags[i - 1]!r}"
            if not repair:
                raise TagError(
                    f"{tag!r} follows {previous}: in IOB2 every entity starts with B-, so I-{tag_label} must "
                    f"follow B-{tag_label} or I-{tag_label}",
                    i,
                    repairable=True,
                )
            repairs += 1
        start, label = i, tag_label
    if start is not None:
        spans.append((start, len(tags), label))
    return spans, repairs


def _decode_closed(tags: Sequence[str], scheme: str, repair: bool) -> Tuple[List[Span], int]:
    """BIOES and BILUO: every entity is explicitly opened and closed."""
    begin, inside, last, unit = _CLOSED[scheme]
    allowed = _PREFIXES[scheme]
    name = scheme.upper()
    spans: List[Span] = []
    repairs = 0
    start: Optional[int] = None
    label = ""

    def fail(message: str, index: int) -> None:
        if not repair:
            raise TagError(message, index, repairable=True)

    for i, tag in enumerate(tags):
        prefix, tag_label = split_tag(tag, i)
        if prefix != "O" and prefix not in allowed:
            raise TagError(f"tag {tag!r} uses prefix {prefix}-, which the {name} scheme does not have", i)
        if start is not None:
            if prefix in (inside, last) and tag_label == label:
                if prefix == last:
                    spans.append((start, i + 1, label))
                    start = None
                continue
            fail(
                f"{tag!r} interrupts the entity {begin}-{label} opened {i - start} token(s) earlier: in {name} "
                f"an entity must be closed with {last}-{label}",
                i,
            )
            repairs += 1
            spans.append((start, i, label))
            start = None
        if prefix == "O":
            continue
        if prefix in (inside, last):
            fail(
                f"{tag!r} has no {begin}-{tag_label} before it: in {name} an entity starts with {begin}- "
                f"(or is a single {unit}- token)",
                i,
            )
            repairs += 1
            if prefix == last:
                spans.append((i, i + 1, tag_label))
            else:
                start, label = i, tag_label
        elif prefix == unit:
            spans.append((i, i + 1, tag_label))
        else:
            start, label = i, tag_label
    if start is not None:
        fail(
            f"the entity {begin}-{label} opened here is never closed: in {name} the sentence must give it "
            f"a {last}-{label} tag",
            start,
        )
        repairs += 1
        spans.append((start, len(tags), label))
    return spans, repairs


def spans_to_tags(spans: Iterable[Span], n_tokens: int, scheme: str = "iob2") -> List[str]:
    """Encode non-overlapping spans as tags. IO cannot separate two adjacent entities of
    the same label, so that case raises TagError rather than merging them."""
    if scheme not in _PREFIXES:
        raise ConfigError(f"unknown tag scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    tags = ["O"] * n_tokens
    previous_end, previous_label = -1, ""
    for start, end, label in sorted(spans):
        if not 0 <= start < end <= n_tokens:
            raise TagError(f"span ({start}, {end}, {label!r}) is outside a sequence of {n_tokens} tokens", start)
        if start < previous_end:
            raise TagError(f"span ({start}, {end}, {label!r}) overlaps the span before it", start)
        touching_same = start == previous_end and label == previous_label
        if scheme == "io" and touching_same:
            raise TagError(
                f"two {label} entities touch at token {start}; the IO scheme cannot keep them apart "
                "(use iob2, bioes or biluo)", start,
            )
        if scheme in _CLOSED:
            begin, inside, last, unit = _CLOSED[scheme]
            if end - start == 1:
                tags[start] = f"{unit}-{label}"
            else:
                tags[start] = f"{begin}-{label}"
                for i in range(start + 1, end - 1):
                    tags[i] = f"{inside}-{label}"
                tags[end - 1] = f"{last}-{label}"
        else:
            opener = "B" if scheme == "iob2" or (scheme == "iob1" and touching_same) else "I"
            tags[start] = f"{opener}-{label}"
            for i in range(start + 1, end):
                tags[i] = f"I-{label}"
        previous_end, previous_label = end, label
    return tags


def detect_scheme(sequences: Sequence[Sequence[str]]) -> SchemeEvidence:
    """Guess the scheme of a corpus from all its tag sequences.

    E-/S- means BIOES and L-/U- means BILUO (both at once is an error). Among B-/I- files, an
    I-X that begins an entity is IOB1; a B-X that begins an entity after something other than X
    is IOB2; seeing both is an error because the two readings disagree. No B- at all is IO.
    Raises `MixedSchemeError` naming the two places that disagree.
    """
    first_seen = {}
    iob1_at = iob2_at = None
    for s, tags in enumerate(sequences):
        prev_prefix, prev_label = "O", ""
        for i, tag in enumerate(tags):
            if tag == MISSING_TAG:
                # An I- tag after a missing token starts an entity whatever the scheme: no evidence.
                prev_prefix, prev_label = MISSING_TAG, ""
                continue
            try:
                prefix, label = split_tag(tag, i)
            except TagError as err:
                raise MixedSchemeError(str(err), (s, i), None, kind="unknown-tag") from None
            first_seen.setdefault(prefix, (s, i))
            in_same = prev_prefix != "O" and prev_label == label
            if prefix == "I" and not in_same and iob1_at is None and prev_prefix != MISSING_TAG:
                iob1_at = (s, i)
            if prefix == "B" and not in_same and iob2_at is None:
                iob2_at = (s, i)
            prev_prefix, prev_label = prefix, label
    closed_bioes = [first_seen[p] for p in "ES" if p in first_seen]
    closed_biluo = [first_seen[p] for p in "LU" if p in first_seen]
    if closed_bioes and closed_biluo:
        raise MixedSchemeError(
            "the file mixes BIOES tags (E-/S-) with BILUO tags (L-/U-); pick one scheme for the whole file",
            min(closed_bioes),
            min(closed_biluo),
            kind="bioes+biluo",
        )
    if closed_bioes:
        return SchemeEvidence("bioes", "E-/S- tags", min(closed_bioes))
    if closed_biluo:
        return SchemeEvidence("biluo", "L-/U- tags", min(closed_biluo))
    if "B" not in first_seen:
        if "I" in first_seen:
            return SchemeEvidence("io", "I- tags and no B- tags", first_seen["I"])
        return SchemeEvidence("iob2", "no entity tags at all")
    if iob1_at is not None and iob2_at is not None:
        raise MixedSchemeError(
            "the file mixes IOB1 (an I- tag starts an entity) with IOB2 (a B- tag starts an entity after "
            "another tag)",
            iob1_at,
            iob2_at,
            kind="iob1+iob2",
        )
    if iob1_at is not None:
        return SchemeEvidence("iob1", "I- tags that start entities", iob1_at)
    return SchemeEvidence("iob2", "every entity starts with B-", iob2_at)


class MixedSchemeError(SpacyBilstmError):
    """Auto-detection found conflicting evidence; `first`/`second` are (sequence, token)."""

    def __init__(
        self, message: str, first: Tuple[int, int], second: Optional[Tuple[int, int]], *, kind: str
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.first = first
        self.second = second
