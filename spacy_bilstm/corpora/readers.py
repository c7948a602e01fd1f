"""Reading NER corpora (CoNLL columns, token/tag columns, JSONL, DocBin) into spaCy Docs."""
import bisect
import gzip
import json
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.vocab import Vocab

from .errors import CorpusError
from .schemes import SCHEMES, MixedSchemeError, TagError, decode_tags, detect_scheme

FORMATS = ("auto", "conll", "columns", "jsonl", "spacy")
ALIGNMENTS = ("strict", "expand", "contract")
DOCSTART = "-DOCSTART-"
_GZIP_MAGIC = b"\x1f\x8b"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Line ends: CRLF, LF, and a lone CR (old Mac files), like Python's universal newlines. A lone
# CR left inside a line would glue two token lines into one and silently lose a token.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Column separators in a space-separated file: ASCII spaces and tabs only. str.split() would
# also split on no-break spaces and other Unicode spaces that belong to a token.
_SPACES = re.compile(r"[ \t]+")
# A language-code-like prefix such as WikiANN's `en:` or `zh-yue:`; only stripped when
# every token in a file carries the same one.
_LANG_PREFIX = re.compile(r"^([a-z]{2,3}(?:[-_][a-z0-9]{2,8})*:)(.+)$", re.DOTALL)
# Files in a corpus directory that are documentation or code, not data.
_NOT_CORPUS = re.compile(
    r"^(readme|license|licence|copying|notice|changelog)(\..*)?$|\.(md|rst|pdf|html?|py|sh|pl|zip|tar|tgz|tar\.gz)$",
    re.IGNORECASE,
)

PathLike = Union[str, Path]


@dataclass
class Summary:
    """What a conversion read: counts plus the format and scheme it used."""

    source: str
    format: str
    scheme: str
    documents: int = 0
    sentences: int = 0
    tokens: int = 0
    entities_per_label: Dict[str, int] = field(default_factory=dict)
    repairs: int = 0
    format_detail: str = ""
    scheme_detail: str = ""
    notes: List[str] = field(default_factory=list)

    @property
    def entities(self) -> int:
        return sum(self.entities_per_label.values())

    def to_dict(self) -> Dict[str, object]:
        return {
            "source": self.source,
            "format": self.format,
            "scheme": self.scheme,
            "documents": self.documents,
            "sentences": self.sentences,
            "tokens": self.tokens,
            "entities": self.entities,
            "entities_per_label": dict(self.entities_per_label),
            "repairs": self.repairs,
            "notes": list(self.notes),
        }

    def format_table(self) -> str:
        width = max([12] + [len(label) + 4 for label in self.entities_per_label])

        def row(name: str, value: object, indent: int = 2) -> str:
            shown = f"{value:,}" if isinstance(value, int) else str(value)
            return f"{' ' * indent}{name:<{width + 2 - indent}}{shown}"

        lines = [f"Read {self.source}"]
        lines.append(row("format", self.format + (f" ({self.format_detail})" if self.format_detail else "")))
        lines.append(row("scheme", self.scheme + (f" ({self.scheme_detail})" if self.scheme_detail else "")))
        for name in ("documents", "sentences", "tokens", "entities"):
            lines.append(row(name, getattr(self, name)))
        for label, count in sorted(self.entities_per_label.items()):
            lines.append(row(label, count, indent=4))
        lines.append(row("repairs", self.repairs))
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format_table()


@dataclass
class ConversionResult:
    docs: List[Doc]
    summary: Summary


@dataclass
class _Sentence:
    tokens: List[str]
    tags: List[str]
    lines: List[int]


def is_raw_corpus(path: PathLike) -> bool:
    """True if `path` exists and is a corpus `read_corpus` reads as text (CoNLL columns,
    token/tag columns, JSONL, possibly gzipped, or a directory of them), False for a
    `.spacy` DocBin, a directory holding only DocBins, or a path that does not exist."""
    path = Path(path)
    if path.is_file():
        return path.suffix != ".spacy"
    if path.is_dir():
        files = _corpus_files(path)[0]
        return bool(files) and not all(f.suffix == ".spacy" for f in files)
    return False


