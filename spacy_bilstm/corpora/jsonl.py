"""Reading JSONL corpora: one object per line with a text, character-offset spans and,
optionally, tokens and sentences (our own output, doccano's exports)."""
import json
import re
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from .errors import CorpusError
from .summary import ConversionResult, summarise
from .text import LINE_BREAK, blank_nlp, is_blank

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def read_jsonl(path: Path, text: str, options: dict) -> ConversionResult:
    alignment = options["alignment"]
    tokenizer = None
    docs: List[Doc] = []
    adjusted = 0
    notes: List[str] = []
    if options["n_sents"] is not None:
        notes.append("--n-sents applies to column formats; each JSONL line stays one document")
    for lineno, raw in enumerate(LINE_BREAK.split(text), 1):
        if is_blank(raw):
            continue
        try:
            record = json.loads(raw.lstrip("\ufeff"))
        except json.JSONDecodeError as err:
            raise CorpusError(f"invalid JSON ({err.msg}, column {err.colno})", path=path, line=lineno,
                              hint="each line must be one JSON object") from None
        except (ValueError, RecursionError) as err:  # e.g. nesting too deep, an integer too long
            raise CorpusError(f"invalid JSON ({err.__class__.__name__}: {err})", path=path, line=lineno,
                              hint="each line must be one JSON object") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise CorpusError('the line is not an object with a "text" string', path=path, line=lineno,
                              hint='write {"text": ..., "spans": [{"start": ..., "end": ..., "label": ...}]}')
        record_text = record["text"]
        surrogate = _LONE_SURROGATE.search(record_text)
        if surrogate:
            raise CorpusError(
                f"the text holds a lone surrogate {surrogate.group()!r} at character {surrogate.start()}, which "
                "is not valid Unicode", path=path, line=lineno,
                hint="fix the \\u escape in the JSON (surrogates must come in pairs) or remove the character",
            )
        if "tokens" in record:
            words, spaces, offsets = _jsonl_tokens(path, lineno, record)
        else:
            if tokenizer is None:
                tokenizer = blank_nlp(options["lang"], options["vocab"]).tokenizer
            tokenized = tokenizer(record_text)
            words = [t.text for t in tokenized]
            spaces = [bool(t.whitespace_) for t in tokenized]
            offsets = [(t.idx, t.idx + len(t.text)) for t in tokenized]
        if not words:
            raise CorpusError("the text has no tokens", path=path, line=lineno, hint="remove the line or give it text")
        spans = []
        text_doc, token_index = _text_doc(options["vocab"], record_text, offsets)
        for start, end, label in _jsonl_spans(path, lineno, record, len(record_text)):
            token_span, moved = _align(text_doc, token_index, offsets, start, end, alignment)
            if token_span is None:
                shown = record_text[start:end]
                reason = "does not start and end on token boundaries" if alignment == "strict" else (
                    f"covers no whole token under --alignment {alignment}")
                raise CorpusError(
                    f"span ({start}, {end}, {label!r}) = {shown!r} {reason}",
                    path=path, line=lineno,
                    hint="fix the offsets, or pass --alignment expand (grow the span to whole tokens) or "
                    "--alignment contract (shrink it)",
                )
            adjusted += moved
            spans.append((token_span[0], token_span[1], label, start, end))
        spans.sort()
        for before, after in zip(spans, spans[1:]):
            if after[0] < before[1]:
                raise CorpusError(
                    f"spans ({before[3]}, {before[4]}, {before[2]!r}) and ({after[3]}, {after[4]}, {after[2]!r}) "
                    "overlap; spaCy entities cannot overlap",
                    path=path, line=lineno, hint="keep one of the two spans",
                )
        sent_starts = _jsonl_sentences(path, lineno, record, offsets)
        doc = Doc(options["vocab"], words=words, spaces=spaces, sent_starts=sent_starts)
        doc.ents = [Span(doc, s, e, label=label) for s, e, label, _, _ in spans]
        docs.append(doc)
    if not docs:
        raise CorpusError("the file contains no JSON lines", path=path, hint="check that the right file was given")
    if adjusted:
        notes.append(f"moved {adjusted:,} span boundaries onto token boundaries (--alignment {alignment})")
    summary = summarise(path, docs, "jsonl", "n/a", adjusted, notes)
    summary.scheme_detail = "character-offset spans"
    return ConversionResult(docs, summary)


def _is_int(value: object) -> bool:
    # JSON true/false are Python bools, which are ints; an offset of `true` is a mistake.
    return isinstance(value, int) and not isinstance(value, bool)


