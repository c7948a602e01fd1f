"""Reading column corpora: CoNLL files (`-DOCSTART-` markers, several columns) and plain
token/tag columns, separated by spaces or tabs."""
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from .errors import CorpusError
from .schemes import MISSING_TAG, MixedSchemeError, TagError, decode_partial_tags, detect_scheme
from .summary import ConversionResult, summarise
from .text import LINE_BREAK, is_blank

DOCSTART = "-DOCSTART-"
# Column separators in a space-separated file: ASCII spaces and tabs only. str.split() would
# also split on no-break spaces and other Unicode spaces that belong to a token.
_SPACES = re.compile(r"[ \t]+")
# A language-code-like prefix such as WikiANN's `en:` or `zh-yue:`; only stripped when
# every token in a file carries the same one.
_LANG_PREFIX = re.compile(r"^([a-z]{2,3}(?:[-_][a-z0-9]{2,8})*:)(.+)$", re.DOTALL)


@dataclass
class _Sentence:
    tokens: List[str]
    tags: List[str]
    lines: List[int]


@dataclass
class _Table:
    """The token lines of a column file, split into fields, before the token and tag columns
    are chosen: documents of sentences of (line number, fields)."""

    documents: List[List[List[Tuple[int, List[str]]]]]
    delimiter: str
    n_columns: int
    first_line: int
    has_docstart: bool
    lines_with_trailing_empty_columns: int


# What a DocBin of column documents trains on: the file's tokens ("gold"), or spaCy's
# re-tokenisation of their text joined by spaces ("spacy"), closer to raw text at prediction.
COLUMN_TOKENS = ("gold", "spacy")


def read_columns(path: Path, text: str, options: dict, requested: Optional[str]) -> ConversionResult:
    lines = LINE_BREAK.split(text)
    try:
        return _read_columns(path, lines, options, requested)
    except CorpusError as err:
        raise _with_comment_hint(err, lines, options["comment_prefix"]) from None


def _read_columns(path: Path, lines: List[str], options: dict, requested: Optional[str]) -> ConversionResult:
    table = _read_table(path, lines, options)
    notes: List[str] = []
    token_column, tag_column = _choose_columns(table, options["token_column"], options["tag_column"], notes)
    documents = [[_sentence(path, rows, token_column, tag_column) for rows in document] for document in table.documents]
    sentences = [s for doc in documents for s in doc]
    if not sentences:
        raise CorpusError("the file contains no tokens", path=path, hint="check that the right file was given")
    if table.lines_with_trailing_empty_columns:
        notes.append(
            f"left out the empty columns at the end of {table.lines_with_trailing_empty_columns:,} line(s) "
            "(a tab before the line end)"
        )
    has_docstart, n_columns, delimiter = table.has_docstart, table.n_columns, table.delimiter
    _strip_prefix(path, sentences, options["strip_prefix"], notes)
    scheme, scheme_detail = _choose_scheme(path, sentences, options["scheme"], options["repair"])
    fmt = requested or ("conll" if has_docstart or n_columns > 2 else "columns")
    format_detail = (
        f"{n_columns} columns, {'tab' if delimiter == chr(9) else 'space'}-separated"
        + (", -DOCSTART- markers" if has_docstart else "")
    )
    repairs = 0
    spans_per_sentence = []
    for sent in sentences:
        try:
            spans, missing, fixed = decode_partial_tags(sent.tags, scheme, repair=options["repair"])
        except TagError as err:
            hint = "fix the tag"
            if err.at_missing:
                hint = f"tag the not-annotated token, or mark the whole entity {MISSING_TAG!r}"
            if err.repairable:
                hint += ", or pass --repair to read it as the nearest valid sequence"
            if options["scheme"] == "auto":
                hint += f" (scheme {scheme}, {scheme_detail}; pass --scheme if that is wrong)"
            raise CorpusError(str(err), path=path, line=sent.lines[err.index], hint=hint) from None
        repairs += fixed
        spans_per_sentence.append((spans, missing))
    if repairs:
        notes.append(f"repaired {repairs:,} invalid tag sequence(s) as asked (--repair)")

    grouped = _group(documents, has_docstart, options["n_sents"], notes)
    span_iter = iter(spans_per_sentence)
    docs = [_build_doc(options["vocab"], group, span_iter, options["tokens"]) for group in grouped]
    if options["tokens"] == "spacy":
        notes.append("whitespace marked known (--tokens spacy): spaCy's corpus reader re-tokenises the joined text")
    summary = summarise(path, docs, fmt, scheme, repairs, notes)
    summary.format_detail = format_detail
    summary.scheme_detail = scheme_detail if options["scheme"] == "auto" else "as given"
    return ConversionResult(docs, summary)


