"""Entity confidence (issue 7, items 4-5): calibration error, reliability table, threshold
sweeps, temperature scaling, and the `evaluate --calibration/--thresholds` and `calibrate`
commands on a tiny trained model."""
import json
import math
import subprocess
import sys

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span, SpanGroup
from spacy.training import Example
from typer.testing import CliRunner

from spacy_bilstm.calibration import (
    binary_nll,
    calibrate,
    collect_scored_entities,
    evaluate_confidence,
    expected_calibration_error,
    golden_section_minimize,
    reliability_table,
    threshold_range,
    threshold_table,
)
from spacy_bilstm.cli import app
from spacy_bilstm.evaluation import EvaluationError, evaluate

from ..helpers import REPO, SHARED

runner = CliRunner()

# The training texts with some gold labels changed, so that the model is wrong about
# "Shaka Khan" and "Cupertino" and right about the rest: correctness varies.
DEV_DATA = [
    ("Who is Shaka Khan?", [(7, 17, "ORG")]),
    ("I like London and Berlin.", [(7, 13, "LOC"), (18, 24, "LOC")]),
    ("Apple hired Tim Cook in Cupertino.", [(0, 5, "ORG"), (12, 20, "PER"), (24, 33, "ORG")]),
    ("The United Nations met in Geneva on Monday.", [(0, 18, "ORG"), (26, 32, "LOC")]),
    ("Angela Merkel spoke to reporters.", [(0, 13, "PER")]),
    ("Nothing to see here.", []),
]
# High enough that the overfitted model's scores spread over the bins.
SOFT_TEMPERATURE = 4.0


def brute_force_ece(scores, correct, n_bins):
    total = 0.0
    for k in range(n_bins):
        members = [i for i, s in enumerate(scores) if (k / n_bins <= s < (k + 1) / n_bins) or (k == n_bins - 1 and s == 1.0)]
        if members:
            confidence = sum(scores[i] for i in members) / len(members)
            accuracy = sum(correct[i] for i in members) / len(members)
            total += len(members) / len(scores) * abs(accuracy - confidence)
    return total


def docbin_of(nlp, data, path):
    docs = []
    for text, entities in data:
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(start, end, label=label) for start, end, label in entities]
        docs.append(doc)
    DocBin(docs=docs).to_disk(path)
    return path


@pytest.fixture(scope="module")
def model_dirs(overfitted_nlp, tmp_path_factory):
    """The overfitted pipeline saved as is (sharp scores) and with a high temperature (soft scores)."""
    root = tmp_path_factory.mktemp("calibration-models")
    ner = overfitted_nlp.get_pipe("bilstm_ner")
    overfitted_nlp.to_disk(root / "sharp")
    try:
        ner.cfg["temperature"] = SOFT_TEMPERATURE
        overfitted_nlp.to_disk(root / "soft")
    finally:
        ner.cfg["temperature"] = 1.0
    return {"sharp": root / "sharp", "soft": root / "soft"}


@pytest.fixture(scope="module")
def dev_path(tmp_path_factory):
    return docbin_of(spacy.blank("en"), DEV_DATA, tmp_path_factory.mktemp("calibration-data") / "dev.spacy")


def predicted_scores(model_dir, data):
    """(score, correct) of every entity of the span group, computed here without the module."""
    nlp = spacy.load(model_dir)
    pairs = []
    for text, entities in data:
        doc = nlp(text)
        gold = set(entities)
        group = doc.spans["bilstm_ner"]
        for span, score in zip(group, group.attrs["scores"]):
            pairs.append((score, (span.start_char, span.end_char, span.label_) in gold))
    return pairs


# --------------------------------------------------------------------------- the maths


def test_perfectly_calibrated_scores_have_zero_ece():
    scores = [0.25] * 4 + [0.75] * 4 + [1.0] * 3
    correct = [True, False, False, False] + [True, True, True, False] + [True] * 3
    assert expected_calibration_error(scores, correct, n_bins=4) == pytest.approx(0.0, abs=1e-12)


def test_ece_of_a_tiny_case_is_the_count_weighted_gap():
    # bin [0.9, 1.0]: 2 entities, mean score 0.9, 1 right (gap 0.4); bin [0.2, 0.3): 1 wrong entity, gap 0.2.
    scores, correct = [0.9, 0.9, 0.2], [True, False, False]
    assert expected_calibration_error(scores, correct, n_bins=10) == pytest.approx((2 * 0.4 + 1 * 0.2) / 3)
    assert expected_calibration_error(scores, correct, n_bins=1) == pytest.approx(abs(1 / 3 - 2.0 / 3))


