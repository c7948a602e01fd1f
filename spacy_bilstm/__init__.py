"""spacy-bilstm: a PyTorch BiLSTM-CRF named-entity tagger as a spaCy v3 pipeline component."""
from .about import __version__
from . import architectures, frozen, loggers  # noqa: F401  (registers the architectures, callback and logger)
from .pipeline import BiLSTMEntityRecognizer, make_bilstm_ner

__all__ = ["__version__", "BiLSTMEntityRecognizer", "make_bilstm_ner"]
