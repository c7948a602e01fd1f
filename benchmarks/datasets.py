"""The data every study reads, converted once into a cache under the work folder: DocBins per
corpus and split (`prepare_corpus`), and GloVe 6B 50d converted by spacy_bilstm.vectors as
`spacy-bilstm train --vectors` converts it (`prepare_vectors`). A cached file is rebuilt when
its source's content changed."""
import contextlib
import fcntl
import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Dict, Iterator

from .arguments import smoke_dir
from .records import BenchmarkError

GLOVE = Path("vectors") / "glove.6B.50d.txt.gz"


# Smoke mode: a few hundred sentences, a few steps; enough to exercise every code path.
SMOKE_SENTENCES = {"train": 200, "dev": 50, "test": 50}


SMOKE_VECTORS = 20_000


# Files of each corpus in the shared folder (under corpora/<dir>, the corpus's name unless
# "dir" says otherwise) and its language ("lang", default en); `repair` is passed to
# read_corpus. WNUT-17 dev has one entity that starts with I- (line 1674): read as IOB2 with
# that tag turned into B-. Each CoNLL-2002 Spanish file has one entity that continues across a
# sentence break: repaired the same way.
CORPORA: Dict[str, Dict[str, Any]] = {
    "conll2003": {
        "train": {"file": "train.txt"},
        "dev": {"file": "valid.txt"},
        "test": {"file": "test.txt"},
    },
    "wnut17": {
        "train": {"file": "train.conll"},
        "dev": {"file": "dev.conll", "repair": True},
        "test": {"file": "test.conll"},
    },
    "wikiann-en": {
        "train": {"file": "train.txt"},
        "dev": {"file": "dev.txt"},
        "test": {"file": "test.txt"},
    },
    "conll2002-es": {
        "dir": "conll2002", "lang": "es",
        "train": {"file": "esp.train", "repair": True},
        "dev": {"file": "esp.testa", "repair": True},
        "test": {"file": "esp.testb", "repair": True},
    },
    "conll2002-nl": {
        "dir": "conll2002", "lang": "nl",
        "train": {"file": "ned.train"},
        "dev": {"file": "ned.testa"},
        "test": {"file": "ned.testb"},
    },
}


SPLITS = ("train", "dev", "test")


def check_shared(shared: Path) -> None:
    if not shared.is_dir():
        raise BenchmarkError(
            f"the shared data folder {shared} does not exist; pass --shared with the folder that holds "
            "corpora/ and vectors/"
        )


def corpus_source(shared: Path, corpus: str, split: str) -> Path:
    if corpus not in CORPORA:
        raise BenchmarkError(f"unknown corpus {corpus!r}; choose from {', '.join(CORPORA)}")
    path = shared / "corpora" / CORPORA[corpus].get("dir", corpus) / CORPORA[corpus][split]["file"]
    if not path.is_file():
        raise BenchmarkError(f"{path} not found (corpus {corpus}, split {split}); check --shared")
    return path