def _read_table(path: Path, lines: List[str], options: dict) -> _Table:
    tag_column, token_column = options["tag_column"], options["token_column"]
    comment_prefix = options["comment_prefix"]
    documents: List[List[List[Tuple[int, List[str]]]]] = [[]]
    sentence: List[Tuple[int, List[str]]] = []
    delimiter: Optional[str] = None
    n_columns = first_line = None
    has_docstart = False
    trailing = 0

    def end_sentence() -> None:
        nonlocal sentence
        if sentence:
            documents[-1].append(sentence)
            sentence = []

    for lineno, line in enumerate(lines, 1):
        if is_blank(line):
            end_sentence()
            continue
        if comment_prefix and line.lstrip("\ufeff").startswith(comment_prefix):
            continue
        if delimiter is None:
            delimiter = "\t" if "\t" in line else " "
        if delimiter == "\t":
            fields = [f.strip(" ") for f in line.split("\t")]
            kept = _without_trailing_empty_fields(fields, n_columns)
            trailing += len(kept) < len(fields)
            fields = kept
        else:
            fields = _SPACES.split(line.strip(" \t"))
        if fields[0].lstrip("\ufeff") == DOCSTART:
            end_sentence()
            has_docstart = True
            if documents[-1]:
                documents.append([])
            continue
        if n_columns is None:
            n_columns, first_line = len(fields), lineno
            if n_columns < 2:
                raise CorpusError(
                    f"found 1 column ({line.strip()!r}); expected a token and a tag separated by "
                    f"{'a tab' if delimiter == chr(9) else 'a space'}",
                    path=path, line=lineno,
                    hint="give each token line a tag column, or pass --format jsonl if this is JSONL",
                )
            for name, column in (("--tag-column", tag_column), ("--token-column", token_column)):
                if column is not None and column > n_columns:
                    raise CorpusError(f"{name} {column} asked for, but the lines have {n_columns} columns",
                                      path=path, line=lineno, hint=f"choose a column from 1 to {n_columns}")
        elif len(fields) != n_columns:
            hint = ("every token line needs the same columns (token first, tag last); check for a missing "
                    "tag or a token containing a space")
            if delimiter == "\t" and " " in line.strip(" "):
                hint = (f"line {first_line} separates columns with tabs but this line uses spaces; use one "
                        "separator for the whole file")
            hint = _comment_hint(lines, [first_line, lineno], comment_prefix, otherwise=hint) or hint
            raise CorpusError(
                f"found {len(fields)} column{'s' if len(fields) != 1 else ''} but line {first_line} has {n_columns}",
                path=path, line=lineno, hint=hint,
            )
        sentence.append((lineno, fields))
    end_sentence()
    return _Table(documents, delimiter or " ", n_columns or 0, first_line or 0, has_docstart, trailing)


def _without_trailing_empty_fields(fields: List[str], n_columns: Optional[int]) -> List[str]:
    """`fields` without the empty ones a tab before the line end leaves, as long as the line
    keeps the file's column count (two at least on the first line): an empty tag or token
    inside those columns stays, and is reported as empty."""
    kept = len(fields)
    while kept > 1 and not fields[kept - 1]:
        kept -= 1
    wanted = n_columns if n_columns is not None else 2
    return fields[: max(kept, min(wanted, len(fields)))]


