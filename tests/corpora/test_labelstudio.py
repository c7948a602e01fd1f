"""Label Studio's JSON export in, Label Studio tasks out: the latest annotation of each task is
gold, everything left out is counted, and every bad result names its task and line."""
import json
from pathlib import Path

import pytest
from spacy.tokens import Span, SpanGroup
from typer.testing import CliRunner

from spacy_bilstm.cli import app
from spacy_bilstm.corpora import read_corpus, write_docs

from .corpus_files import assert_clear_error, ents, write

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample" / "labelstudio.json"
TEXT = "Ann met Bob in Paris."


def labels(start, end, label, text=TEXT, **value):
    return {"type": "labels", "from_name": "label", "to_name": "text",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [label], **value}}


def task(*annotations, text=TEXT, **fields):
    return {"id": fields.pop("id", 1), "data": {"text": text, **fields.pop("data", {})},
            "annotations": list(annotations), **fields}


def export(tmp_path, *tasks, name="export.json"):
    return write(tmp_path, name, json.dumps(list(tasks), indent=2))


def test_the_sample_export_reads_the_gold_and_counts_what_it_leaves_out():
    result = read_corpus(SAMPLE)
    assert result.summary.format == "labelstudio"
    assert [ents(d) for d in result.docs] == [
        [("Maria Lopez", "PER"), ("Valencia", "LOC"), ("Harbour Trust", "ORG")],
        [("Tomas Berg", "PER"), ("Oslo", "LOC"), ("Lisbon", "LOC")],
        [("Anil Rao", "PER"), ("Meridian Institute", "ORG")],
    ]
    assert result.summary.skipped == {
        "older annotations of a task (the latest was read)": 1, "cancelled annotations": 1,
        "tasks without an annotation": 1, "tasks with only predictions": 1, "'choices' results (they mark no span)": 1,
    }
    assert result.summary.missing_tokens == 8


def test_the_latest_annotation_wins_by_update_time_then_id(tmp_path):
    older = {"id": 5, "updated_at": "2024-01-02T00:00:00Z", "result": [labels(0, 3, "PER")]}
    newer = {"id": 3, "updated_at": "2024-01-03T00:00:00+00:00", "result": [labels(8, 11, "PER")]}
    same_time_higher_id = {"id": 9, "updated_at": "2024-01-03T00:00:00Z", "result": [labels(15, 20, "LOC")]}
    cancelled = {"id": 99, "updated_at": "2025-01-01T00:00:00Z", "was_cancelled": True, "result": []}
    assert ents(read_corpus(export(tmp_path, task(older, newer))).docs[0]) == [("Bob", "PER")]
    result = read_corpus(export(tmp_path, task(older, newer, same_time_higher_id, cancelled)))
    assert ents(result.docs[0]) == [("Paris", "LOC")]
    assert result.summary.skipped["older annotations of a task (the latest was read)"] == 2
    assert result.summary.skipped["cancelled annotations"] == 1


def test_a_result_of_an_unknown_type_names_the_task_its_id_and_line(tmp_path):
    good = task({"result": [labels(0, 3, "PER")]})
    bad = task({"result": [{"type": "rectanglelabels", "value": {"x": 1}}]}, id=42)
    path = export(tmp_path, good, bad)
    line = path.read_text().splitlines().index("  {", 2) + 1
    error = assert_clear_error(path, line, "Task 1 (id 42): result 0 has the type 'rectanglelabels'")
    assert "'labels'" in error.hint


def test_spanless_results_are_counted_and_left_out(tmp_path):
    results = [labels(0, 3, "PER"), {"type": "choices", "value": {"choices": ["x"]}},
               {"type": "relation", "from_id": "a", "to_id": "b"}, {"type": "textarea", "value": {"text": ["ok"]}}]
    result = read_corpus(export(tmp_path, task({"result": results})))
    assert ents(result.docs[0]) == [("Ann", "PER")]
    assert sum(result.summary.skipped.values()) == 3


