"""Writing Docs as DocBin, CoNLL columns or JSONL, always atomically."""
import json
import os
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Union

from spacy.tokens import Doc, DocBin

from ..files import atomic_write
from .errors import CorpusError
from .readers import DOCSTART, Summary, read_corpus
from .schemes import SCHEMES, spans_to_tags

OUTPUT_FORMATS = ("spacy", "conll", "jsonl")
_SUFFIXES = {"spacy": ".spacy", "conll": ".conll", "jsonl": ".jsonl"}

PathLike = Union[str, Path]


def write_docbin(docs: Iterable[Doc], path: Path) -> None:
    doc_bin = DocBin(store_user_data=False, docs=docs)
    atomic_write(path, doc_bin.to_disk)


def doc_to_conll_lines(doc: Doc, scheme: str, doc_index: int = 0) -> List[List[str]]:
    """One list of `TOKEN TAG` rows per sentence, tags in `scheme`."""
    missing = [t.i for t in doc if t.ent_iob == 0]
    if missing:
        raise CorpusError(
            f"document {doc_index + 1} has {len(missing)} token(s) with no entity annotation (first: token "
            f"{missing[0]}, {doc[missing[0]].text!r}); CoNLL columns cannot say 'not annotated'",
            hint="write --to spacy or --to jsonl instead, or annotate the tokens",
        )
    sentences = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
    rows_per_sentence = []
    for sent in sentences:
        spans = []
        for ent in doc.ents:
            if ent.start < sent.start or ent.end > sent.end:
                if ent.start < sent.end and ent.end > sent.start:
                    raise CorpusError(
                        f"document {doc_index + 1}: entity {ent.text!r} ({ent.label_}) crosses a sentence boundary",
                        hint="write --to spacy or --to jsonl, which keep it",
                    )
                continue
            spans.append((ent.start - sent.start, ent.end - sent.start, ent.label_))
        try:
            tags = spans_to_tags(spans, len(sent), scheme)
        except ValueError as err:
            raise CorpusError(f"document {doc_index + 1}: {err}") from None
        rows = []
        for token, tag in zip(sent, tags):
            if not token.text.strip() or any(c in token.text for c in "\t\n\r"):
                raise CorpusError(
                    f"document {doc_index + 1}, token {token.i} is {token.text!r}, which CoNLL columns cannot hold",
                    hint="write --to spacy or --to jsonl instead",
                )
            rows.append([token.text, tag])
        rows_per_sentence.append(rows)
    return rows_per_sentence


def write_conll(docs: Sequence[Doc], path: Path, scheme: str = "iob2") -> None:
    """Two columns per token; `-DOCSTART- O` before each document unless every document is
    one sentence (then blank lines alone keep the documents apart on reading)."""
    if scheme not in SCHEMES:
        raise CorpusError(f"unknown output scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    rendered = [doc_to_conll_lines(doc, scheme, i) for i, doc in enumerate(docs)]
    markers = any(len(sentences) > 1 for sentences in rendered)
    separator = "\t" if any(" " in row[0] for sentences in rendered for rows in sentences for row in rows) else " "
    blocks = []
    for sentences in rendered:
        if markers:
            blocks.append(f"{DOCSTART}{separator}O\n")
        blocks.extend("".join(separator.join(row) + "\n" for row in rows) for rows in sentences)
    atomic_write(path, lambda temp: temp.write_text("\n".join(blocks), encoding="utf-8"))


def doc_to_jsonl_record(doc: Doc) -> dict:
    record = {
        "text": doc.text,
        "tokens": [
            {"text": t.text, "start": t.idx, "end": t.idx + len(t.text), "id": t.i, "ws": bool(t.whitespace_)}
            for t in doc
        ],
        "spans": [
            {"start": e.start_char, "end": e.end_char, "label": e.label_, "token_start": e.start, "token_end": e.end - 1}
            for e in doc.ents
        ],
    }
    if doc.has_annotation("SENT_START"):
        record["sentences"] = [{"start": s.start_char, "end": s.end_char} for s in doc.sents]
    return record


def write_jsonl(docs: Iterable[Doc], path: Path) -> None:
    lines = [json.dumps(doc_to_jsonl_record(doc), ensure_ascii=False) + "\n" for doc in docs]
    atomic_write(path, lambda temp: temp.write_text("".join(lines), encoding="utf-8"))


def output_path_for(input_path: Path, output_path: PathLike, to: str) -> Path:
    """An existing directory, or a path ending in a slash, means `<dir>/<input name><suffix>`."""
    as_dir = str(output_path).endswith(("/", os.sep))
    output_path = Path(output_path)
    if as_dir or output_path.is_dir():
        name = input_path.name
        if name.endswith(".gz"):
            name = name[:-3]
        stem = Path(name).stem if Path(name).suffix else name
        return output_path / (stem + _SUFFIXES[to])
    return output_path


def infer_output_format(output_path: Path) -> Optional[str]:
    suffix = output_path.suffix.lower()
    if suffix == ".spacy":
        return "spacy"
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    if suffix in (".conll", ".txt", ".tsv", ".iob", ".bio"):
        return "conll"
    return None


def convert(
    input_path: PathLike,
    output_path: PathLike,
    *,
    to: str = "spacy",
    output_scheme: str = "iob2",
    **read_corpus_kwargs,
) -> Summary:
    """Read `input_path` with `read_corpus` and write it as a DocBin, CoNLL columns (tags in
    `output_scheme`) or JSONL. Nothing is written unless the whole input reads cleanly."""
    input_path = Path(input_path)
    if to not in OUTPUT_FORMATS:
        raise CorpusError(f"unknown output format {to!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
    if output_scheme not in SCHEMES:
        raise CorpusError(f"unknown output scheme {output_scheme!r}; choose one of {', '.join(SCHEMES)}")
    target = output_path_for(input_path, output_path, to)
    if target.resolve() == input_path.resolve():
        raise CorpusError("the output would overwrite the input", path=target, hint="choose another output path")
    result = read_corpus(input_path, **read_corpus_kwargs)
    if to == "spacy":
        write_docbin(result.docs, target)
    elif to == "conll":
        write_conll(result.docs, target, output_scheme)
    else:
        write_jsonl(result.docs, target)
    result.summary.notes.append(f"wrote {target} ({to}" + (f", {output_scheme})" if to == "conll" else ")"))
    return result.summary