def _choose_columns(
    table: _Table, token_column: Optional[int], tag_column: Optional[int], notes: List[str]
) -> Tuple[int, int]:
    """The 1-based token and tag columns: as given, else the token first (second after a
    column of token numbers) and the tag last, saying in `notes` what was chosen."""
    numbering_column = None
    if token_column is None:
        token_column = 1
        if _numbers_the_tokens(table):
            numbering_column, token_column = 1, 2
            notes.append(
                "column 1 numbers the tokens of each sentence (1, 2, 3, ...), so the tokens were read from "
                "column 2; pass --token-column 1 to read column 1 as the tokens"
            )
    if tag_column is None:
        tag_column = table.n_columns
        others = [str(c) for c in range(1, table.n_columns) if c not in (token_column, numbering_column)]
        if others:
            notes.append(
                f"the tags were read from column {tag_column}, the last; to read them from another column "
                f"({', '.join(others)}), pass --tag-column"
            )
    return token_column, tag_column


def _numbers_the_tokens(table: _Table) -> bool:
    # GermEval 2014 and CoNLL-U files start each token line with its position in the sentence.
    if table.n_columns < 3:
        return False
    return all(
        fields[0].lstrip("\ufeff") == str(position)
        for document in table.documents
        for sentence in document
        for position, (_, fields) in enumerate(sentence, 1)
    )


def _sentence(path: Path, rows: Sequence[Tuple[int, List[str]]], token_column: int, tag_column: int) -> _Sentence:
    sentence = _Sentence([], [], [])
    for lineno, fields in rows:
        token = fields[token_column - 1].lstrip("\ufeff")
        tag = fields[tag_column - 1]
        if not token.strip():
            raise CorpusError("empty token", path=path, line=lineno, hint="remove the line or give it a token")
        if not tag:
            raise CorpusError("empty tag", path=path, line=lineno, hint="give the token a tag such as O or B-PER")
        sentence.tokens.append(token)
        sentence.tags.append(tag)
        sentence.lines.append(lineno)
    return sentence


def _with_comment_hint(err: CorpusError, lines: Sequence[str], comment_prefix: Optional[str]) -> CorpusError:
    """`err`, saying how to skip comment lines when the line it is about starts with `#` and
    no comment prefix was given."""
    if err.line is None or "--comment-prefix" in (err.hint or ""):
        return err
    hint = _comment_hint(lines, [err.line], comment_prefix, otherwise=err.hint)
    return CorpusError(err.problem, path=err.path, line=err.line, hint=hint) if hint else err


def _comment_hint(
    lines: Sequence[str], linenos: Sequence[int], comment_prefix: Optional[str], *, otherwise: Optional[str]
) -> Optional[str]:
    commented = [n for n in linenos if 0 < n <= len(lines) and lines[n - 1].lstrip("\ufeff").startswith("#")]
    if comment_prefix is not None or not commented:
        return None
    hint = f"if lines starting with '#' are comments (line {commented[0]} is one), pass --comment-prefix '#'"
    return hint + (f"; otherwise {otherwise}" if otherwise else "")


def _strip_prefix(path: Path, sentences: List[_Sentence], strip_prefix: Optional[str], notes: List[str]) -> None:
    if strip_prefix is None or strip_prefix == "none":
        return
    if strip_prefix == "auto":
        first = _LANG_PREFIX.match(sentences[0].tokens[0])
        if first is None:
            return
        prefix = first.group(1)
        if not all(tok.startswith(prefix) and len(tok) > len(prefix) for s in sentences for tok in s.tokens):
            return
    else:
        prefix = strip_prefix
        for sent in sentences:
            for tok, lineno in zip(sent.tokens, sent.lines):
                if not tok.startswith(prefix) or len(tok) == len(prefix):
                    raise CorpusError(
                        f"token {tok!r} does not start with the prefix {prefix!r} to strip (or is only the prefix)",
                        path=path, line=lineno, hint="pass --strip-prefix none to keep tokens as they are",
                    )
    for sent in sentences:
        sent.tokens = [tok[len(prefix):] for tok in sent.tokens]
    notes.append(f"stripped the prefix {prefix!r} from every token")


