"""`spacy-bilstm select`: documents ranked by how unsure a tiny trained BiLSTM-CRF is of them,
the top N written as pre-annotated tasks, duplicates collapsed, memory bounded by N."""
import json
import math
import random
from pathlib import Path

import pytest
import spacy
from typer.testing import CliRunner

from spacy_bilstm.corpora import read_corpus
from spacy_bilstm.cli import app
from spacy_bilstm.process import BadRecordError, ProcessError
from spacy_bilstm.process.local_engine import can_fork
from spacy_bilstm.selection import Candidate, TopN, normalised_text, select

from .helpers import save_trained_pipeline

TINY_MODEL = {
    "hidden_width": 8,
    "tok2vec": {"width": 16, "rows": [200, 100, 100, 100], "char_filters": 8, "char_embed_width": 8, "char_rows": 64},
}
# Distinct texts, in several lengths, some like the training data and some not.
TEXTS = [
    "Apple hired Tim Cook in Cupertino.",
    "I like London and Berlin.",
    "Who is Shaka Khan?",
    "The United Nations met in Geneva on Monday.",
    "Angela Merkel spoke to reporters.",
    "Nothing to see here.",
    "Zorblax visited Quuxville with Mr Flimflam yesterday .",
    "London",
    "Reporters met Tim in Berlin and Geneva.",
    "What a day it was in the old town of Paris , said Pierre Dupont .",
    "The cat sat on the mat.",
    "Microsoft and Google compete in Seattle.",
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return save_trained_pipeline(tmp_path_factory.mktemp("select") / "model", TINY_MODEL, steps=15)


def write_texts(path: Path, texts) -> Path:
    path.write_text("".join(json.dumps({"id": i, "text": text}) + "\n" for i, text in enumerate(texts)))
    return path


def read_tasks(path: Path):
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


@pytest.fixture
def source(tmp_path) -> Path:
    return write_texts(tmp_path / "in.jsonl", TEXTS)


# --------------------------------------------------------------------------- the heap


def test_the_heap_never_holds_more_than_n_and_keeps_the_top_n_one_per_key():
    rng = random.Random(0)
    offered = [Candidate(rng.choice([0.1, 0.5, rng.random()]), index, rng.randrange(40)) for index in range(500)]
    top = TopN(7)
    for candidate in offered:
        top.offer(candidate)
        assert len(top) <= 7
    best_per_key = {}
    for candidate in offered:
        held = best_per_key.get(candidate.key)
        if held is None or candidate.rank_key > held.rank_key:
            best_per_key[candidate.key] = candidate
    expected = sorted(best_per_key.values(), key=lambda c: c.rank_key, reverse=True)[:7]
    assert top.best_first() == expected


def test_of_equal_scores_the_earlier_record_ranks_higher_and_a_duplicate_replaces_only_when_better():
    top = TopN(2)
    for index, key in enumerate("abc"):
        top.offer(Candidate(0.5, index, key))
    assert [c.key for c in top.best_first()] == ["a", "b"]
    assert not top.offer(Candidate(0.4, 3, "a"))
    assert top.offer(Candidate(0.9, 4, "b"))
    assert [(c.key, c.score) for c in top.best_first()] == [("b", 0.9), ("a", 0.5)]
    assert top.duplicates == 2


def test_what_counts_as_a_duplicate():
    assert normalised_text("Paid  $1,200 on 3 May\n") == normalised_text("paid $9,999 on 4 MAY")
    assert normalised_text("Paid $1,200 on 3 May") != normalised_text("Paid $1,200 in 3 May")


# --------------------------------------------------------------------------- the component's hook


def test_a_docs_best_path_log_probability_is_the_sum_over_the_units_it_is_read_in(tiny_model):
    nlp = spacy.load(tiny_model)
    ner = nlp.get_pipe("bilstm_ner")
    first, second = "I like London and Berlin .", "Apple hired Tim Cook ."
    doc = nlp.make_doc(f"{first} {second}")
    split = len(nlp.make_doc(first))
    for token in doc:
        token.is_sent_start = token.i in (0, split)
    alone = [ner.predict_with_path_log_probs([nlp.make_doc(text)])[1][0] for text in (first, second)]
    ner.model.attrs["reading"] = "sentence"
    entities, log_probs = ner.predict_with_path_log_probs([doc, nlp.make_doc("")])
    assert entities == ner.predict([doc, nlp.make_doc("")])
    assert log_probs[0] == pytest.approx(sum(alone), abs=1e-5) and log_probs[0] < 0
    assert log_probs[1] == 0.0


# --------------------------------------------------------------------------- select()


def test_the_top_n_are_the_highest_scores_best_first(tiny_model, source, tmp_path):
    every = tmp_path / "every.jsonl"
    select(tiny_model, source, every, n=len(TEXTS), quiet=True)
    all_scores = {task["meta"]["id"]: task["meta"]["score"] for task in read_tasks(every)}
    assert len(all_scores) == len(TEXTS) and len(set(all_scores.values())) > 5

    top = tmp_path / "top.jsonl"
    summary = select(tiny_model, source, top, n=4, quiet=True)
    tasks = read_tasks(top)
    assert [task["meta"]["rank"] for task in tasks] == [1, 2, 3, 4]
    assert [task["meta"]["id"] for task in tasks] == sorted(all_scores, key=all_scores.get, reverse=True)[:4]
    scores = [task["meta"]["score"] for task in tasks]
    assert scores == sorted(scores, reverse=True) and all(0.0 < s < 1.0 for s in scores)
    assert (summary.docs, summary.chosen, summary.duplicates) == (len(TEXTS), 4, 0)
    assert (summary.chosen_max_score, summary.chosen_min_score) == (scores[0], scores[-1])
    assert summary.max_score == scores[0] and summary.min_score == min(all_scores.values())


def test_tasks_are_pre_annotated_with_each_entitys_probability(tiny_model, source, tmp_path):
    output = tmp_path / "tasks.jsonl"
    select(tiny_model, source, output, n=len(TEXTS), quiet=True)
    tasks = read_tasks(output)
    spans = [span for task in tasks for span in task["spans"]]
    assert spans and all(0.0 <= span["score"] <= 1.0 for span in spans)
    task = tasks[0]
    assert task["text"] == TEXTS[task["meta"]["id"]]
    assert set(task["meta"]) == {"score", "strategy", "rank", "id", "file", "line"}
    assert task["meta"]["strategy"] == "uncertainty" and task["meta"]["file"] == "in.jsonl"


def test_the_entity_strategy_scores_a_doc_by_its_least_probable_entity(tiny_model, source, tmp_path):
    output = tmp_path / "entity.jsonl"
    select(tiny_model, source, output, n=len(TEXTS), strategy="entity", quiet=True)
    nlp = spacy.load(tiny_model)
    ner = nlp.get_pipe("bilstm_ner")
    for task in read_tasks(output):
        doc = nlp(task["text"])
        probabilities = doc.spans["bilstm_ner"].attrs["scores"]
        if probabilities:
            expected = 1.0 - min(probabilities)
        else:  # no entity found: one minus the probability of the all-O path
            expected = 1.0 - math.exp(ner.predict_with_path_log_probs([nlp.make_doc(task["text"])])[1][0])
        assert task["meta"]["score"] == pytest.approx(expected, abs=1e-6)


def test_duplicates_collapse_to_one_task(tiny_model, tmp_path):
    texts = ["Apple hired Tim Cook in 2011.", "apple   hired tim cook in 2012.", "APPLE hired Tim Cook in 1999.",
             "I like London and Berlin."]
    source = write_texts(tmp_path / "dupes.jsonl", texts)
    summary = select(tiny_model, source, tmp_path / "out.jsonl", n=10, quiet=True)
    assert (summary.chosen, summary.duplicates) == (2, 2)
    chosen = [task["text"] for task in read_tasks(tmp_path / "out.jsonl")]
    assert len({normalised_text(text) for text in chosen}) == 2
    everything = select(tiny_model, source, tmp_path / "all.jsonl", n=10, dedupe=False, quiet=True)
    assert (everything.chosen, everything.duplicates) == (4, 0)


def test_random_is_reproducible_and_independent_of_partitioning(tiny_model, tmp_path):
    source = write_texts(tmp_path / "many.jsonl", [f"{text} ({word})" for text in TEXTS for word in ("a", "b")])

    def chosen(name, **options):
        select(tiny_model, source, tmp_path / name, n=5, strategy="random", quiet=True, **options)
        return [task["meta"]["id"] for task in read_tasks(tmp_path / name)]

    first = chosen("seed0.jsonl", seed=0)
    assert chosen("again.jsonl", seed=0, partition_size=3, batch_size=2) == first
    assert chosen("seed1.jsonl", seed=1) != first
    assert len(set(first)) == 5


def test_bad_and_empty_records_are_counted_not_dropped_silently(tiny_model, tmp_path):
    source = tmp_path / "mixed.jsonl"
    source.write_text('{"text": "Apple hired Tim Cook."}\n{not json\n{"text": ""}\n{"text": "I like Berlin."}\n')
    with pytest.raises(BadRecordError, match="line 2"):
        select(tiny_model, source, tmp_path / "raise.jsonl", n=3, quiet=True)
    summary = select(tiny_model, source, tmp_path / "skip.jsonl", n=3, on_error="skip", quiet=True)
    assert (summary.docs, summary.bad_records, summary.empty, summary.chosen) == (4, 1, 1, 2)
    assert "mixed.jsonl, line 2" in summary.first_bad_record


def test_an_unknown_task_format_is_refused_before_reading(tiny_model, tmp_path):
    with pytest.raises(ProcessError, match="Unknown --to 'doccano'"):
        select(tiny_model, tmp_path / "no-such-input.jsonl", tmp_path / "out.json", n=3, to="doccano")


def test_label_studio_tasks_carry_each_entity_probability_and_come_back_through_convert(tiny_model, source, tmp_path):
    output = tmp_path / "tasks.json"
    select(tiny_model, source, output, n=3, to="labelstudio", quiet=True)
    tasks = json.loads(output.read_text(encoding="utf-8"))
    assert len(tasks) == 3
    assert [task["data"]["meta"]["rank"] for task in tasks] == [1, 2, 3]
    for task in tasks:
        (prediction,) = task["predictions"]
        assert prediction["score"] == task["data"]["meta"]["score"]
        assert all(0.0 <= result["score"] <= 1.0 for result in prediction["result"])
    # An annotator accepts the pre-annotations as they are: the export reads back as gold.
    for task in tasks:
        task["annotations"] = [{"id": 1, "result": task["predictions"][0]["result"], "was_cancelled": False}]
    output.write_text(json.dumps(tasks), encoding="utf-8")
    docs = read_corpus(output).docs
    assert [len(doc.ents) for doc in docs] == [len(task["predictions"][0]["result"]) for task in tasks]


def test_the_cli_prints_the_summary(tiny_model, source, tmp_path):
    output = tmp_path / "cli.jsonl"
    result = CliRunner().invoke(app, ["select", str(tiny_model), str(source), str(output), "--n", "3"])
    assert result.exit_code == 0, result.output
    assert f"read {len(TEXTS)} docs" in result.output and "dropped 0 duplicates, chose 3 with scores" in result.output
    assert len(read_tasks(output)) == 3
    again = CliRunner().invoke(app, ["select", str(tiny_model), str(source), str(output), "--n", "3"])
    assert again.exit_code == 1 and "--overwrite" in again.output


@pytest.mark.slow
@pytest.mark.skipif(not can_fork(), reason="worker processes are forked")
def test_two_processes_choose_what_one_does(tiny_model, tmp_path):
    source = write_texts(tmp_path / "many.jsonl", [f"{text} {i}" for i in range(5) for text in TEXTS])
    select(tiny_model, source, tmp_path / "one.jsonl", n=8, dedupe=False, quiet=True)
    select(tiny_model, source, tmp_path / "two.jsonl", n=8, dedupe=False, n_process=2, partition_size=7, quiet=True)
    assert (tmp_path / "two.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()


@pytest.mark.slow
def test_the_dask_engine_chooses_what_the_local_one_does(tiny_model, source, tmp_path):
    pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    select(tiny_model, source, tmp_path / "local.jsonl", n=5, quiet=True)
    select(tiny_model, source, tmp_path / "dask.jsonl", n=5, engine="dask", workers=1, partition_size=4, quiet=True)
    assert (tmp_path / "dask.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