def test_ece_agrees_with_a_brute_force_definition_on_many_scores():
    scores = [(i * 37 % 101) / 100 for i in range(200)]
    correct = [(i * 13) % 7 < 4 for i in range(200)]
    for n_bins in (1, 3, 10, 15):
        assert expected_calibration_error(scores, correct, n_bins) == pytest.approx(
            brute_force_ece(scores, correct, n_bins)
        )


def test_reliability_bins_hold_each_score_once_with_edges_on_the_left():
    table = reliability_table([0.0, 0.1, 0.15, 0.5, 0.99, 1.0], [False, True, False, True, True, False], n_bins=10)
    assert [b.count for b in table] == [1, 2, 0, 0, 0, 1, 0, 0, 0, 2]
    assert (table[1].mean_score, table[1].accuracy) == (pytest.approx(0.125), 0.5)
    assert (table[9].mean_score, table[9].accuracy) == (pytest.approx(0.995), 0.5)
    assert table[2].mean_score is None and table[2].accuracy is None
    assert [(b.lower, b.upper) for b in table][0] == (0.0, 0.1) and table[-1].upper == 1.0


def test_the_maths_refuses_what_it_cannot_judge():
    with pytest.raises(ValueError, match="undefined"):
        expected_calibration_error([], [])
    with pytest.raises(ValueError, match="pair up"):
        expected_calibration_error([0.5, 0.5], [True])
    with pytest.raises(ValueError, match="between 0 and 1"):
        reliability_table([1.5], [True])
    with pytest.raises(ValueError, match="bins"):
        reliability_table([0.5], [True], n_bins=0)
    with pytest.raises(ValueError, match="step"):
        threshold_range(0.0, 0.9, 0.0)


def test_threshold_range_is_inclusive_and_clean():
    assert threshold_range(0.0, 0.95, 0.05) == [round(0.05 * i, 2) for i in range(20)]
    assert threshold_range(0.3, 0.3, 0.1) == [0.3]


def test_threshold_table_keeps_scores_at_or_above_t_and_recall_never_rises():
    scores = [0.95, 0.9, 0.8, 0.6, 0.3, 0.1]
    correct = [True, True, False, True, False, True]
    rows = threshold_table(scores, correct, n_gold=5, thresholds=threshold_range(0.0, 1.0, 0.05))
    recalls = [row.recall for row in rows]
    assert recalls == sorted(recalls, reverse=True)
    assert [row.predicted for row in rows] == sorted((row.predicted for row in rows), reverse=True)
    at_08 = next(row for row in rows if row.threshold == 0.8)
    assert (at_08.predicted, at_08.correct) == (3, 2)  # 0.8 itself is kept
    assert (at_08.precision, at_08.recall) == (pytest.approx(2 / 3), pytest.approx(2 / 5))
    assert at_08.f_score == pytest.approx(2 * (2 / 3) * (2 / 5) / (2 / 3 + 2 / 5))
    assert (rows[-1].predicted, rows[-1].precision, rows[-1].recall, rows[-1].f_score) == (0, 0.0, 0.0, 0.0)


def test_binary_nll_and_golden_section_search():
    assert binary_nll([0.8, 0.25], [True, False]) == pytest.approx(-(math.log(0.8) + math.log(0.75)) / 2)
    assert math.isfinite(binary_nll([1.0, 0.0], [False, True]))
    best, value, evaluated = golden_section_minimize(lambda x: (x - 0.3) ** 2 + 1, -2.0, 3.0, 1e-4)
    assert best == pytest.approx(0.3, abs=1e-4) and value == pytest.approx(1.0)
    assert len(evaluated) < 40


# --------------------------------------------------------------------------- scored entities


def test_scored_entities_come_from_the_span_group_and_are_judged_by_span_and_label():
    nlp = spacy.blank("en")
    words = ["Tim", "Cook", "visited", "Paris", "and", "Rome", "."]
    gold = Doc(nlp.vocab, words=words, ents=["B-PER", "I-PER", "O", "B-LOC", "O", "B-LOC", "O"])
    predicted = Doc(nlp.vocab, words=words)
    group = [Span(predicted, 0, 2, "PER"), Span(predicted, 3, 4, "ORG"), Span(predicted, 5, 6, "LOC"),
             Span(predicted, 0, 1, "PER")]
    predicted.spans["ner_scores"] = SpanGroup(predicted, name="ner_scores", spans=group,
                                              attrs={"scores": [0.9, 0.6, 0.2, 0.1]})
    # Below a threshold of 0.5, "Rome" is in the group but not in doc.ents; "." has no score at all.
    predicted.set_ents([group[0], group[1], Span(predicted, 6, 7, "MISC")], default="outside")
    entities = collect_scored_entities([Example(predicted, gold)], ["ner_scores"])
    assert sorted(zip(entities.scores, entities.correct)) == [(0.1, False), (0.2, True), (0.6, False), (0.9, True)]
    assert entities.n_gold == 3
    assert entities.n_unscored == 1 and "no score" in entities.notes()[0]


