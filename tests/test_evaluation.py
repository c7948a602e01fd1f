"""`spacy-bilstm evaluate`: spaCy's NER scores for any pipeline that sets doc.ents, checked
against seqeval on the predictions file it writes."""
import json
from pathlib import Path

import pytest
import spacy
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from spacy.tokens import Doc
from spacy.training import Example
from typer.testing import CliRunner

from spacy_bilstm.cli import app
from spacy_bilstm.corpora import convert
from spacy_bilstm.evaluation import EvaluationError, EvaluationResult, evaluate, write_predictions
from spacy_bilstm.training import train

from .helpers import SAMPLE_DEV, SAMPLE_TRAIN, save_ruler_pipeline

TRAIN, DEV = SAMPLE_TRAIN, SAMPLE_DEV
DEV_TOKENS, DEV_ENTITIES = 1037, 110

runner = CliRunner()

# Right and wrong on purpose: a few dev entities with their true label, some with a wrong one,
# some partial, so precision, recall and F are all strictly between 0 and 1.
RULER_PATTERNS = [
    {"label": "ORG", "pattern": [{"ORTH": "Siemens"}, {"ORTH": "Energy"}]},
    {"label": "ORG", "pattern": "Siemens"},
    {"label": "LOC", "pattern": "Germany"},
    {"label": "LOC", "pattern": "London"},
    {"label": "PER", "pattern": "London"},
    {"label": "ORG", "pattern": "Thursday"},
    {"label": "MISC", "pattern": "German"},
    {"label": "MISC", "pattern": "European"},
    {"label": "PER", "pattern": "Paris"},
]


@pytest.fixture(scope="module")
def dev_ruler_model(tmp_path_factory):
    return save_ruler_pipeline(tmp_path_factory.mktemp("dev-ruler") / "model", RULER_PATTERNS)


@pytest.fixture(scope="module")
def bilstm_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("bilstm")
    train("bilstm_crf", out, train_path=TRAIN, dev_path=DEV,
          overrides={"training.max_steps": 4, "training.eval_frequency": 2}, log=lambda _: None)
    return out / "model-last"


def read_predictions(path: Path):
    gold, predicted, sentence_gold, sentence_pred = [], [], [], []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip() or line.startswith("-DOCSTART-"):
            if sentence_gold:
                gold.append(sentence_gold)
                predicted.append(sentence_pred)
            sentence_gold, sentence_pred = [], []
            continue
        token, gold_tag, predicted_tag = line.split(" ")
        sentence_gold.append(gold_tag)
        sentence_pred.append(predicted_tag)
    return gold, predicted


def test_scores_match_seqeval_on_the_written_predictions(dev_ruler_model, tmp_path):
    predictions = tmp_path / "predictions.conll"
    result = evaluate(dev_ruler_model, DEV, predictions=predictions)
    assert 0 < result.precision < 1 and 0 < result.recall < 1
    gold, predicted = read_predictions(predictions)
    assert sum(len(sentence) for sentence in gold) == DEV_TOKENS
    assert round(precision_score(gold, predicted), 2) == round(result.precision, 2)
    assert round(recall_score(gold, predicted), 2) == round(result.recall, 2)
    assert round(f1_score(gold, predicted), 2) == round(result.f_score, 2)
    report = classification_report(gold, predicted, output_dict=True)
    for label, scores in result.per_type.items():
        assert round(report[label]["precision"], 2) == round(scores["p"], 2), label
        assert round(report[label]["recall"], 2) == round(scores["r"], 2), label
        assert report[label]["support"] == result.gold_counts[label]