def _jsonl_tokens(path: Path, lineno: int, record: dict) -> Tuple[List[str], List[bool], List[Tuple[int, int]]]:
    text = record["text"]
    tokens = record["tokens"]
    if not isinstance(tokens, list):
        raise CorpusError('"tokens" must be a list', path=path, line=lineno)
    words, offsets = [], []
    cursor = 0
    for i, token in enumerate(tokens):
        if not isinstance(token, dict) or not isinstance(token.get("text"), str) or not token["text"]:
            raise CorpusError(f'token {i} needs a non-empty "text"', path=path, line=lineno)
        word = token["text"]
        start = token.get("start")
        if start is None:
            start = text.find(word, cursor)
            if start < 0:
                raise CorpusError(f"token {i} ({word!r}) is not in the text after offset {cursor}",
                                  path=path, line=lineno, hint='give tokens "start" and "end" offsets')
        end = token.get("end", start + len(word) if _is_int(start) else None)
        if not (_is_int(start) and _is_int(end)):
            raise CorpusError(f'token {i} ({word!r}) needs integer "start" and "end" offsets, not {start!r} and {end!r}',
                              path=path, line=lineno, hint="fix the token offsets")
        if start < cursor:
            raise CorpusError(f"token {i} ({word!r}) starts at {start}, before the end of the token before it ({cursor})",
                              path=path, line=lineno, hint="tokens must be in text order and must not overlap")
        if text[start:end] != word:
            raise CorpusError(f"token {i} ({word!r}) does not match the text at {start}:{end} ({text[start:end]!r})",
                              path=path, line=lineno, hint="fix the token offsets")
        _check_gap_is_space(path, lineno, text, cursor, start, f"before token {i} ({word!r})")
        words.append(word)
        offsets.append((start, end))
        cursor = end
    _check_gap_is_space(path, lineno, text, cursor, len(text), "after the last token")
    spaces = []
    for i, token in enumerate(tokens):
        if "ws" in token:
            spaces.append(bool(token["ws"]))
        else:
            following = offsets[i + 1][0] if i + 1 < len(offsets) else len(text)
            spaces.append(following > offsets[i][1] and text[offsets[i][1]: offsets[i][1] + 1].isspace())
    return words, spaces, offsets


def _check_gap_is_space(path: Path, lineno: int, text: str, start: int, end: int, where: str) -> None:
    # Text that no token covers would vanish from the Doc without a trace.
    gap = text[start:end]
    if gap.strip():
        raise CorpusError(f"the text {gap.strip()!r} {where} (characters {start}:{end}) is in no token",
                          path=path, line=lineno, hint="add the missing tokens, or leave out \"tokens\" to tokenize the text")


def _jsonl_spans(path: Path, lineno: int, record: dict, text_length: int) -> Iterable[Tuple[int, int, str]]:
    for key in ("spans", "entities"):
        if key in record and not isinstance(record[key] or [], list):
            raise CorpusError(f'"{key}" must be a list of spans, not {type(record[key]).__name__}', path=path,
                              line=lineno, hint='write spans as [{"start": 0, "end": 5, "label": "PER"}]')
    if "spans" in record:
        raw_spans = [(s.get("start"), s.get("end"), s.get("label")) if isinstance(s, dict) else (None, None, None)
                     for s in record["spans"] or []]
    elif "entities" in record:  # doccano's newer export
        raw_spans = [(s.get("start_offset"), s.get("end_offset"), s.get("label")) if isinstance(s, dict)
                     else (None, None, None) for s in record["entities"] or []]
    elif isinstance(record.get("label"), list):  # doccano's older export: [[start, end, label], ...]
        raw_spans = [tuple(s) if isinstance(s, list) and len(s) == 3 else (None, None, None) for s in record["label"]]
    else:
        raw_spans = []
    for i, (start, end, label) in enumerate(raw_spans):
        if not (_is_int(start) and _is_int(end) and isinstance(label, str) and label):
            raise CorpusError(f"span {i} needs integer start and end and a non-empty label", path=path, line=lineno,
                              hint='write spans as {"start": 0, "end": 5, "label": "PER"}')
        if _LONE_SURROGATE.search(label):
            raise CorpusError(f"span {i} has a label {label!r} with a lone surrogate, which is not valid Unicode",
                              path=path, line=lineno, hint="fix the label")
        if not 0 <= start < end <= text_length:
            raise CorpusError(f"span {i} ({start}, {end}, {label!r}) is outside the text (length {text_length}) or empty",
                              path=path, line=lineno, hint="fix the offsets")
        yield start, end, label


def _text_doc(vocab: Vocab, text: str, offsets: Sequence[Tuple[int, int]]) -> Tuple[Doc, List[Optional[int]]]:
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
    text_doc: Doc, token_index: Sequence[Optional[int]], offsets: Sequence[Tuple[int, int]], start: int, end: int,
    alignment: str,
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


def _jsonl_sentences(path: Path, lineno: int, record: dict, offsets: Sequence[Tuple[int, int]]) -> List[bool]:
    starts = [False] * len(offsets)
    starts[0] = True
    sentences = record.get("sentences")
    if sentences is None:
        return starts
    if not isinstance(sentences, list):
        raise CorpusError(f'"sentences" must be a list, not {type(sentences).__name__}', path=path, line=lineno,
                          hint='write sentences as [{"start": 0, "end": 12}, ...]')
    by_start = {s: i for i, (s, _) in enumerate(offsets)}
    for i, sent in enumerate(sentences):
        start = sent.get("start") if isinstance(sent, dict) else None
        if not _is_int(start) or start not in by_start:
            raise CorpusError(f"sentence {i} does not start on a token boundary (start={start!r})", path=path,
                              line=lineno, hint='give each sentence a "start" offset where a token begins')
        starts[by_start[start]] = True
    return starts