def read_corpus(
    path: PathLike,
    *,
    format: str = "auto",
    scheme: str = "auto",
    lang: str = "en",
    tag_column: Optional[int] = None,
    n_sents: Optional[int] = None,
    strip_prefix: Optional[str] = "auto",
    alignment: str = "strict",
    repair: bool = False,
    vocab: Optional[Vocab] = None,
    encoding: str = "utf-8",
    token_column: Optional[int] = None,
    comment_prefix: Optional[str] = None,
) -> ConversionResult:
    """Read a corpus file, `.gz` file or directory into Docs with entities and sentence starts.

    Column files: `tag_column`/`token_column` are 1-based (default: token first, tag last);
    `-DOCSTART-` lines separate documents; without them each sentence is a document unless
    `n_sents` groups them. `strip_prefix` is "auto" (strip a language prefix such as WikiANN's
    `en:` when every token has the same one), None/"none", or an exact prefix to strip.
    JSONL: `alignment` says what to do with span offsets that are not token boundaries.
    Every problem raises `CorpusError` naming the file and line.
    """
    path = Path(path)
    if format not in FORMATS:
        raise CorpusError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if scheme != "auto" and scheme not in SCHEMES:
        raise CorpusError(f"unknown tag scheme {scheme!r}; choose auto or one of {', '.join(SCHEMES)}")
    if alignment not in ALIGNMENTS:
        raise CorpusError(f"unknown alignment {alignment!r}; choose one of {', '.join(ALIGNMENTS)}")
    for name, value in (("n_sents", n_sents), ("tag_column", tag_column), ("token_column", token_column)):
        if value is not None and value < 1:
            raise CorpusError(f"{name} must be 1 or more, not {value}")
    if not path.exists():
        raise CorpusError("no such file or directory", path=path, hint="check the path")
    if vocab is None:
        vocab = _blank(lang).vocab
    options = dict(
        format=format, scheme=scheme, lang=lang, tag_column=tag_column, n_sents=n_sents,
        strip_prefix=strip_prefix, alignment=alignment, repair=repair, vocab=vocab, encoding=encoding,
        token_column=token_column, comment_prefix=comment_prefix,
    )
    if path.is_dir():
        return _read_directory(path, options)
    return _read_file(path, options)


def _blank(lang: str, vocab: Optional[Vocab] = None):
    try:
        return spacy.blank(lang, vocab=vocab if vocab is not None else True)
    except (ImportError, KeyError, ValueError) as err:
        raise CorpusError(
            f"spaCy has no language {lang!r} ({err.__class__.__name__})",
            hint="pass --lang with a code spaCy supports, e.g. en, de, es, nl, or xx for multi-language",
        ) from None


def _corpus_files(directory: Path) -> Tuple[List[Path], List[Path]]:
    found, skipped = [], []
    for candidate in sorted(directory.rglob("*")):
        relative = candidate.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts) or not candidate.is_file():
            continue
        (skipped if _NOT_CORPUS.search(candidate.name) else found).append(candidate)
    return found, skipped