@pytest.mark.parametrize(
    "result,fragment",
    [
        ({**labels(0, 3, "PER"), "value": {"start": 0, "end": 3, "text": "Ann", "labels": ["PER", "ORG"]}},
         "has 2 labels (PER, ORG)"),
        ({**labels(0, 3, "PER"), "value": {"start": 0, "end": 3, "text": "Anne", "labels": ["PER"]}},
         "says its text is 'Anne' but the text at 0:3 is 'Ann'"),
        ({**labels(0, 3, "PER"), "value": {"start": 0, "end": 99, "labels": ["PER"]}}, "not a span inside the text"),
        (labels(0, 2, "PER"), "does not start and end on token boundaries"),
    ],
)
def test_bad_spans_are_errors_naming_the_task(tmp_path, result, fragment):
    assert_clear_error(export(tmp_path, task({"result": [result]})), 2, fragment)


def test_the_text_key_option_reads_another_data_field(tmp_path):
    path = export(tmp_path, {"data": {"sentence": TEXT}, "annotations": [{"result": [labels(0, 3, "PER")]}]})
    error = assert_clear_error(path, 2, 'data has no "text" string')
    assert "--text-key" in error.hint
    assert ents(read_corpus(path, text_key="sentence").docs[0]) == [("Ann", "PER")]


def test_an_export_without_any_usable_annotation_is_an_error(tmp_path):
    path = export(tmp_path, task({"was_cancelled": True, "result": []}), task())
    assert_clear_error(path, None, "no task with an annotation")


def test_label_studio_round_trip_keeps_every_span_and_the_annotated_ranges(tmp_path):
    text = "Ann met Bob. Later text."
    source = export(tmp_path, task({"result": [labels(0, 3, "PER", text), labels(8, 11, "PER", text)]}, text=text,
                                   data={"annotated": [[0, 12]]}), task({"result": [labels(15, 20, "LOC")]}))
    original = read_corpus(source)
    write_docs(original.docs, tmp_path / "docs.spacy", "spacy")
    write_docs(read_corpus(tmp_path / "docs.spacy").docs, tmp_path / "back.json", "labelstudio")
    back = read_corpus(tmp_path / "back.json")
    assert [ents(d) for d in back.docs] == [ents(d) for d in original.docs]
    assert [[t.ent_iob for t in d] for d in back.docs] == [[t.ent_iob for t in d] for d in original.docs]
    tasks = json.loads((tmp_path / "back.json").read_text())
    assert tasks[0]["data"]["annotated"] == [[0, 12]] and "annotated" not in tasks[1]["data"]


def test_predictions_go_out_with_each_entity_score_and_the_task_score(tmp_path):
    (doc,) = read_corpus(export(tmp_path, task({"result": [labels(0, 3, "PER"), labels(15, 20, "LOC")]}))).docs
    predicted = [Span(doc, 4, 5, "LOC"), Span(doc, 0, 1, "PER"), Span(doc, 2, 3, "PER")]
    doc.spans["predicted"] = SpanGroup(doc, name="predicted", spans=predicted, attrs={"scores": [0.75, 0.5, 0.25]})
    meta = {"score": 0.83, "strategy": "uncertainty"}
    write_docs([doc], tmp_path / "tasks.json", "labelstudio", scores_key="predicted", meta=[meta])
    (written,) = json.loads((tmp_path / "tasks.json").read_text())
    assert "annotations" not in written and written["data"]["meta"] == meta
    (prediction,) = written["predictions"]
    assert prediction["score"] == 0.83 and prediction["model_version"] == "spacy-bilstm"
    assert [(r["value"]["text"], r["value"]["labels"], r["score"]) for r in prediction["result"]] == [
        ("Ann", ["PER"], 0.5), ("Paris", ["LOC"], 0.75)]


def test_cli_converts_the_sample_and_infers_label_studio_from_a_json_output(tmp_path):
    result = CliRunner().invoke(app, ["convert", str(SAMPLE), str(tmp_path / "tasks.json")])
    assert result.exit_code == 0, result.output
    assert "labelstudio" in result.stdout and "cancelled annotations: 1" in result.stdout
    assert len(json.loads((tmp_path / "tasks.json").read_text())) == 3


def test_a_json_list_that_is_not_a_label_studio_export_is_not_read_as_one(tmp_path):
    path = write(tmp_path, "list.json", '[{"text": "Ann"}]\n')
    assert_clear_error(path, 1, "a JSON list but not a Label Studio export")

