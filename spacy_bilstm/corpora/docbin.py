"""Reading spaCy DocBin files (`.spacy`)."""
from pathlib import Path

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from .errors import CorpusError
from .summary import ConversionResult, summarise


def read_docbin(path: Path, vocab: Vocab) -> ConversionResult:
    try:
        docs = list(DocBin().from_disk(path).get_docs(vocab))
    except Exception as err:  # DocBin raises several unrelated types on a damaged file
        raise CorpusError(f"cannot read the file as a spaCy DocBin ({err.__class__.__name__}: {err})", path=path,
                          hint="check that it was written by `spacy-bilstm convert` or DocBin.to_disk") from None
    summary = summarise(path, docs, "spacy", "n/a", 0, [])
    summary.format_detail = "DocBin"
    summary.scheme_detail = "entities stored as spans"
    return ConversionResult(docs, summary)
