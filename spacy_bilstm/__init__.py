"""spacy-bilstm: a PyTorch BiLSTM-CRF named-entity tagger as a spaCy v3 pipeline component."""
from .about import __version__

__all__ = ["__version__"]