def _source_stamp(path: Path) -> Dict[str, Any]:
    """What a cached conversion was made from: the file's content, not its mtime, since the
    shared folder may be provided afresh (new mtimes, same files) for every session."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return {"source": str(path.resolve()), "size": path.stat().st_size, "sha256": digest.hexdigest()}


@contextlib.contextmanager
def _cache_lock(work: Path) -> Iterator[None]:
    """Holds an exclusive lock on the cache while a study checks or builds it, so that two
    studies started together do not build the same files at once: the second waits, then
    finds them done."""
    work.mkdir(parents=True, exist_ok=True)
    with (work / ".cache.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def prepare_corpus(shared: Path, work: Path, corpus: str, *, smoke: bool = False, tokens: str = "gold") -> Dict[str, Path]:
    """Convert the corpus's splits into DocBins once; return {split: path}. `tokens` is
    `spacy-bilstm convert --tokens`: "gold" (the default, what `spacy-bilstm train` reads) or
    "spacy" (spaCy re-tokenises the text in training), converted into a folder of its own.

    Smoke mode writes, next to the full conversion, DocBins holding the first
    SMOKE_SENTENCES[split] sentences, one sentence per Doc."""
    check_shared(shared)
    with _cache_lock(work):
        return _prepare_corpus(shared, work, corpus, smoke=smoke, tokens=tokens)


def _prepare_corpus(shared: Path, work: Path, corpus: str, *, smoke: bool, tokens: str) -> Dict[str, Path]:
    paths: Dict[str, Path] = {}
    folder = work / "corpora" / corpus / ("" if tokens == "gold" else f"tokens-{tokens}")
    for split in SPLITS:
        source = corpus_source(shared, corpus, split)
        target = folder / f"{split}.spacy"
        manifest = target.with_suffix(".json")
        # With the reading in the stamp, a conversion made before `convert` kept column tokens
        # (or with the other reading) is made again.
        stamp = {**_source_stamp(source), "tokens": tokens}
        if not (target.exists() and manifest.exists() and json.loads(manifest.read_text()).get("stamp") == stamp):
            _convert(source, target, manifest, stamp, repair=CORPORA[corpus][split].get("repair", False),
                     tokens=tokens)
        paths[split] = target
        if smoke:
            paths[split] = _smoke_subset(target, smoke_dir(work) / target.relative_to(work), SMOKE_SENTENCES[split])
    return paths


def _convert(source: Path, target: Path, manifest: Path, stamp: Dict[str, Any], *, repair: bool, tokens: str) -> None:
    from spacy_bilstm.corpora import CorpusError, convert

    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"Converting {source} -> {target}", file=sys.stderr)
    try:
        summary = convert(source, target, to="spacy", repair=repair, tokens=tokens)
    except CorpusError as err:
        raise BenchmarkError(f"could not convert {source}: {err}") from err
    manifest.write_text(json.dumps({"stamp": stamp, "repair": repair, "summary": summary.to_dict()}, indent=2) + "\n")


def _smoke_subset(full: Path, target: Path, n_sentences: int) -> Path:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    docs = []
    for doc in DocBin().from_disk(full).get_docs(nlp.vocab):
        for sent in doc.sents:
            docs.append(sent.as_doc())
            if len(docs) >= n_sentences:
                break
        if len(docs) >= n_sentences:
            break
    target.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=False).to_disk(target)
    return target


# What the LSTM reads in a run. "converted": the documents as `convert` wrote them, what
# `spacy-bilstm train` reads (the default). "sentences": one document per sentence, as spaCy's
# gold_preproc reads a corpus (the protocol of the runs stored before the studies dropped it).
# "documents": whole documents marked as one sentence each, so the LSTM carries context across
# sentence boundaries; the run's pipeline then has no sentencizer to cut them.
UNITS = ("converted", "sentences", "documents")


def as_units(data: Dict[str, Path], units: str) -> Dict[str, Path]:
    """The run's DocBins for `units`: as converted, or copies cut into sentences or marked as
    one sentence per document, written once beside the converted DocBins."""
    if units not in UNITS:
        raise BenchmarkError(f"units must be one of {', '.join(UNITS)}, not {units!r}")
    if units == "converted":
        return dict(data)
    return {split: _docbin_of_units(path, units) for split, path in data.items()}


def _docbin_of_units(path: Path, units: str) -> Path:
    import spacy
    from spacy.tokens import DocBin

    target = path.with_name(f"{path.stem}.{units}.spacy")
    if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    nlp = spacy.blank("en")
    docs = []
    for doc in DocBin().from_disk(path).get_docs(nlp.vocab):
        if units == "sentences":
            for sentence in doc.sents:
                copy = sentence.as_doc()
                # The corpus's tokens, not its text: spaCy's Corpus then keeps them (see convert).
                copy.has_unknown_spaces = doc.has_unknown_spaces
                docs.append(copy)
            continue
        for token in doc:
            token.is_sent_start = token.i == 0
        docs.append(doc)
    partial = target.with_name(target.name + ".partial")
    DocBin(docs=docs, store_user_data=False).to_disk(partial)
    partial.rename(target)
    return target


def corpus_statistics(path: Path) -> Dict[str, int]:
    """Sentences, tokens and entities of a DocBin."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    counts = {"sentences": 0, "tokens": 0, "entities": 0}
    for doc in DocBin().from_disk(path).get_docs(nlp.vocab):
        counts["sentences"] += sum(1 for _ in doc.sents)
        counts["tokens"] += len(doc)
        counts["entities"] += len(doc.ents)
    return counts


def prepare_vectors(shared: Path, work: Path, *, smoke: bool = False) -> Path:
    """GloVe 6B 50d as a spaCy pipeline directory, converted once by spacy_bilstm.vectors (what
    `spacy-bilstm train --vectors` runs), so that every run loads the same directory.

    Smoke mode converts only the first SMOKE_VECTORS rows of the file, which takes seconds."""
    check_shared(shared)
    source = shared / GLOVE
    if not source.is_file():
        raise BenchmarkError(f"{source} not found; check --shared (it must hold {GLOVE})")
    with _cache_lock(work):
        if smoke:
            head = smoke_dir(work) / "vectors" / f"glove.6B.50d-first{SMOKE_VECTORS}.txt"
            if not head.exists():
                head.parent.mkdir(parents=True, exist_ok=True)
                with gzip.open(source, "rt", encoding="utf8") as lines:
                    head.write_text("".join(line for _, line in zip(range(SMOKE_VECTORS), lines)), encoding="utf8")
            source = head
        from spacy_bilstm.vectors import VectorsError
        from spacy_bilstm.vectors import prepare_vectors as convert_vectors

        target = work / "vectors" / (source.name.split(".txt")[0] + ".converted")
        try:
            return convert_vectors(source, target, lang="en", log=lambda text: print(text, file=sys.stderr))
        except VectorsError as error:
            raise BenchmarkError(f"could not convert {source}: {error}") from error


def corpus_lang(corpus: str) -> str:
    return CORPORA[corpus].get("lang", "en")
