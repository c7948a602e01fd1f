"""Reading NER corpora (CoNLL columns, token/tag columns, JSONL and Prodigy, Label Studio
JSON, brat standoff, DocBin) into spaCy Docs:
`read_corpus` picks the reader for each file; the readers live in one module per format."""
import re
from collections import Counter
from pathlib import Path
from typing import List, Optional, Tuple, Union

from spacy.vocab import Vocab

from .brat import DISCONTINUOUS, OVERLAPS, is_brat, read_brat
from .columns import COLUMN_TOKENS, DOCSTART, read_columns
from .docbin import read_docbin
from .errors import CorpusError
from .jsonl import read_jsonl
from .labelstudio import is_labelstudio_export, read_labelstudio
from .schemes import SCHEMES
from .summary import ConversionResult, Summary
from .text import LINE_BREAK, blank_nlp, read_text

__all__ = ["ALIGNMENTS", "DOCSTART", "FORMATS", "ConversionResult", "Summary", "is_raw_corpus", "read_corpus"]

FORMATS = ("auto", "conll", "columns", "jsonl", "prodigy", "labelstudio", "brat", "spacy")
ALIGNMENTS = ("strict", "expand", "contract")
# Files in a corpus directory that are documentation or code, not data.
_NOT_CORPUS = re.compile(
    r"^(readme|license|licence|copying|notice|changelog)(\..*)?$|\.(md|rst|pdf|html?|py|sh|pl|zip|tar|tgz|tar\.gz)$",
    re.IGNORECASE,
)

PathLike = Union[str, Path]


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
    text_key: str = "text",
    discontinuous: str = "error",
    overlaps: str = "error",
    tokens: str = "gold",
) -> ConversionResult:
    """Read a corpus file, `.gz` file or directory into Docs with entities and sentence starts.

    Column files: `tag_column`/`token_column` are 1-based (default: the token first, or second
    after a column numbering each sentence's tokens, and the tag last; the summary's notes say
    which were read); lines starting with `comment_prefix` are skipped; `-DOCSTART-` lines
    separate documents; without them each sentence is a document unless
    `n_sents` groups them. `strip_prefix` is "auto" (strip a language prefix such as WikiANN's
    `en:` when every token has the same one), None/"none", or an exact prefix to strip.
    Character-offset formats (JSONL, Prodigy, Label Studio, brat): `alignment` says what to do
    with span offsets that are not token boundaries. Label Studio: `text_key` names the key of
    each task's `data` holding the text. brat: `discontinuous` ("error", "span": one entity from
    the first start to the last end, "drop") and `overlaps` ("error", "keep-longest",
    "keep-first") say what to do with entities a tag sequence cannot hold; what is left out is
    counted in the summary. Column files: `tokens` says what training reads, the file's own tokens
    ("gold": their whitespace is marked unknown, as spaCy's CoNLL converter leaves it) or spaCy's
    re-tokenisation of their text ("spacy"). Tokens marked as not annotated (a `-` tag, tokens outside a
    record's "annotated" ranges) become missing values, counted as unannotated tokens.
    Every problem raises `CorpusError` naming the file and line.
    """
    path = Path(path)
    if format not in FORMATS:
        raise CorpusError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if scheme != "auto" and scheme not in SCHEMES:
        raise CorpusError(f"unknown tag scheme {scheme!r}; choose auto or one of {', '.join(SCHEMES)}")
    for name, value, choices in (("alignment", alignment, ALIGNMENTS), ("discontinuous", discontinuous, DISCONTINUOUS),
                                 ("overlaps", overlaps, OVERLAPS), ("tokens", tokens, COLUMN_TOKENS)):
        if value not in choices:
            raise CorpusError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    for name, value in (("n_sents", n_sents), ("tag_column", tag_column), ("token_column", token_column)):
        if value is not None and value < 1:
            raise CorpusError(f"the {name} option must be 1 or more, not {value}")
    if not path.exists():
        raise CorpusError("no such file or directory", path=path, hint="check the path")
    if vocab is None:
        vocab = blank_nlp(lang).vocab
    options = dict(
        format=format, scheme=scheme, lang=lang, tag_column=tag_column, n_sents=n_sents,
        strip_prefix=strip_prefix, alignment=alignment, repair=repair, vocab=vocab, encoding=encoding,
        token_column=token_column, comment_prefix=comment_prefix, text_key=text_key, discontinuous=discontinuous,
        overlaps=overlaps, tokens=tokens,
    )
    if format == "brat" or (format == "auto" and is_brat(path)):
        return read_brat(path, options)
    if path.is_dir():
        return _read_directory(path, options)
    return _read_file(path, options)


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
    left_out: Counter = Counter()
    for result in results:
        labels.update(result.summary.entities_per_label)
        left_out.update(result.summary.skipped)
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
        missing_tokens=sum(r.summary.missing_tokens for r in results),
        skipped=dict(left_out),
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
        return read_docbin(path, options["vocab"])
    text = read_text(path, options["encoding"])
    if fmt == "auto":
        first = next((line.strip().lstrip("\ufeff") for line in LINE_BREAK.split(text) if line.strip()), "")
        labelstudio = is_labelstudio_export(text) if first.startswith("[") else None
        if labelstudio is False:
            raise CorpusError(
                'the file is a JSON list but not a Label Studio export, whose tasks have "data" and "annotations"',
                path=path, line=1, hint="export the project from Label Studio as JSON, or write one JSON object "
                "per line (JSONL) with a .jsonl suffix",
            )
        if labelstudio:
            fmt = "labelstudio"
        else:
            fmt = "jsonl" if first.startswith("{") else "columns"
        detected = True
    else:
        detected = False
    if fmt == "labelstudio":
        result = read_labelstudio(path, text, options)
    elif fmt in ("jsonl", "prodigy"):
        result = read_jsonl(path, text, options, prodigy=True if fmt == "prodigy" else None)
    else:
        result = read_columns(path, text, options, requested=None if detected else fmt)
    if detected:
        result.summary.format_detail = "auto-detected" + (
            f": {result.summary.format_detail}" if result.summary.format_detail else ""
        )
    return result