def test_predictions_over_unannotated_gold_tokens_are_left_out_and_reported():
    nlp = spacy.blank("en")
    unannotated = Doc(nlp.vocab, words=["Tim", "Cook", "left"])  # no entity annotation at all
    predicted = Doc(nlp.vocab, words=["Tim", "Cook", "left"])
    predicted.spans["k"] = SpanGroup(predicted, name="k", spans=[Span(predicted, 0, 2, "PER")], attrs={"scores": [0.7]})
    entities = collect_scored_entities([Example(predicted, unannotated)], ["k"])
    assert entities.scores == [] and entities.n_unannotated == 1
    assert "missing" in entities.notes()[0]


# --------------------------------------------------------------------------- evaluate --calibration / --thresholds


def test_evaluate_calibration_reports_ece_reliability_table_diagram_and_json(model_dirs, dev_path, tmp_path):
    metrics, diagram = tmp_path / "metrics.json", tmp_path / "reliability.png"
    result = runner.invoke(app, ["evaluate", str(model_dirs["soft"]), str(dev_path), "--calibration",
                                 "--calibration-plot", str(diagram), "--bins", "5", "--output", str(metrics)])
    assert result.exit_code == 0, result.output
    assert "ECE" in result.output and "mean score" in result.output and "accuracy" in result.output
    assert diagram.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pairs = predicted_scores(model_dirs["soft"], DEV_DATA)
    scores, correct = [s for s, _ in pairs], [c for _, c in pairs]
    assert 0 < sum(correct) < len(correct), "the test needs right and wrong entities"
    written = json.loads(metrics.read_text())
    assert written["ece"] == pytest.approx(brute_force_ece(scores, correct, 5), abs=1e-6)
    assert written["ece"] > 0.0
    assert written["calibration"]["entities"] == len(pairs)
    assert [b["count"] for b in written["calibration"]["reliability"]] == [
        sum(1 for s in scores if k / 5 <= s < (k + 1) / 5 or (k == 4 and s == 1.0)) for k in range(5)
    ]
    assert written["ents_f"] == pytest.approx(evaluate(model_dirs["soft"], dev_path).f_score)


def test_threshold_table_matches_the_scores_of_doc_ents_at_each_threshold(model_dirs, dev_path, tmp_path):
    metrics = tmp_path / "metrics.json"
    result = runner.invoke(app, ["evaluate", str(model_dirs["soft"]), str(dev_path), "--thresholds",
                                 "--threshold-min", "0.1", "--threshold-max", "0.9", "--threshold-step", "0.1",
                                 "--output", str(metrics)])
    assert result.exit_code == 0, result.output
    assert "threshold" in result.output
    rows = json.loads(metrics.read_text())["thresholds"]
    assert [row["threshold"] for row in rows] == threshold_range(0.1, 0.9, 0.1)
    recalls = [row["r"] for row in rows]
    assert recalls == sorted(recalls, reverse=True) and recalls[0] > recalls[-1]
    nlp = spacy.load(model_dirs["soft"])
    for row in rows[::2]:
        # The same threshold set in the component: spaCy's scorer on doc.ents must agree.
        nlp.get_pipe("bilstm_ner").cfg["threshold"] = row["threshold"]
        scored = evaluate(nlp, dev_path)
        assert (scored.precision, scored.recall) == (pytest.approx(row["p"]), pytest.approx(row["r"]))


def test_a_higher_threshold_never_adds_entities_to_doc_ents(model_dirs):
    nlp = spacy.load(model_dirs["soft"])
    ner = nlp.get_pipe("bilstm_ner")
    texts = [text for text, _ in DEV_DATA] + ["Tim Cook met Angela Merkel in Geneva and Berlin."]
    previous = None
    for threshold in threshold_range(0.0, 1.0, 0.05):
        ner.cfg["threshold"] = threshold
        current = [{(e.start, e.end, e.label_) for e in doc.ents} for doc in nlp.pipe(texts)]
        if previous is not None:
            assert all(now <= before for now, before in zip(current, previous)), threshold
        previous = current
    assert sum(map(len, previous)) < sum(len(doc.ents) for doc in spacy.load(model_dirs["soft"]).pipe(texts))


def test_confidence_options_need_a_component_with_scored_spans(tmp_path, dev_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "LOC", "pattern": "London"}])
    nlp.to_disk(tmp_path / "ruler")
    for option in ("--calibration", "--thresholds"):
        result = runner.invoke(app, ["evaluate", str(tmp_path / "ruler"), str(dev_path), option])
        assert result.exit_code == 1
        assert "no component" in result.output and "scored" in result.output
    with pytest.raises(EvaluationError, match="scored"):
        evaluate_confidence(tmp_path / "ruler", dev_path)