def _read_directory(directory: Path, options: dict) -> ConversionResult:
    files, skipped = _corpus_files(directory)
    if not files:
        raise CorpusError("the directory holds no corpus files", path=directory, hint="point at a file or a folder of corpus files")
    results = [_read_file(f, options) for f in files]
    docs = [doc for result in results for doc in result.docs]
    labels: Counter = Counter()
    for result in results:
        labels.update(result.summary.entities_per_label)
    formats = sorted({r.summary.format for r in results})
    schemes = sorted({r.summary.scheme for r in results})
    summary = Summary(
        source=str(directory),
        format="+".join(formats),
        scheme="+".join(schemes),
        documents=sum(r.summary.documents for r in results),
        sentences=sum(r.summary.sentences for r in results),
        tokens=sum(r.summary.tokens for r in results),
        entities_per_label=dict(sorted(labels.items())),
        repairs=sum(r.summary.repairs for r in results),
        format_detail=f"{len(files)} files",
    )
    for result in results:
        name = Path(result.summary.source).relative_to(directory)
        summary.notes.append(
            f"{name}: {result.summary.format}, {result.summary.scheme}, {result.summary.documents:,} documents, "
            f"{result.summary.sentences:,} sentences, {result.summary.tokens:,} tokens, "
            f"{result.summary.entities:,} entities"
        )
        summary.notes.extend(f"{name}: {note}" for note in result.summary.notes)
    summary.notes.extend(f"skipped {f.relative_to(directory)} (not a corpus file)" for f in skipped)
    return ConversionResult(docs, summary)


def _read_file(path: Path, options: dict) -> ConversionResult:
    fmt = options["format"]
    if fmt == "spacy" or (fmt == "auto" and path.suffix == ".spacy"):
        return _read_docbin(path, options["vocab"])
    text = _read_text(path, options["encoding"])
    if fmt == "auto":
        first = next((line.strip().lstrip("\ufeff") for line in _LINE_BREAK.split(text) if line.strip()), "")
        fmt = "jsonl" if first.startswith("{") else "columns"
        detected = True
    else:
        detected = False
    if fmt == "jsonl":
        result = _read_jsonl(path, text, options)
    else:
        result = _read_columns(path, text, options, requested=None if detected else fmt)
    if detected:
        result.summary.format_detail = "auto-detected" + (
            f": {result.summary.format_detail}" if result.summary.format_detail else ""
        )
    return result


