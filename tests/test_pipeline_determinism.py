"""Same data, same config, same seed on CPU: the same weights, byte for byte, and the same
predictions, whether the two trainings run in one process or in two with different hash seeds.
(GPU training is not covered: see the README's section on determinism.)"""
import hashlib
import json
import os
import subprocess
import sys

import pytest
import spacy
import srsly

from .helpers import REPO, TRAIN_DATA, make_examples

TINY_MODEL = {
    "hidden_width": 16,
    "tok2vec": {"width": 16, "rows": [200, 100, 100, 100], "char_filters": 8, "char_embed_width": 8, "char_rows": 64},
}
TEXTS = ["Angela Merkel met Tim Cook in Geneva.", "I like Berlin.", "Nothing here."]


def train(seed: int, n_updates: int = 6, dropout: float = 0.2):
    spacy.util.fix_random_seed(seed)
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_ner", config={"model": TINY_MODEL})
    examples = make_examples(nlp, TRAIN_DATA)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(n_updates):
        nlp.update(examples, sgd=optimizer, drop=dropout)
    return nlp


def weights(nlp) -> bytes:
    return nlp.get_pipe("bilstm_ner").to_bytes(exclude=["vocab"])


def predictions(nlp):
    return [
        [(span.start_char, span.end_char, span.label_, round(score, 6)) for span, score in zip(doc.spans["bilstm_ner"], doc.spans["bilstm_ner"].attrs["scores"])]
        for doc in nlp.pipe(TEXTS)
    ]


def summary(nlp) -> dict:
    return {"weights": hashlib.sha256(weights(nlp)).hexdigest(), "predictions": predictions(nlp)}


@pytest.fixture(scope="module", autouse=True)
def one_thread_count():
    """Training's thread count follows the machine's load by default, and a different count
    changes the last bits of the weights: every training here uses one thread."""
    from spacy_bilstm import threads

    threads.set_threads(1)
    yield
    threads.set_threads(None)


@pytest.fixture(scope="module")
def reference():
    return train(seed=7)


def test_same_seed_gives_identical_weights_and_predictions_in_one_process(reference):
    again = train(seed=7)
    assert weights(again) == weights(reference)
    assert predictions(again) == predictions(reference)


def test_the_test_can_tell_trainings_apart(reference):
    # Dropout and initialisation draw from the seeded generators: another seed must give
    # other weights, or the test above would pass vacuously.
    assert weights(train(seed=8)) != weights(reference)


def test_saved_and_reloaded_pipeline_predicts_the_same(tmp_path, reference):
    nlp = reference
    nlp.to_disk(tmp_path / "model")
    reloaded = spacy.load(tmp_path / "model")
    assert weights(reloaded) == weights(nlp)
    assert predictions(reloaded) == predictions(nlp)


@pytest.mark.slow
def test_a_second_process_with_another_hash_seed_trains_the_same_weights(reference):
    # Same torch intra-op thread count on both sides: a different count changes the order of
    # floating-point sums, and with it the last bits of the weights (see the README).
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        "from tests.test_pipeline_determinism import summary, train; print(json.dumps(summary(train(seed=7))))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "SPACY_BILSTM_THREADS": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", script, str(REPO)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    other = json.loads(completed.stdout.strip().splitlines()[-1])
    here = summary(reference)
    assert other["weights"] == here["weights"]
    assert [[tuple(e) for e in doc] for doc in other["predictions"]] == here["predictions"]
    assert srsly.json_loads(srsly.json_dumps(here))  # plain data on both sides
