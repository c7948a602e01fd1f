from pathlib import Path

import pytest
import spacy

from .helpers import RULER_PATTERNS, SHARED, make_examples, save_ruler_pipeline


@pytest.fixture(scope="session")
def ruler_model(tmp_path_factory) -> Path:
    return save_ruler_pipeline(tmp_path_factory.mktemp("ruler") / "model", RULER_PATTERNS)


@pytest.fixture(scope="session")
def shared_dir():
    if not SHARED.exists():
        pytest.skip(f"the shared data folder {SHARED} is absent (set SPACY_BILSTM_SHARED_DATA to its path)")
    return SHARED


@pytest.fixture(scope="module")
def overfitted_nlp():
    """A pipeline that has learned TRAIN_DATA by heart."""
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_ner")
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(80):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    return nlp
