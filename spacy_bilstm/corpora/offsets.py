"""Character-offset annotation (JSONL, Prodigy, Label Studio, brat) into Docs and back: spans
aligned to tokens, and the annotated character ranges of a partly annotated text, whose
tokens outside every range become spaCy's missing value (`ent_iob == 0`, not O)."""
from typing import Callable, List, NoReturn, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

# Raises CorpusError at the place being read: fail(problem, hint, span=None), where `span` is
# the index of the span the problem is about (brat names its line), if it is about one.
Fail = Callable[..., NoReturn]
Offsets = Sequence[Tuple[int, int]]

ANNOTATED_HINT = ('write "annotated" as a list of [start, end] character ranges, e.g. [[0, 120]], or leave it '
                  "out when the whole text is annotated")


def is_int(value: object) -> bool:
    # JSON true/false are Python bools, which are ints; an offset of `true` is a mistake.
    return isinstance(value, int) and not isinstance(value, bool)


def tokenized(tokenizer, text: str) -> Tuple[List[str], List[bool], List[Tuple[int, int]]]:
    doc = tokenizer(text)
    return [t.text for t in doc], [bool(t.whitespace_) for t in doc], [(t.idx, t.idx + len(t.text)) for t in doc]


def read_annotated_ranges(value: object, text_length: int, fail: Fail) -> Optional[List[Tuple[int, int]]]:
    """The `annotated` ranges of a record, checked: None (absent) means the whole text."""
    if value is None:
        return None
    if not isinstance(value, list):
        fail(f'"annotated" must be a list of [start, end] ranges, not {type(value).__name__}', ANNOTATED_HINT)
    ranges = []
    for i, pair in enumerate(value):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(is_int(v) for v in pair)):
            fail(f'annotated range {i} is {pair!r}, not a [start, end] pair of integers', ANNOTATED_HINT)
        start, end = pair
        if not 0 <= start < end <= text_length:
            fail(f"annotated range {i} ({start}, {end}) is empty or outside the text (length {text_length})",
                 "fix the offsets")
        ranges.append((start, end))
    return sorted(ranges)


def build_doc(
    vocab: Vocab,
    text: str,
    tokens: Tuple[List[str], List[bool], Offsets],
    spans: Sequence[Tuple[int, int, str]],
    fail: Fail,
    *,
    alignment: str = "strict",
    annotated: Optional[Sequence[Tuple[int, int]]] = None,
    sent_starts: Optional[List[bool]] = None,
) -> Tuple[Doc, int]:
    """A Doc of `tokens` (words, spaces, character offsets in `text`) with `spans` (character
    offsets) as entities; tokens outside every `annotated` range (None: all annotated) are
    missing values. Also returns how many span boundaries `alignment` moved."""
    words, spaces, offsets = tokens
    if not words:
        fail("the text has no tokens", "remove the record or give it text")
    text_doc, token_index = _text_doc(vocab, text, offsets)
    aligned, moved = [], 0
    for i, (start, end, label) in enumerate(spans):
        token_span, adjusted = _align(text_doc, token_index, offsets, start, end, alignment)
        if token_span is None:
            reason = "does not start and end on token boundaries" if alignment == "strict" else (
                f"covers no whole token under --alignment {alignment}")
            fail(f"span ({start}, {end}, {label!r}) = {text[start:end]!r} {reason}",
                 "fix the offsets, or pass --alignment expand (grow the span to whole tokens) or "
                 "--alignment contract (shrink it)", span=i)
        moved += adjusted
        aligned.append((token_span[0], token_span[1], label, start, end, i))
    aligned.sort()
    for before, after in zip(aligned, aligned[1:]):
        if after[0] < before[1]:
            fail(f"spans ({before[3]}, {before[4]}, {before[2]!r}) and ({after[3]}, {after[4]}, {after[2]!r}) "
                 "overlap; spaCy entities cannot overlap", "keep one of the two spans", span=after[5])
    is_annotated = _annotated_tokens(text, offsets, annotated, fail)
    for start, end, label, char_start, char_end, i in aligned:
        if not all(is_annotated[start:end]):
            fail(f"span ({char_start}, {char_end}, {label!r}) is not inside the annotated ranges",
                 'widen "annotated" to cover it, or remove the span', span=i)
    doc = Doc(vocab, words=words, spaces=spaces, sent_starts=sent_starts)
    missing = [Span(doc, start, end) for start, end in _runs(is_annotated, False)]
    doc.set_ents([Span(doc, s, e, label=label) for s, e, label, *_ in aligned], missing=missing, default="outside")
    return doc, moved


