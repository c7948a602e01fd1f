"""Writing Docs as DocBin, CoNLL columns, JSONL, Prodigy JSONL, Label Studio JSON or a brat
folder, always atomically: `write_docs` is the one entry point."""
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Union

from spacy.tokens import Doc, DocBin

from ..errors import OutputWriteError
from ..files import atomic_write
from .errors import CorpusError
from .exports import brat_annotations, entity_scores, jsonl_record, labelstudio_task, prodigy_record
from .readers import DOCSTART, Summary, read_corpus
from .schemes import MISSING_TAG, SCHEMES, spans_to_tags

OUTPUT_FORMATS = ("spacy", "conll", "jsonl", "labelstudio", "prodigy", "brat")
# brat writes a folder of .txt/.ann pairs named after the input.
_SUFFIXES = {"spacy": ".spacy", "conll": ".conll", "jsonl": ".jsonl", "labelstudio": ".json", "prodigy": ".jsonl",
             "brat": ""}
MODEL_VERSION = "spacy-bilstm"

PathLike = Union[str, Path]


def write_docs(
    docs: Sequence[Doc],
    path: Path,
    to: str,
    *,
    output_scheme: str = "iob2",
    scores_key: Optional[str] = None,
    meta: Optional[Sequence[dict]] = None,
) -> None:
    """Write `docs` to `path` as `to`: "spacy" (DocBin), "conll" (tags in `output_scheme`),
    "jsonl", "labelstudio" (a JSON list of tasks), "prodigy" (JSONL tasks) or "brat" (a
    folder of .txt/.ann pairs). Tokens without entity annotation are kept (as "annotated"
    ranges, `-` tags, or natively in a DocBin); brat refuses them.

    `scores_key` names the span group (doc.spans[scores_key], attrs["scores"]) holding the
    probability of each of doc.ents: the entities are then written as predictions to review
    (Label Studio "predictions", Prodigy tasks without an answer), each with its score where
    the tool keeps one (brat: an AnnotatorNotes line); without it they are gold annotations.
    `meta` is one dict per doc, written where the tool keeps task metadata (JSONL and Prodigy:
    "meta"; Label Studio: data["meta"], and meta["score"] as the prediction's score; DocBin:
    doc.user_data["meta"]); CoNLL and brat have no place for it, nor CoNLL for scores.
    """
    if to not in OUTPUT_FORMATS:
        raise CorpusError(f"unknown output format {to!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
    if output_scheme not in SCHEMES:
        raise CorpusError(f"unknown output scheme {output_scheme!r}; choose one of {', '.join(SCHEMES)}")
    docs = list(docs)
    if meta is not None and len(meta) != len(docs):
        raise CorpusError(f"meta has {len(meta)} entries for {len(docs)} docs; give one dict per doc")
    if to in ("conll", "brat") and meta is not None:
        raise CorpusError(f"{to} files have no place for per-document metadata",
                          hint="write --to jsonl, prodigy, labelstudio or spacy to keep it")
    if to == "conll" and scores_key is not None:
        raise CorpusError("CoNLL columns have no place for entity scores",
                          hint="write --to jsonl, prodigy, labelstudio, brat or spacy to keep them")
    metas = list(meta) if meta is not None else [None] * len(docs)
    scores = [entity_scores(doc, scores_key, i) for i, doc in enumerate(docs)]
    gold = scores_key is None
    if to == "spacy":
        write_docbin(docs, path, meta)
    elif to == "conll":
        write_conll(docs, path, output_scheme)
    elif to == "jsonl":
        _write_lines(path, [jsonl_record(d, s, m) for d, s, m in zip(docs, scores, metas)])
    elif to == "prodigy":
        _write_lines(path, [prodigy_record(d, s, m, gold=gold) for d, s, m in zip(docs, scores, metas)])
    elif to == "labelstudio":
        tasks = [labelstudio_task(d, s, m, gold=gold, model_version=(m or {}).get("model_version", MODEL_VERSION))
                 for d, s, m in zip(docs, scores, metas)]
        text = json.dumps(tasks, ensure_ascii=False, indent=1) + "\n"
        atomic_write(path, lambda temp: temp.write_text(text, encoding="utf-8"))
    else:
        _write_brat(docs, scores, Path(path))


def write_docbin(docs: Iterable[Doc], path: Path, meta: Optional[Sequence[dict]] = None) -> None:
    if meta is not None:
        docs = [doc.copy() for doc in docs]
        for doc, doc_meta in zip(docs, meta):
            doc.user_data["meta"] = doc_meta
    doc_bin = DocBin(store_user_data=meta is not None, docs=docs)
    atomic_write(path, doc_bin.to_disk)


def _write_lines(path: Path, records: List[dict]) -> None:
    lines = [json.dumps(record, ensure_ascii=False) + "\n" for record in records]
    atomic_write(path, lambda temp: temp.write_text("".join(lines), encoding="utf-8"))


def _write_brat(docs: Sequence[Doc], scores: Sequence[List[Optional[float]]], folder: Path) -> None:
    """Write the pairs into a new folder beside `folder`, then swap it in: a failure keeps the
    old folder. An existing folder is replaced only if it holds nothing but .txt/.ann files."""
    if folder.exists():
        if not folder.is_dir() or any(p.suffix not in (".txt", ".ann") or p.is_dir() for p in folder.iterdir()):
            raise CorpusError("the brat output folder exists and holds other files than .txt/.ann", path=folder,
                              hint="choose a new folder, or empty this one")
    annotations = [brat_annotations(doc, doc_scores, i) for i, (doc, doc_scores) in enumerate(zip(docs, scores))]
    width = max(4, len(str(len(docs))))
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as err:
        raise OutputWriteError(f"{folder}: cannot write the output here ({err.strerror or err}). Choose a directory "
                               "you can write to, or create it first.") from None
    try:
        for i, (doc, ann) in enumerate(zip(docs, annotations), 1):
            (staging / f"{i:0{width}d}.txt").write_text(doc.text, encoding="utf-8", newline="")
            (staging / f"{i:0{width}d}.ann").write_text(ann, encoding="utf-8", newline="")
        old = folder.parent / f"{staging.name}.old"
        if folder.exists():
            os.replace(folder, old)
        os.replace(staging, folder)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as err:
        raise OutputWriteError(f"{folder}: writing the output failed ({err.strerror or err}); nothing was written. "
                               "Free some space or choose another output path, then run the command again.") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def doc_to_conll_lines(doc: Doc, scheme: str, doc_index: int = 0) -> List[List[str]]:
    """One list of `TOKEN TAG` rows per sentence, tags in `scheme`; a token with no entity
    annotation gets the tag `-`, which the column reader reads back as not annotated."""
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
            tags = _tags_with_missing(sent, spans, scheme)
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


def _tags_with_missing(sent, spans: List, scheme: str) -> List[str]:
    """The tags of a sentence, `-` for its missing tokens. Each run of annotated tokens is
    encoded on its own, as the reader decodes it."""
    tags = [MISSING_TAG if token.ent_iob == 0 else "" for token in sent]
    cuts = [i for i, tag in enumerate(tags) if tag == MISSING_TAG]
    for start, end in zip([-1, *cuts], [*cuts, len(tags)]):
        start += 1
        if start < end:
            inside = [(s - start, e - start, label) for s, e, label in spans if start <= s and e <= end]
            tags[start:end] = spans_to_tags(inside, end - start, scheme)
    return tags


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
    return jsonl_record(doc, [None] * len(doc.ents), None)


def write_jsonl(docs: Iterable[Doc], path: Path) -> None:
    write_docs(list(docs), path, "jsonl")


def output_path_for(input_path: Path, output_path: PathLike, to: str) -> Path:
    """An existing directory, or a path ending in a slash, means `<dir>/<input name><suffix>`
    (for brat, whose output is a folder, only a path ending in a slash)."""
    as_dir = str(output_path).endswith(("/", os.sep))
    output_path = Path(output_path)
    if to == "brat" and not as_dir:
        return output_path
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
    if suffix == ".jsonl":
        return "jsonl"
    if suffix == ".json":
        return "labelstudio"
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
    """Read `input_path` with `read_corpus` and write it with `write_docs` (CoNLL tags in
    `output_scheme`). Nothing is written unless the whole input reads cleanly."""
    input_path = Path(input_path)
    if to not in OUTPUT_FORMATS:
        raise CorpusError(f"unknown output format {to!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
    if output_scheme not in SCHEMES:
        raise CorpusError(f"unknown output scheme {output_scheme!r}; choose one of {', '.join(SCHEMES)}")
    target = output_path_for(input_path, output_path, to)
    if target.resolve() == input_path.resolve():
        raise CorpusError("the output would overwrite the input", path=target, hint="choose another output path")
    result = read_corpus(input_path, **read_corpus_kwargs)
    write_docs(result.docs, target, to, output_scheme=output_scheme)
    result.summary.notes.append(f"wrote {target} ({to}" + (f", {output_scheme})" if to == "conll" else ")"))
    return result.summary
