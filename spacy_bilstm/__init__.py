"""spacy-bilstm: a PyTorch BiLSTM-CRF named-entity tagger as a spaCy v3 pipeline component."""
from importlib import import_module

from .about import __version__
from . import architectures, frozen, loggers  # noqa: F401  (registers the architectures, callback and logger)
from .errors import (
    AnnotationError, ConfigError, LabelError, ModelLoadError, OutputWriteError, ScoreError, SpacyBilstmError,
    TrainingDivergedError,
)
from .pipeline import BiLSTMEntityRecognizer, make_bilstm_ner
from .tags import UnknownLabelError
from .moved_modules import alias_moved_modules

alias_moved_modules()

# The error classes of the corpora, training, process and CLI-side modules, imported on first
# use: importing them here would load those subpackages with every `import spacy_bilstm`.
_LAZY_ERRORS = {
    "CorpusError": ".corpora.errors",
    "TagError": ".corpora.schemes",
    "MixedSchemeError": ".corpora.schemes",
    "TrainingError": ".training.errors",
    "TrainingInterrupted": ".training.errors",
    "ProcessError": ".process.errors",
    "BadRecordError": ".process.errors",
    "EvaluationError": ".evaluation",
    "PipelineLoadError": ".loading",
    "PackagingError": ".packaging",
    "VectorsError": ".vectors",
}


def __getattr__(name: str):
    if name in _LAZY_ERRORS:
        return getattr(import_module(_LAZY_ERRORS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "__version__", "BiLSTMEntityRecognizer", "make_bilstm_ner",
    "SpacyBilstmError", "ConfigError", "LabelError", "UnknownLabelError", "AnnotationError", "TrainingDivergedError",
    "ScoreError", "OutputWriteError", "ModelLoadError", *_LAZY_ERRORS,
]