def _choose_scheme(path: Path, sentences: List[_Sentence], scheme: str, repair: bool) -> Tuple[str, str]:
    try:
        evidence = detect_scheme([s.tags for s in sentences])
    except MixedSchemeError as err:
        s, i = err.first
        if err.second is None:  # an unknown tag, not a conflict
            raise CorpusError(str(err), path=path, line=sentences[s].lines[i],
                              hint="fix the tag, or pass --tag-column if the tags are in another column") from None
        if scheme != "auto":
            return scheme, "as given"
        s2, i2 = err.second
        first_line, second_line = sentences[s].lines[i], sentences[s2].lines[i2]
        if err.kind == "iob1+iob2" and repair:
            return "iob2", (
                f"auto-detected with --repair: B- tags start entities (line {second_line}) but I- tags also do "
                f"(line {first_line}); read as IOB2, turning entity-starting I- tags into B-"
            )
        hint = "use one scheme for the whole file, or pass --scheme"
        if err.kind == "iob1+iob2":
            hint = (f"line {first_line} starts an entity with I-, line {second_line} with B- after another tag; "
                    "if the file is IOB2 with a few mistakes, pass --repair to read it as IOB2 and turn "
                    "entity-starting I- tags into B-; if it is IOB1, pass --scheme iob1")
        raise CorpusError(
            f"{err} (see lines {min(first_line, second_line)} and {max(first_line, second_line)})",
            path=path, line=first_line, hint=hint,
        ) from None
    if scheme != "auto":
        return scheme, "as given"
    where = ""
    if evidence.where is not None:
        s, i = evidence.where
        where = f", first on line {sentences[s].lines[i]}"
    return evidence.scheme, f"auto-detected: {evidence.reason}{where}"


def _group(documents: List[List[_Sentence]], has_docstart: bool, n_sents: Optional[int], notes: List[str]) -> List[List[_Sentence]]:
    if has_docstart:
        if n_sents is None:
            return [doc for doc in documents if doc]
        notes.append(f"grouped every {n_sents} sentence(s) within each -DOCSTART- document")
    size = n_sents or 1
    return [doc[i: i + size] for doc in documents for i in range(0, len(doc), size)]


def _build_doc(vocab: Vocab, sentences: Sequence[_Sentence], spans_iter, tokens: str) -> Doc:
    words: List[str] = []
    sent_starts: List[bool] = []
    entities: List[Tuple[int, int, str]] = []
    missing: List[int] = []
    for sent in sentences:
        offset = len(words)
        spans, missing_in_sentence = next(spans_iter)
        for start, end, label in spans:
            entities.append((offset + start, offset + end, label))
        missing.extend(offset + i for i in missing_in_sentence)
        words.extend(sent.tokens)
        sent_starts.extend([True] + [False] * (len(sent.tokens) - 1))
    spaces = [True] * len(words)
    spaces[-1] = False
    doc = Doc(vocab, words=words, spaces=spaces, sent_starts=sent_starts)
    # A column file gives tokens, not the whitespace between them. Marked unknown (as spaCy's own
    # CoNLL converter leaves it), spaCy's corpus reader trains and evaluates on these tokens, whole
    # documents, instead of re-tokenising their text (benchmarks/README.md, study 16).
    doc.has_unknown_spaces = tokens == "gold"
    doc.set_ents(
        [Span(doc, start, end, label=label) for start, end, label in entities],
        missing=[doc[i: i + 1] for i in missing], default="outside",
    )
    return doc

