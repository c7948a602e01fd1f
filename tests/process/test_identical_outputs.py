"""`spacy-bilstm process` with a trained BiLSTM-CRF writes the same bytes, entity scores
included, whatever the batch size, the number of processes and the engine: a text's entities
and probabilities never depend on the texts it is batched with, nor on the machine's load."""
import itertools
import json
from pathlib import Path

import pytest

from spacy_bilstm.process import process

from ..helpers import TRAIN_DATA

# Each run starts worker processes or a cluster.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_model(overfitted_nlp, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("trained") / "model"
    overfitted_nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """1,200 records of one to four sentences each, in lengths that no two batch sizes group alike."""
    texts = [text for text, _ in TRAIN_DATA]
    records = []
    for i, combination in enumerate(itertools.islice(itertools.cycle(itertools.permutations(texts, 3)), 1200)):
        records.append({"id": i, "text": " ".join(combination[: 1 + i % 3] if i % 4 else combination[:1])})
    path = tmp_path_factory.mktemp("inputs") / "records.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


RUNS = {
    "batch 1": {"batch_size": 1},
    "batch 64, 2 processes": {"batch_size": 64, "n_process": 2},
    "batch 1000": {"batch_size": 1000},
    "batch 1000, 2 threads": {"batch_size": 1000, "threads": 2},
}


def test_process_writes_the_same_bytes_at_any_batch_size_process_count_and_engine(trained_model, inputs, tmp_path):
    reference = tmp_path / "batch64.jsonl"
    process(trained_model, inputs, reference, batch_size=64, quiet=True)
    written = reference.read_bytes()
    records = [json.loads(line) for line in written.splitlines()]
    assert len(records) == 1200
    scores = [entity["score"] for record in records for entity in record["entities"]]
    assert len(scores) > 1000 and len(set(scores)) > 10  # real probabilities, not a constant
    runs = dict(RUNS)
    try:
        import dask.distributed  # noqa: F401

        runs["Dask, 2 workers"] = {"engine": "dask", "workers": 2, "partition_size": 100}
    except ImportError:
        pass
    for name, options in runs.items():
        output = tmp_path / (name.replace(" ", "_").replace(",", "") + ".jsonl")
        process(trained_model, inputs, output, quiet=True, **options)
        assert output.read_bytes() == written, f"{name}: output differs from batch 64 in one process"
