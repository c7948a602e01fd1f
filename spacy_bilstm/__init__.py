"""spacy-bilstm: a PyTorch BiLSTM-CRF named-entity tagger as a spaCy v3 pipeline component."""
from .about import __version__
from . import architectures  # noqa: F401  (registers the architectures)
from .pipeline import BiLSTMEntityRecognizer, make_bilstm_ner

__all__ = ["__version__", "BiLSTMEntityRecognizer", "make_bilstm_ner"]
