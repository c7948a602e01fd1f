"""What several test modules share: the repo's paths, small training data, and builders of small
pipelines and vectors. Fixtures are in conftest.py."""
import os
from pathlib import Path
from typing import Optional

import numpy
import spacy
from spacy.training import Example

REPO = Path(__file__).resolve().parents[1]
# The shared data (corpora/, vectors/) that the tests on real corpora read, and skip without:
# SPACY_BILSTM_SHARED_DATA when set, else ../shared beside the checkout.
SHARED = Path(os.environ.get("SPACY_BILSTM_SHARED_DATA") or REPO.parent / "shared").expanduser().resolve()
SAMPLE = REPO / "corpora" / "sample"
SAMPLE_TRAIN, SAMPLE_DEV = SAMPLE / "train.conll", SAMPLE / "dev.conll"

# The entities of the texts that the process tests run a pipeline over.
RULER_PATTERNS = [
    {"label": "ORG", "pattern": "Apple"},
    {"label": "GPE", "pattern": "Paris"},
    {"label": "GPE", "pattern": [{"LOWER": "new"}, {"LOWER": "york"}]},
    {"label": "PERSON", "pattern": [{"LOWER": "ada"}, {"LOWER": "lovelace"}]},
]

TRAIN_DATA = [
    ("Who is Shaka Khan?", [(7, 17, "PER")]),
    ("I like London and Berlin.", [(7, 13, "LOC"), (18, 24, "LOC")]),
    ("Apple hired Tim Cook in Cupertino.", [(0, 5, "ORG"), (12, 20, "PER"), (24, 33, "LOC")]),
    ("The United Nations met in Geneva on Monday.", [(0, 18, "ORG"), (26, 32, "LOC")]),
    ("Angela Merkel spoke to reporters.", [(0, 13, "PER")]),
    ("Nothing to see here.", []),
]


def make_examples(nlp, data=TRAIN_DATA):
    return [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in data]


def entity_tuples(doc):
    return [(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents]


def save_small_vectors(path: Path, words, width: int = 16) -> Path:
    """A blank English pipeline whose vocab has a random `width`-wide vector for each of `words`,
    saved to `path`: what `--paths.vectors` takes for a config with static vectors."""
    nlp = spacy.blank("en")
    rng = numpy.random.default_rng(0)
    for word in words:
        nlp.vocab.set_vector(word, rng.normal(size=width).astype("float32"))
    nlp.to_disk(path)
    return path


def save_ruler_pipeline(path: Path, patterns) -> Path:
    """A blank English pipeline with an entity_ruler of `patterns`, saved to `path`: a pipeline
    that sets doc.ents exactly as the patterns say, without training."""
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(patterns)
    nlp.to_disk(path)
    return path


def save_trained_pipeline(
    path: Path, model: dict, steps: int, *, sentencizer: bool = False, learn_rate: Optional[float] = None,
    drop: float = 0.0, seed: int = 0, data=TRAIN_DATA,
) -> Path:
    """A blank English pipeline with bilstm_ner (model settings `model`, after a sentencizer if
    asked), trained `steps` updates on `data` from `seed`, saved to `path`."""
    spacy.util.fix_random_seed(seed)
    nlp = spacy.blank("en")
    if sentencizer:
        nlp.add_pipe("sentencizer")
    nlp.add_pipe("bilstm_ner", config={"model": model})
    examples = make_examples(nlp, data)
    optimizer = nlp.initialize(lambda: examples)
    if learn_rate is not None:
        optimizer.learn_rate = learn_rate
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, drop=drop)
    nlp.to_disk(path)
    return path


def load_benchmark_script(name: str):
    """The module of the study benchmarks/NAME.py, as `python -m benchmarks.NAME` runs it."""
    import importlib

    return importlib.import_module(f"benchmarks.{name}")

