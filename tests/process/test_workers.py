"""The worker processes of `process --n-process N` mark themselves as workers (one torch
thread each under the package's thread policy) and take --threads when it is given."""
import os
from pathlib import Path

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Span

from spacy_bilstm import threads
from spacy_bilstm.process import process
from spacy_bilstm.process.local_engine import can_fork

from .helpers import read_jsonl


@Language.component("test_thread_probe")
def thread_probe(doc):
    """Reports, as the label of an entity over the first token, where the doc was processed."""
    marked = threads._worker_pid == os.getpid()
    doc.ents = [Span(doc, 0, 1, label=f"worker={marked} threads={threads.thread_count()}")]
    return doc


@pytest.fixture(scope="module")
def probe_model(tmp_path_factory) -> Path:
    nlp = spacy.blank("en")
    nlp.add_pipe("test_thread_probe")
    path = tmp_path_factory.mktemp("probe") / "model"
    nlp.to_disk(path)
    return path


def labels(path: Path):
    return {entity["label"] for record in read_jsonl(path) for entity in record["entities"]}


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "in.txt"
    path.write_text("".join(f"Document {i}\n" for i in range(6)))
    return path


@pytest.mark.skipif(not can_fork(), reason="worker processes are forked")
def test_forked_workers_mark_themselves_and_take_the_given_thread_count(probe_model, source, tmp_path):
    process(probe_model, source, tmp_path / "given.jsonl", n_process=2, partition_size=1, threads=3, quiet=True)
    assert labels(tmp_path / "given.jsonl") == {"worker=True threads=3"}
    process(probe_model, source, tmp_path / "default.jsonl", n_process=2, partition_size=1, quiet=True)
    assert {label.split()[0] for label in labels(tmp_path / "default.jsonl")} == {"worker=True"}


def test_one_process_is_not_a_worker(probe_model, source, tmp_path):
    process(probe_model, source, tmp_path / "out.jsonl", quiet=True)
    assert {label.split()[0] for label in labels(tmp_path / "out.jsonl")} == {"worker=False"}