def test_bad_threshold_range_or_bins_exit_non_zero(model_dirs, dev_path):
    result = runner.invoke(app, ["evaluate", str(model_dirs["soft"]), str(dev_path), "--thresholds",
                                 "--threshold-step", "0"])
    assert result.exit_code == 1 and "step" in result.output
    result = runner.invoke(app, ["evaluate", str(model_dirs["soft"]), str(dev_path), "--calibration", "--bins", "0"])
    assert result.exit_code == 1 and "--bins" in result.output


# --------------------------------------------------------------------------- calibrate


def test_calibrate_fits_a_temperature_saves_it_and_keeps_the_entities(model_dirs, dev_path, tmp_path):
    output, diagram = tmp_path / "calibrated", tmp_path / "dev.png"
    result = runner.invoke(app, ["calibrate", str(model_dirs["sharp"]), str(dev_path), "--output", str(output),
                                 "--calibration-plot", str(diagram)])
    assert result.exit_code == 0, result.output
    assert "ECE" in result.output and "->" in result.output
    assert diagram.read_bytes()[:4] == b"\x89PNG"
    original, calibrated = spacy.load(model_dirs["sharp"]), spacy.load(output)
    temperature = calibrated.get_pipe("bilstm_ner").cfg["temperature"]
    assert 0.25 <= temperature <= 10.0 and temperature != 1.0
    # Two of eight predictions are wrong but scored near 1: softer scores fit better.
    assert temperature > 1.0
    texts = [text for text, _ in DEV_DATA]
    for before, after in zip(original.pipe(texts), calibrated.pipe(texts)):
        assert [(e.start, e.end, e.label_) for e in before.ents] == [(e.start, e.end, e.label_) for e in after.ents]
    # The fitted T is (within the search tolerance) the best of a grid of temperatures.
    nlp = spacy.load(model_dirs["sharp"])
    docs = [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in DEV_DATA]

    def nll_at(t):
        nlp.get_pipe("bilstm_ner").cfg["temperature"] = t
        predicted = list(nlp.pipe([eg.predicted.copy() for eg in docs]))
        scored = collect_scored_entities([Example(p, eg.reference) for p, eg in zip(predicted, docs)], ["bilstm_ner"])
        return binary_nll(scored.scores, scored.correct)

    fitted = nll_at(temperature)
    assert fitted < nll_at(1.0)
    assert all(fitted <= nll_at(t) + 1e-6 for t in (0.5, 2.0, 4.0, 8.0, 10.0))


def test_calibrate_function_reports_before_and_after(model_dirs, dev_path, tmp_path):
    fit = calibrate(model_dirs["sharp"], dev_path, tmp_path / "out", n_bins=5)
    assert fit.temperature_before == 1.0 and fit.nll_after <= fit.nll_before
    assert fit.n_entities == len(predicted_scores(model_dirs["sharp"], DEV_DATA))
    assert fit.evaluations[0] == (1.0, pytest.approx(fit.nll_before))
    assert spacy.load(tmp_path / "out").get_pipe("bilstm_ner").temperature == pytest.approx(fit.temperature)


def test_calibrate_refuses_dev_data_without_entities(model_dirs, tmp_path):
    empty = docbin_of(spacy.blank("en"), [("Nothing to see here.", [])], tmp_path / "empty.spacy")
    result = runner.invoke(app, ["calibrate", str(model_dirs["sharp"]), str(empty), "--output", str(tmp_path / "o")])
    assert result.exit_code == 1 and "no gold entities" in result.output
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- benchmark


@pytest.mark.slow
def test_calibration_benchmark_smoke(model_dirs, tmp_path):
    if not (SHARED / "corpora" / "conll2003").is_dir():
        pytest.skip(f"the shared data folder {SHARED} (corpora/conll2003) is absent")
    command = [sys.executable, "-m", "benchmarks.calibration", "--smoke", "--shared", str(SHARED),
               "--work", str(tmp_path), "--model", str(model_dirs["sharp"])]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    results = tmp_path / "smoke" / "results"
    written = json.loads((results / "calibration.json").read_text())
    assert written["smoke"] and written["data"]["test"]["sentences"] == 300
    for stage in ("test_before", "test_after"):
        assert 0.0 <= written[stage]["ece"] <= 1.0
        assert sum(b["count"] for b in written[stage]["reliability"]) == written[stage]["entities"]
    assert written["test_before"]["ents_f"] == written["test_after"]["ents_f"]
    assert written["dev_fit"]["nll_after"] <= written["dev_fit"]["nll_before"]
    assert (results / "calibration_reliability.png").read_bytes()[:4] == b"\x89PNG"