def annotated_ranges(doc: Doc) -> Optional[List[List[int]]]:
    """The character ranges of `doc` whose tokens carry entity annotation, or None when every
    token does: what `read_annotated_ranges` reads back into the same missing tokens."""
    is_annotated = [token.ent_iob != 0 for token in doc]
    if all(is_annotated):
        return None
    return [[doc[start].idx, doc[end - 1].idx + len(doc[end - 1].text)] for start, end in _runs(is_annotated, True)]


def _annotated_tokens(text: str, offsets: Offsets, annotated: Optional[Sequence[Tuple[int, int]]], fail: Fail) -> List[bool]:
    if annotated is None:
        return [True] * len(offsets)
    flags = []
    for start, end in offsets:
        inside = any(a <= start and end <= b for a, b in annotated)
        if not inside and any(a < end and start < b for a, b in annotated):
            fail(f"an annotated range starts or ends inside the token {text[start:end]!r} (characters {start}:{end})",
                 "make the annotated ranges start and end on token boundaries")
        flags.append(inside)
    return flags


def _runs(flags: Sequence[bool], value: bool) -> List[Tuple[int, int]]:
    runs, start = [], None
    for i, flag in enumerate([*flags, not value]):
        if flag == value and start is None:
            start = i
        elif flag != value and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _text_doc(vocab: Vocab, text: str, offsets: Offsets) -> Tuple[Doc, List[Optional[int]]]:
    """A Doc whose character offsets are the record's own, so that `Doc.char_span` can align
    spans: the tokens at `offsets`, plus a whitespace token for each gap (or leading text) that
    one trailing space cannot hold. Also returns, for each of its tokens, the index of the
    record token it is, or None for a whitespace token."""
    words: List[str] = []
    spaces: List[bool] = []
    token_index: List[Optional[int]] = []
    cursor = 0
    for i, (start, end) in enumerate([*offsets, (len(text), None)]):
        gap_start = cursor
        if start > gap_start and words:
            spaces[-1] = True
            gap_start += 1
        if start > gap_start:
            words.append(text[gap_start:start])
            spaces.append(False)
            token_index.append(None)
        if end is None:
            break
        words.append(text[start:end])
        spaces.append(False)
        token_index.append(i)
        cursor = end
    return Doc(vocab, words=words, spaces=spaces), token_index


def _align(
    text_doc: Doc, token_index: Sequence[Optional[int]], offsets: Offsets, start: int, end: int, alignment: str,
) -> Tuple[Optional[Tuple[int, int]], int]:
    """Map character offsets to a range of record tokens with `Doc.char_span`; also say how
    many of the two boundaries moved. Whitespace between tokens is in no entity: a strict span
    must start and end on record tokens, an expanded or contracted one loses whitespace at
    its edges."""
    span = text_doc.char_span(start, end, alignment_mode=alignment)
    covered = [token_index[token.i] for token in span] if span is not None else []
    if alignment == "strict" and covered and (covered[0] is None or covered[-1] is None):
        return None, 0
    inside = [i for i in covered if i is not None]
    if not inside:
        return None, 0
    first, last = inside[0], inside[-1]
    return (first, last + 1), int(offsets[first][0] != start) + int(offsets[last][1] != end)
