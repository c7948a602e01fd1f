"""Training on top of spaCy's own initialization and loop: what this package adds is the config
resolved once into a TrainingPlan (plan), checking everything a user can get wrong before the
long work starts (configs), raw corpora and word vectors converted on the fly (preparation),
shipped configs by name, and a Ctrl-C that leaves model-last whole (train)."""
from .configs import (
    load_training_config, parse_overrides, resolve_config_path, shipped_config_names, shipped_configs_dir,
    validate_config,
)
from .errors import TrainingError, TrainingInterrupted
from .preparation import CORPUS_DIR, VECTORS_DIR, check_corpus_labels, prepare_corpus, prepare_output_dir
from .train import train

__all__ = [
    "CORPUS_DIR", "VECTORS_DIR", "TrainingError", "TrainingInterrupted", "check_corpus_labels",
    "load_training_config", "parse_overrides", "prepare_corpus", "prepare_output_dir", "resolve_config_path",
    "shipped_config_names", "shipped_configs_dir", "train", "validate_config",
]
