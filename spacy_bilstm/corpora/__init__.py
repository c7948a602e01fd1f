"""Reading, checking, converting and fetching NER corpora."""
from .catalogue import CatalogueEntry, load_catalogue
from .errors import CorpusError
from .fetch import fetch_corpus
from .readers import ConversionResult, Summary, is_raw_corpus, read_corpus
from .schemes import SCHEMES, TagError, decode_tags, detect_scheme, spans_to_tags, split_tag, tags_to_spans
from .writers import OUTPUT_FORMATS, convert, write_conll, write_docbin, write_docs, write_jsonl

__all__ = [
    "CatalogueEntry",
    "ConversionResult",
    "CorpusError",
    "OUTPUT_FORMATS",
    "SCHEMES",
    "Summary",
    "TagError",
    "convert",
    "decode_tags",
    "detect_scheme",
    "fetch_corpus",
    "is_raw_corpus",
    "load_catalogue",
    "read_corpus",
    "spans_to_tags",
    "split_tag",
    "tags_to_spans",
    "write_conll",
    "write_docbin",
    "write_docs",
    "write_jsonl",
]