def _read_text(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise CorpusError(f"the file starts like gzip but cannot be decompressed ({err})", path=path,
                              hint="re-download it or decompress it yourself") from None
    if not data.strip():
        raise CorpusError("the file is empty", path=path, hint="check that the right file was given")
    is_utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8")
    if is_utf8 and data[:2] in _UTF16_BOMS:
        raise CorpusError("the file is UTF-16 (it starts with a UTF-16 byte-order mark), not UTF-8", path=path,
                          hint="pass --encoding utf-16, or convert it with `iconv -f utf-16 -t utf-8`")
    nul = data.find(b"\x00")
    if is_utf8 and nul >= 0:
        raise CorpusError(
            f"the file is binary, not a text corpus (a NUL byte at byte offset {nul})", path=path,
            line=data[:nul].count(b"\n") + 1,
            hint="if it is a spaCy DocBin, give it the .spacy suffix or pass --format spacy; otherwise check "
            "that the right file was given",
        )
    codec = "utf-8-sig" if is_utf8 else encoding
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CorpusError(
            f"byte {data[err.start]:#04x} at byte offset {err.start} cannot be decoded as {encoding}",
            path=path,
            line=line,
            hint="convert the file to UTF-8 (e.g. `iconv -f latin1 -t utf-8`) or pass --encoding with the "
            "file's encoding (CoNLL-2002 is latin-1)",
        ) from None
    except LookupError:
        raise CorpusError(f"unknown encoding {encoding!r}", hint="pass a Python codec name such as utf-8 or latin-1") from None
    return text


def _is_blank(line: str) -> bool:
    # A stray byte-order mark on an otherwise empty line (WNUT-17's dev file ends with one)
    # carries no token, so it separates sentences like any blank line.
    return not line.replace("\ufeff", "").strip()


def _read_columns(path: Path, text: str, options: dict, requested: Optional[str]) -> ConversionResult:
    tag_column, token_column = options["tag_column"], options["token_column"]
    comment_prefix = options["comment_prefix"]
    documents: List[List[_Sentence]] = [[]]
    sentence: Optional[_Sentence] = None
    delimiter: Optional[str] = None
    n_columns = first_line = None
    has_docstart = False

    def end_sentence() -> None:
        nonlocal sentence
        if sentence is not None:
            documents[-1].append(sentence)
            sentence = None

    for lineno, line in enumerate(_LINE_BREAK.split(text), 1):
        if _is_blank(line):
            end_sentence()
            continue
        if comment_prefix and line.lstrip("\ufeff").startswith(comment_prefix):
            continue
        if delimiter is None:
            delimiter = "\t" if "\t" in line else " "
        if delimiter == "\t":
            fields = [f.strip(" ") for f in line.split("\t")]
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
            raise CorpusError(
                f"found {len(fields)} column{'s' if len(fields) != 1 else ''} but line {first_line} has {n_columns}",
                path=path, line=lineno, hint=hint,
            )
        token = fields[token_column - 1 if token_column else 0].lstrip("\ufeff")
        tag = fields[tag_column - 1 if tag_column else -1]
        if not token.strip():
            raise CorpusError("empty token", path=path, line=lineno, hint="remove the line or give it a token")
        if not tag:
            raise CorpusError("empty tag", path=path, line=lineno, hint="give the token a tag such as O or B-PER")
        if sentence is None:
            sentence = _Sentence([], [], [])
        sentence.tokens.append(token)
        sentence.tags.append(tag)
        sentence.lines.append(lineno)
    end_sentence()
    sentences = [s for doc in documents for s in doc]
    if not sentences:
        raise CorpusError("the file contains no tokens", path=path, hint="check that the right file was given")

    notes: List[str] = []
    _strip_prefix(path, sentences, options["strip_prefix"], notes)
    fmt = requested or ("conll" if has_docstart or n_columns > 2 else "columns")
    format_detail = (
        f"{n_columns} columns, {'tab' if delimiter == chr(9) else 'space'}-separated"
        + (", -DOCSTART- markers" if has_docstart else "")
    )
    scheme, scheme_detail = _choose_scheme(path, sentences, options["scheme"], options["repair"])
    repairs = 0
    spans_per_sentence = []
    for sent in sentences:
        try:
            spans, fixed = decode_tags(sent.tags, scheme, repair=options["repair"])
        except TagError as err:
            hint = "fix the tag"
            if err.repairable:
                hint += ", or pass --repair to read it as the nearest valid sequence"
            if options["scheme"] == "auto":
                hint += f" (scheme {scheme}, {scheme_detail}; pass --scheme if that is wrong)"
            raise CorpusError(str(err), path=path, line=sent.lines[err.index], hint=hint) from None
        repairs += fixed
        spans_per_sentence.append(spans)
    if repairs:
        notes.append(f"repaired {repairs:,} invalid tag sequence(s) as asked (--repair)")

    grouped = _group(documents, has_docstart, options["n_sents"], notes)
    span_iter = iter(spans_per_sentence)
    docs = [_build_doc(options["vocab"], group, span_iter) for group in grouped]
    summary = _summarise(path, docs, fmt, scheme, repairs, notes)
    summary.format_detail = format_detail
    summary.scheme_detail = scheme_detail if options["scheme"] == "auto" else "as given"
    return ConversionResult(docs, summary)


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
            hint = (f"line {first_line} starts an entity with I-, line {second_line} with B- after another tag. "
                    "If the file is IOB2 with a few mistakes, pass --repair to read it as IOB2 and turn "
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


def _build_doc(vocab: Vocab, sentences: Sequence[_Sentence], spans_iter) -> Doc:
    words: List[str] = []
    sent_starts: List[bool] = []
    entities: List[Tuple[int, int, str]] = []
    for sent in sentences:
        offset = len(words)
        for start, end, label in next(spans_iter):
            entities.append((offset + start, offset + end, label))
        words.extend(sent.tokens)
        sent_starts.extend([True] + [False] * (len(sent.tokens) - 1))
    spaces = [True] * len(words)
    spaces[-1] = False
    doc = Doc(vocab, words=words, spaces=spaces, sent_starts=sent_starts)
    doc.ents = [Span(doc, start, end, label=label) for start, end, label in entities]
    return doc


def _summarise(path: Path, docs: Sequence[Doc], fmt: str, scheme: str, repairs: int, notes: List[str]) -> Summary:
    labels: Counter = Counter(ent.label_ for doc in docs for ent in doc.ents)
    return Summary(
        source=str(path),
        format=fmt,
        scheme=scheme,
        documents=len(docs),
        sentences=sum(_count_sents(doc) for doc in docs),
        tokens=sum(len(doc) for doc in docs),
        entities_per_label=dict(sorted(labels.items())),
        repairs=repairs,
        notes=notes,
    )


def _count_sents(doc: Doc) -> int:
    if len(doc) == 0:
        return 0
    if doc.has_annotation("SENT_START"):
        return sum(1 for token in doc if token.is_sent_start)
    return 1


def _read_docbin(path: Path, vocab: Vocab) -> ConversionResult:
    try:
        docs = list(DocBin().from_disk(path).get_docs(vocab))
    except Exception as err:  # DocBin raises several unrelated types on a damaged file
        raise CorpusError(f"cannot read the file as a spaCy DocBin ({err.__class__.__name__}: {err})", path=path,
                          hint="check that it was written by `spacy-bilstm convert` or DocBin.to_disk") from None
    summary = _summarise(path, docs, "spacy", "n/a", 0, [])
    summary.format_detail = "DocBin"
    summary.scheme_detail = "entities stored as spans"
    return ConversionResult(docs, summary)


def _read_jsonl(path: Path, text: str, options: dict) -> ConversionResult:
    alignment = options["alignment"]
    tokenizer = None
    docs: List[Doc] = []
    adjusted = 0
    notes: List[str] = []
    if options["n_sents"] is not None:
        notes.append("--n-sents applies to column formats; each JSONL line stays one document")
    for lineno, raw in enumerate(_LINE_BREAK.split(text), 1):
        if _is_blank(raw):
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
                tokenizer = _blank(options["lang"], options["vocab"]).tokenizer
            tokenized = tokenizer(record_text)
            words = [t.text for t in tokenized]
            spaces = [bool(t.whitespace_) for t in tokenized]
            offsets = [(t.idx, t.idx + len(t.text)) for t in tokenized]
        if not words:
            raise CorpusError("the text has no tokens", path=path, line=lineno, hint="remove the line or give it text")
        spans = []
        token_starts = [s for s, _ in offsets]
        token_ends = [e for _, e in offsets]
        for raw_span in _jsonl_spans(path, lineno, record, len(record_text)):
            start, end, label = raw_span
            token_span, moved = _align(token_starts, token_ends, start, end, alignment)
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
    summary = _summarise(path, docs, "jsonl", "n/a", adjusted, notes)
    summary.scheme_detail = "character-offset spans"
    return ConversionResult(docs, summary)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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


def _align(
    starts: Sequence[int], ends: Sequence[int], start: int, end: int, alignment: str
) -> Tuple[Optional[Tuple[int, int]], int]:
    """Map character offsets to a token range; also say how many boundaries moved.
    The tokens' `starts` and `ends` are in text order and do not overlap, so every search is
    binary: a 20,000-token text with thousands of spans stays fast."""
    first = bisect.bisect_left(starts, start)
    last = bisect.bisect_left(ends, end)
    if first < len(starts) and starts[first] == start and last < len(ends) and ends[last] == end and first <= last:
        return (first, last + 1), 0
    if alignment == "strict":
        return None, 0
    if alignment == "expand":  # every token that overlaps [start, end)
        inside = range(bisect.bisect_right(ends, start), bisect.bisect_left(starts, end))
    else:  # every token within [start, end)
        inside = range(bisect.bisect_left(starts, start), bisect.bisect_right(ends, end))
    if len(inside) == 0:
        return None, 0
    moved = int(starts[inside[0]] != start) + int(ends[inside[-1]] != end)
    return (inside[0], inside[-1] + 1), moved


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
