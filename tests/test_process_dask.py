"""`--engine dask` on a real (local, multi-process) Dask cluster: the output must be
the local engine's, byte for byte, in input order, with each worker loading the
pipeline once."""
import json
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_bilstm.process import process

distributed = pytest.importorskip("dask.distributed", reason="the dask extra is not installed")

from spacy_bilstm.process.dask_engine import worker_load_counts  # noqa: E402

TEXTS = [
    "Apple opened an office in New York.",
    "Nothing to see here",
    "",
    "Ada Lovelace never visited new york or Apple .",
    "Ünïcödé café near New York",
]


pytestmark = pytest.mark.slow  # starts a Dask LocalCluster


@pytest.fixture(scope="module")
def ruler_model(tmp_path_factory) -> Path:
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(
        [
            {"label": "ORG", "pattern": "Apple"},
            {"label": "GPE", "pattern": [{"LOWER": "new"}, {"LOWER": "york"}]},
            {"label": "PERSON", "pattern": [{"LOWER": "ada"}, {"LOWER": "lovelace"}]},
        ]
    )
    path = tmp_path_factory.mktemp("model") / "ruler"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as local_cluster:
        yield local_cluster


@pytest.fixture
def inputs(tmp_path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    lines = []
    for i in range(57):
        lines.append("{not json" if i % 11 == 5 else json.dumps({"id": i, "text": TEXTS[i % len(TEXTS)], "n": i}))
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "b.txt").write_text("\n".join(TEXTS * 3) + "\n")
    return folder


def test_dask_output_is_byte_identical_to_local_and_in_input_order(tmp_path, ruler_model, cluster, inputs):
    local = tmp_path / "local.jsonl"
    on_dask = tmp_path / "dask.jsonl"
    local_summary = process(ruler_model, inputs, local, on_error="skip", quiet=True)
    dask_summary = process(
        ruler_model, inputs, on_dask, on_error="skip", quiet=True,
        engine="dask", scheduler=cluster.scheduler_address, partition_size=4, batch_size=3,
    )
    assert on_dask.read_bytes() == local.read_bytes()
    assert (tmp_path / "dask.jsonl.errors.jsonl").read_bytes() == (tmp_path / "local.jsonl.errors.jsonl").read_bytes()
    ids = [json.loads(line)["id"] for line in on_dask.read_text().splitlines()]
    assert ids == [i for i in range(57) if i % 11 != 5] + [f"b.txt:{n}" for n in range(1, 16)]
    assert (dask_summary.docs, dask_summary.errors, dask_summary.words, dask_summary.entities) == (
        local_summary.docs, local_summary.errors, local_summary.words, local_summary.entities,
    )

    # 19 partitions over 2 workers, yet each worker process loaded the pipeline once.
    with distributed.Client(cluster) as client:
        counts = client.run(worker_load_counts)
    loads = [n for per_worker in counts.values() for n in per_worker.values()]
    assert loads and all(n == 1 for n in loads), counts


def test_dask_resume_continues_where_the_local_engine_stopped(tmp_path, ruler_model, cluster, inputs):
    reference = tmp_path / "reference.jsonl"
    process(ruler_model, inputs, reference, on_error="skip", quiet=True)
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"".join(reference.read_bytes().splitlines(keepends=True)[:20]) + b'{"id":2')
    (tmp_path / "out.jsonl.errors.jsonl").write_bytes(
        b"".join(reference.with_name("reference.jsonl.errors.jsonl").read_bytes().splitlines(keepends=True)[:2])
    )
    process(
        ruler_model, inputs, out, on_error="skip", resume=True, quiet=True,
        engine="dask", scheduler=cluster.scheduler_address, partition_size=5,
    )
    assert out.read_bytes() == reference.read_bytes()


def test_dask_spacy_output_holds_the_same_docs_as_local(tmp_path, ruler_model, cluster, inputs):
    local = tmp_path / "local.spacy"
    on_dask = tmp_path / "dask.spacy"
    process(ruler_model, inputs, local, on_error="skip", quiet=True)
    process(
        ruler_model, inputs, on_dask, on_error="skip", quiet=True,
        engine="dask", scheduler=cluster.scheduler_address, partition_size=7,
    )
    vocab = spacy.blank("en").vocab

    def described(path):
        return [
            (doc.text, [t.text for t in doc], [(e.start_char, e.end_char, e.label_) for e in doc.ents])
            for doc in DocBin().from_disk(path).get_docs(vocab)
        ]

    assert described(on_dask) == described(local)
    assert len(described(local)) == 57 - 5 + 15


def test_cli_workers_option_starts_its_own_local_cluster(tmp_path, ruler_model, inputs):
    from typer.testing import CliRunner

    from spacy_bilstm.cli import app

    local = tmp_path / "local.jsonl"
    process(ruler_model, inputs, local, on_error="skip", quiet=True)
    on_dask = tmp_path / "dask.jsonl"
    result = CliRunner().invoke(
        app,
        ["process", str(ruler_model), str(inputs), str(on_dask), "--engine", "dask", "--workers", "2",
         "--on-error", "skip", "--partition-size", "10", "--quiet"],
    )
    assert result.exit_code == 0, result.output
    assert on_dask.read_bytes() == local.read_bytes()


def test_a_model_that_fails_to_load_on_the_workers_leaves_the_previous_output(tmp_path, cluster, inputs):
    output = tmp_path / "out.jsonl"
    output.write_text('{"id": "earlier run"}\n')
    with pytest.raises(Exception, match="no-such-model"):
        process(
            tmp_path / "no-such-model", inputs, output, engine="dask", scheduler=cluster.scheduler_address,
            on_error="skip", overwrite=True, quiet=True,
        )
    assert output.read_text() == '{"id": "earlier run"}\n'
