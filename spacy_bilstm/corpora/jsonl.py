"""Reading JSONL corpora: one object per line with a text, character-offset spans and,
optionally, tokens, sentences and the annotated character ranges of a partly annotated text
(our own output, doccano's and Prodigy's exports)."""
import json
import re
from pathlib import Path
from collections import Counter
from typing import Iterable, List, NoReturn, Optional, Sequence, Tuple

from spacy.tokens import Doc

from .errors import CorpusError
from .offsets import build_doc, is_int, read_annotated_ranges, tokenized
from .summary import ConversionResult, summarise
from .text import LINE_BREAK, blank_nlp, is_blank

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


# Prodigy's answers: only accepted tasks are gold.
ANSWERS = ("accept", "reject", "ignore")
_LEFT_OUT = {"reject": "rejected answers", "ignore": "ignored answers"}


def read_jsonl(path: Path, text: str, options: dict, *, prodigy: Optional[bool] = None) -> ConversionResult:
    """JSONL spans, or Prodigy's export when any line has an "answer" (or `prodigy` is True):
    then every line must have one, and only accepted lines are read."""
    records = list(_records(path, text))
    if not records:
        raise CorpusError("the file contains no JSON lines", path=path, hint="check that the right file was given")
    answered = [lineno for lineno, record in records if "answer" in record]
    if prodigy is None:
        prodigy = bool(answered)
    notes: List[str] = []
    if options["n_sents"] is not None:
        notes.append("--n-sents applies to column formats; each JSONL line stays one document")
    skipped: Counter = Counter()
    tokenizer = None
    docs: List[Doc] = []
    adjusted = binary = 0
    for lineno, record in records:
        if prodigy:
            answer = record.get("answer")
            if answer not in ANSWERS:
                shown = "no \"answer\"" if "answer" not in record else f'the answer {answer!r}'
                where = f" while line {answered[0]} has one" if answered else ""
                raise CorpusError(
                    f"the line has {shown}{where}; Prodigy answers are accept, reject or ignore",
                    path=path, line=lineno,
                    hint='give every line an "answer" (only "accept" lines are read as gold), or remove the '
                    'answers to read the file as plain JSONL spans',
                )
            if answer != "accept":
                skipped[_LEFT_OUT[answer]] += 1
                continue

        def fail(problem: str, hint: str, span: Optional[int] = None, lineno: int = lineno) -> NoReturn:
            raise CorpusError(problem, path=path, line=lineno, hint=hint)

        record_text = record["text"]
        if "tokens" in record:
            words, spaces, offsets = _jsonl_tokens(path, lineno, record)
        else:
            if tokenizer is None:
                tokenizer = blank_nlp(options["lang"], options["vocab"]).tokenizer
            words, spaces, offsets = tokenized(tokenizer, record_text)
        if not words:
            raise CorpusError("the text has no tokens", path=path, line=lineno, hint="remove the line or give it text")
        spans = list(_jsonl_spans(path, lineno, record, len(record_text)))
        annotated = read_annotated_ranges(record.get("annotated"), len(record_text), fail)
        doc, moved = build_doc(
            options["vocab"], record_text, (words, spaces, offsets), spans, fail, alignment=options["alignment"],
            annotated=annotated, sent_starts=_jsonl_sentences(path, lineno, record, offsets),
        )
        adjusted += moved
        docs.append(doc)
        binary += record.get("_view_id") == "ner"
    if binary:
        # ner.teach answers judge one suggested span; the rest of the text was never looked at.
        notes.append(f"{binary:,} line(s) come from Prodigy's binary 'ner' view, which judges one span per task, "
                     'but were read as complete annotation; add "annotated" ranges to mark the rest unknown')
    if not docs:
        raise CorpusError("the file has no accepted answers, so no gold documents", path=path,
                          hint='check that the right file was given; only lines with "answer": "accept" are read')
    alignment = options["alignment"]
    if adjusted:
        notes.append(f"moved {adjusted:,} span boundaries onto token boundaries (--alignment {alignment})")
    summary = summarise(path, docs, "prodigy" if prodigy else "jsonl", "n/a", adjusted, notes, skipped)
    summary.scheme_detail = "character-offset spans"
    return ConversionResult(docs, summary)


def _records(path: Path, text: str) -> Iterable[Tuple[int, dict]]:
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
        check_text(record["text"], path, lineno)
        yield lineno, record


def check_text(text: str, path: Path, lineno: Optional[int]) -> None:
    surrogate = _LONE_SURROGATE.search(text)
    if surrogate:
        raise CorpusError(
            f"the text holds a lone surrogate {surrogate.group()!r} at character {surrogate.start()}, which "
            "is not valid Unicode", path=path, line=lineno,
            hint="fix the \\u escape in the JSON (surrogates must come in pairs) or remove the character",
        )


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
        end = token.get("end", start + len(word) if is_int(start) else None)
        if not (is_int(start) and is_int(end)):
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
        if not (is_int(start) and is_int(end) and isinstance(label, str) and label):
            raise CorpusError(f"span {i} needs integer start and end and a non-empty label", path=path, line=lineno,
                              hint='write spans as {"start": 0, "end": 5, "label": "PER"}')
        if _LONE_SURROGATE.search(label):
            raise CorpusError(f"span {i} has a label {label!r} with a lone surrogate, which is not valid Unicode",
                              path=path, line=lineno, hint="fix the label")
        if not 0 <= start < end <= text_length:
            raise CorpusError(f"span {i} ({start}, {end}, {label!r}) is outside the text (length {text_length}) or empty",
                              path=path, line=lineno, hint="fix the offsets")
        yield start, end, label


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
        if not is_int(start) or start not in by_start:
            raise CorpusError(f"sentence {i} does not start on a token boundary (start={start!r})", path=path,
                              line=lineno, hint='give each sentence a "start" offset where a token begins')
        starts[by_start[start]] = True
    return starts