def test_cli_prints_micro_and_per_type_scores_and_writes_metrics_json(bilstm_model, tmp_path):
    metrics, predictions = tmp_path / "metrics.json", tmp_path / "out.conll"
    result = runner.invoke(app, ["evaluate", str(bilstm_model), str(DEV), "--output", str(metrics), "--predictions", str(predictions)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("micro") for line in lines)
    assert {line.split()[0] for line in lines if line.split()} >= {"LOC", "MISC", "ORG", "PER"}
    assert "words/s" in result.output
    saved = json.loads(metrics.read_text())
    assert saved["words"] == DEV_TOKENS and saved["words_per_second"] > 0
    assert saved["entity_components"] == ["bilstm_ner"]
    assert saved["unreachable_entities"] == {"bilstm_ner": {"reading": "document", "entities": DEV_ENTITIES, "unreachable": 0}}
    assert f"Reach   bilstm_ner reads by document: 0 of {DEV_ENTITIES} gold entities" in result.output
    assert sum(scores["support"] for scores in saved["ents_per_type"].values()) == DEV_ENTITIES
    assert set(saved) >= {"ents_p", "ents_r", "ents_f", "ents_per_type"}
    assert predictions.read_text().startswith("-DOCSTART- O O\n")


def test_gold_entities_that_the_pipelines_reading_cuts_are_counted_as_unreachable(bilstm_model, tmp_path):
    # The sentencizer ends a sentence at "arts.", inside the LAW entity: read by sentence, that
    # entity can never be predicted; read by document, every entity can.
    text = "The court cited arts. 32 and 33 of the law. Then Maria ruled."
    law, person = text.index("arts."), text.index("Maria")
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"text": text, "spans": [
        {"start": law, "end": text.index(" of the law"), "label": "LAW"},
        {"start": person, "end": person + len("Maria"), "label": "PER"},
    ]}) + "\n", encoding="utf-8")
    by_document = evaluate(bilstm_model, gold)
    reading, counts = by_document.reach["bilstm_ner"]
    assert (reading, counts.entities, counts.unreachable) == ("document", 2, 0)
    by_sentence = spacy.load(bilstm_model, config={"components": {"bilstm_ner": {"model": {"reading": "sentence"}}}})
    reading, counts = evaluate(by_sentence, gold).reach["bilstm_ner"]
    assert (reading, counts.entities, counts.unreachable) == ("sentence", 2, 1)


def test_spacys_ner_has_no_reading_to_report(dev_ruler_model):
    assert evaluate(dev_ruler_model, DEV).reach == {}


def test_docbin_and_raw_data_give_the_same_scores(dev_ruler_model, tmp_path):
    convert(DEV, tmp_path / "dev.spacy")
    raw = evaluate(dev_ruler_model, DEV).to_dict()
    docbin = evaluate(dev_ruler_model, tmp_path / "dev.spacy").to_dict()
    for key in ("ents_p", "ents_r", "ents_f", "ents_per_type", "words", "docs"):
        assert raw[key] == docbin[key], key


def test_spacys_own_ner_is_evaluated_with_the_same_command(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("ner")
    from spacy.training import Example

    doc = nlp.make_doc("Angela Merkel visited Paris.")
    nlp.initialize(lambda: [Example.from_dict(doc, {"entities": [(0, 13, "PER"), (22, 27, "LOC")]})])
    nlp.to_disk(tmp_path / "spacy_ner")
    result = evaluate(tmp_path / "spacy_ner", DEV)
    assert result.entity_components == ["ner"]
    assert result.n_words == DEV_TOKENS and sum(result.gold_counts.values()) == DEV_ENTITIES


def test_a_pipeline_that_sets_no_entities_is_refused(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.to_disk(tmp_path / "no_ner")
    with pytest.raises(EvaluationError, match="no component of this pipeline sets doc.ents.*sentencizer"):
        evaluate(tmp_path / "no_ner", DEV)


def test_missing_model_or_data_exits_non_zero_naming_the_path(dev_ruler_model, tmp_path):
    missing = tmp_path / "missing"
    for args in ([str(missing), str(DEV)], [str(dev_ruler_model), str(missing)]):
        result = runner.invoke(app, ["evaluate", *args])
        assert result.exit_code == 1
        assert str(missing) in result.output and "no such" in result.output.lower()


def test_the_table_lines_up_when_a_label_is_longer_than_the_column():
    scores = {"p": 0.5, "r": 0.25, "f": 1 / 3}
    result = EvaluationResult(
        model="m", data="d", precision=0.5, recall=0.25, f_score=1 / 3,
        per_type={"LOC": scores, "FACILITY_NAME_X": scores}, gold_counts={"LOC": 4, "FACILITY_NAME_X": 4},
        predicted_counts={"LOC": 2, "FACILITY_NAME_X": 2}, n_docs=1, n_words=10, seconds=1.0,
        entity_components=["ner"],
    )
    table = result.format_table().splitlines()[4:]  # header, micro, one row per label
    assert [line.split()[0] for line in table[1:]] == ["micro", "FACILITY_NAME_X", "LOC"]
    assert len({len(line) for line in table}) == 1, table
    assert len({line.index(" 50.00") for line in table[1:]}) == 1, table


def test_predictions_write_tokens_as_they_are_and_escape_only_whitespace(tmp_path):
    nlp = spacy.blank("en")
    gold = Doc(nlp.vocab, words=["\\", "a\u00a0b", "c\\sd"], ents=["O", "B-LOC", "O"])
    write_predictions([Example(gold.copy(), gold)], tmp_path / "predictions.conll")
    lines = (tmp_path / "predictions.conll").read_text(encoding="utf-8").splitlines()
    assert lines[2:] == ["\\ O O", "a\\u00a0b B-LOC B-LOC", "c\\sd O O"]
