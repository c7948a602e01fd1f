"""A trained model that grows: add_label on a trained component, training on from a trained
pipeline (sourced, or `train --base`), and rehearsal of what the model knew before."""
import copy

import numpy
import pytest
import spacy
import srsly
from spacy.training import Example
from thinc.api import Adam

from spacy_bilstm import layers
from spacy_bilstm.rehearsal import (
    OUTSIDE_OLD_LABELS_ID, make_rehearse, make_rehearse_v2, open_tag_sets, read_raw_texts, rehearsal_gold,
    rehearsal_targets,
)
from spacy_bilstm.corpora import CorpusError
from spacy_bilstm.errors import ConfigError
from spacy_bilstm.tags import UNKNOWN_TAG_ID, BiluoTags

from .helpers import TRAIN_DATA, make_examples

TINY = {
    "model": {
        "hidden_width": 8,
        "tok2vec": {"width": 16, "rows": [500, 100, 100, 50], "char_filters": 8, "char_embed_width": 8, "char_rows": 64},
    }
}
PRODUCT_DATA = [
    ("She bought an iPhone yesterday.", [(14, 20, "PRODUCT")]),
    ("The iPhone is made by Apple.", [(4, 10, "PRODUCT"), (22, 27, "ORG")]),
    ("Tim Cook showed the iPhone in Cupertino.", [(0, 8, "PER"), (20, 26, "PRODUCT"), (30, 39, "LOC")]),
]
# A tiny model learns a handful of sentences in a few dozen steps at this rate.
LEARN_RATE = 0.01
TEXTS = [text for text, _ in TRAIN_DATA + PRODUCT_DATA]


def trained_nlp(steps: int = 40):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_ner", config=copy.deepcopy(TINY))
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(LEARN_RATE))
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    return nlp


@pytest.fixture(scope="module")
def base_nlp():
    return trained_nlp()


def predictions(nlp):
    docs = [nlp.make_doc(text) for text in TEXTS]
    ner = nlp.get_pipe("bilstm_ner")
    spans = [(ent.start, ent.end, ent.label_) for doc in nlp.pipe(TEXTS) for ent in doc.ents]
    scores = [list(doc.spans[ner.spans_key].attrs["scores"]) for doc in nlp.pipe(TEXTS)]
    return ner.predict(docs), spans, scores


def test_add_label_on_a_trained_component_keeps_every_prediction_bit_for_bit(base_nlp):
    nlp = copy.deepcopy(base_nlp)
    ner = nlp.get_pipe("bilstm_ner")
    before = predictions(nlp)
    assert any(before[0]), "the test needs predicted entities to compare"
    assert ner.add_label("PRODUCT") == 1
    assert ner.add_label("PRODUCT") == 0
    assert ner.labels == ("LOC", "ORG", "PER", "PRODUCT")
    assert ner._tagger.get_dim("nO") == len(BiluoTags(ner.labels))
    assert ner._tagger.attrs["labels"] == list(ner.labels)
    assert predictions(nlp) == before  # floats compared with ==, not approximately


def test_the_new_tags_start_untrained_and_old_weights_keep_their_place(base_nlp):
    nlp = copy.deepcopy(base_nlp)
    module = nlp.get_pipe("bilstm_ner")._tagger.shims[0]._model
    old_weight, old_transitions = module.projection.weight.detach().clone(), module.crf.transition_scores.detach().clone()
    nlp.get_pipe("bilstm_ner").add_label("PRODUCT")
    n_old = old_weight.shape[0]
    assert bool((module.projection.weight[:n_old] == old_weight).all())
    assert bool((module.projection.weight[n_old:] == 0).all()) and bool((module.projection.bias[n_old:] == 0).all())
    assert bool((module.crf.transition_scores[:n_old, :n_old] == old_transitions).all())
    assert bool((module.crf.transition_scores[n_old:] == 0).all())
    # Forbidden transitions come from the tag scheme's masks, for the new tags too.
    tags = BiluoTags(nlp.get_pipe("bilstm_ner").labels)
    assert bool((module.crf.allowed_transitions.numpy() == tags.allowed_transitions).all())


def test_growth_then_training_learns_the_new_label_and_keeps_the_old_ones(base_nlp):
    nlp = copy.deepcopy(base_nlp)
    ner = nlp.get_pipe("bilstm_ner")
    ner.add_label("PRODUCT")
    examples = make_examples(nlp, TRAIN_DATA + PRODUCT_DATA)
    optimizer = nlp.resume_training(sgd=Adam(LEARN_RATE))
    for _ in range(20):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    assert "untrained_labels" not in ner.cfg
    product = nlp("She bought an iPhone yesterday.")
    assert [(ent.text, ent.label_) for ent in product.ents] == [("iPhone", "PRODUCT")]
    old = nlp("Who is Shaka Khan?")
    assert [(ent.text, ent.label_) for ent in old.ents] == [("Shaka Khan", "PER")]


def test_a_grown_component_round_trips_before_and_after_training(base_nlp, tmp_path):
    nlp = copy.deepcopy(base_nlp)
    nlp.get_pipe("bilstm_ner").add_label("PRODUCT")
    before = predictions(nlp)
    nlp.to_disk(tmp_path / "grown")
    assert srsly.read_json(tmp_path / "grown" / "bilstm_ner" / "cfg")["untrained_labels"] == ["PRODUCT"]
    loaded = spacy.load(tmp_path / "grown")
    assert predictions(loaded) == before
    optimizer = loaded.resume_training()
    loaded.update(make_examples(loaded, PRODUCT_DATA), sgd=optimizer)
    after_update = predictions(loaded)
    loaded.to_disk(tmp_path / "trained")
    assert "untrained_labels" not in srsly.read_json(tmp_path / "trained" / "bilstm_ner" / "cfg")
    assert predictions(spacy.load(tmp_path / "trained")) == after_update


def test_a_pipeline_saved_without_the_growth_cfg_key_loads_and_predicts_identically(base_nlp, tmp_path):
    base_nlp.to_disk(tmp_path / "old")
    cfg = srsly.read_json(tmp_path / "old" / "bilstm_ner" / "cfg")
    assert set(cfg) == {"labels", "spans_key", "threshold", "temperature"}
    assert predictions(spacy.load(tmp_path / "old")) == predictions(base_nlp)


def test_untrained_labels_that_are_not_the_last_labels_are_a_load_error(base_nlp, tmp_path):
    base_nlp.to_disk(tmp_path / "model")
    cfg_path = tmp_path / "model" / "bilstm_ner" / "cfg"
    srsly.write_json(cfg_path, {**srsly.read_json(cfg_path), "untrained_labels": ["LOC"]})
    with pytest.raises(ValueError, match="untrained_labels.*must list the last labels"):
        spacy.load(tmp_path / "model")


def test_a_resumed_component_grows_for_labels_only_the_new_data_has():
    nlp = trained_nlp(steps=5)
    ner = nlp.get_pipe("bilstm_ner")
    optimizer = nlp.resume_training()
    # Steps on the old labels first: the optimizer then holds state of the old sizes.
    for _ in range(3):
        nlp.update(make_examples(nlp), sgd=optimizer)
    losses = nlp.update(make_examples(nlp, PRODUCT_DATA), sgd=optimizer)
    assert ner.labels == ("LOC", "ORG", "PER", "PRODUCT")
    nlp.update(make_examples(nlp, PRODUCT_DATA), sgd=optimizer)
    assert numpy.isfinite(losses["bilstm_ner"])


def test_a_component_not_resumed_still_refuses_an_unknown_label(base_nlp):
    nlp = copy.deepcopy(base_nlp)
    with pytest.raises(ValueError, match="add_label"):
        nlp.update(make_examples(nlp, PRODUCT_DATA))


def test_rehearsal_gold_holds_only_the_frozen_models_confident_entities():
    tags = BiluoTags(["PER", "LOC", "PRODUCT"])
    entities = [[(0, 2, "PER", 0.9), (3, 4, "LOC", 0.3), (5, 6, "LOC", 0.5)]]
    [target] = rehearsal_targets(entities, None, ["PER", "LOC"], min_probability=0.5)
    gold = rehearsal_gold(tags, 7, target)
    expected = [tags.ids["B-PER"], tags.ids["L-PER"], UNKNOWN_TAG_ID, UNKNOWN_TAG_ID, UNKNOWN_TAG_ID,
                tags.ids["U-LOC"], UNKNOWN_TAG_ID]
    assert gold.tolist() == expected


def test_where_the_frozen_model_is_sure_of_o_the_gold_is_none_of_its_labels_not_o():
    tags = BiluoTags(["PER", "LOC", "PRODUCT"])
    outside_probabilities = [numpy.array([0.05, 0.1, 0.9, 0.5, 0.49, 0.0, 0.99])]
    [target] = rehearsal_targets([[(0, 2, "PER", 0.9)]], outside_probabilities, ["PER", "LOC"], 0.5)
    gold = rehearsal_gold(tags, 7, target)
    assert gold.tolist() == [tags.ids["B-PER"], tags.ids["L-PER"], OUTSIDE_OLD_LABELS_ID, OUTSIDE_OLD_LABELS_ID,
                             UNKNOWN_TAG_ID, UNKNOWN_TAG_ID, OUTSIDE_OLD_LABELS_ID]
    every_tag, none_of_the_old = open_tag_sets(tags, target.labels)
    assert every_tag.all()
    assert [name for name, is_open in zip(tags.names, none_of_the_old) if is_open] == [
        "O", "B-PRODUCT", "I-PRODUCT", "L-PRODUCT", "U-PRODUCT"]


def test_rehearsal_never_trains_a_new_types_entity_as_outside(base_nlp):
    """The frozen model knows no PRODUCT: whatever it tags on "iPhone", the rehearsal gold
    there is unknown or "none of the old labels", never O, so rehearsing cannot unlearn the new label."""
    nlp = copy.deepcopy(base_nlp)
    nlp.resume_training()
    ner = nlp.get_pipe("bilstm_ner")
    ner.add_label("PRODUCT")
    doc = nlp.make_doc("She bought an iPhone yesterday.")
    [target] = ner.rehearsal_targets([doc])
    gold = rehearsal_gold(ner._tags, len(doc), target)
    assert target.labels == base_nlp.get_pipe("bilstm_ner").labels
    assert not any(tag == ner._tags.ids["O"] for tag in gold)
    assert gold[3] < 0 and set(gold.tolist()) & {UNKNOWN_TAG_ID, OUTSIDE_OLD_LABELS_ID}
    entities = base_nlp.get_pipe("bilstm_ner").predict([doc])[0]
    confident = {i for start, end, _, p in entities if p >= 0.5 for i in range(start, end)}
    assert {i for i, tag in enumerate(gold) if tag >= 0} == confident


def test_the_outside_probabilities_are_the_frozen_models_marginals_of_o(base_nlp):
    """Each token's probabilities of every tag, from the same lattice, sum to one."""
    ner = base_nlp.get_pipe("bilstm_ner")
    docs = [base_nlp.make_doc(text) for text in TEXTS[:3]] + [base_nlp.make_doc("")]
    _, _, output = ner._predict(ner.model, ner._tags, docs)
    per_tag = [layers.token_tag_probabilities(output, tag, [len(d) for d in docs]) for tag in range(len(ner._tags))]
    for index, doc in enumerate(docs):
        total = sum(probabilities[index] for probabilities in per_tag)
        assert total.shape == (len(doc),) and numpy.allclose(total, 1.0, atol=1e-5)


def test_rehearse_needs_the_frozen_copy_and_then_learns_towards_it(base_nlp):
    nlp = copy.deepcopy(base_nlp)
    ner = nlp.get_pipe("bilstm_ner")
    raw = [Example.from_dict(nlp.make_doc(text), {}) for text in TEXTS]
    assert nlp.rehearse(raw) == {"bilstm_ner": 0.0}  # not resumed: nothing to rehearse
    optimizer = nlp.resume_training()
    assert ner._rehearsal_model is not None and ner._rehearsal_model is not ner.model
    ner.add_label("PRODUCT")
    before = ner._tagger.shims[0]._model.projection.weight.detach().clone()
    losses = ner.rehearse(raw, sgd=optimizer)
    assert losses["bilstm_ner"] > 0
    assert not bool((ner._tagger.shims[0]._model.projection.weight == before).all())
    # The frozen copy is not part of what is saved.
    assert set(ner.to_bytes(exclude=["vocab"])) == set(copy.deepcopy(base_nlp).get_pipe("bilstm_ner").to_bytes(exclude=["vocab"]))


def test_rehearse_callback_rehearses_a_batch_of_raw_text_before_updates(base_nlp, tmp_path):
    raw_text = tmp_path / "raw.jsonl"
    raw_text.write_text("".join(srsly.json_dumps({"text": text}) + "\n" for text in TEXTS), encoding="utf-8")
    callback = make_rehearse(str(raw_text), batch_size=2, every_n_steps=2)
    nlp = copy.deepcopy(base_nlp)
    with pytest.raises(ConfigError, match="not resumed from a trained pipeline"):
        callback(nlp, {"step": 0, "epoch": 0})
    nlp.resume_training()
    module = nlp.get_pipe("bilstm_ner")._tagger.shims[0]._model
    callback(nlp, {"step": 1, "epoch": 0})
    assert module.projection.weight.grad is None  # not a rehearsal step
    callback(nlp, {"step": 2, "epoch": 0})
    assert module.projection.weight.grad is not None and bool(module.projection.weight.grad.abs().sum() > 0)


@pytest.mark.parametrize("make_callback,rehearses_outside", [(make_rehearse, False), (make_rehearse_v2, True)])
def test_rehearse_computes_each_texts_target_once_and_keeps_it(base_nlp, tmp_path, monkeypatch, make_callback,
                                                               rehearses_outside):
    """v1 keeps its target (the confident entities only); v2 adds where the copy is sure of O."""
    raw_text = tmp_path / "raw.txt"
    raw_text.write_text("\n".join(TEXTS[:3]) + "\n", encoding="utf-8")
    callback = make_callback(str(raw_text), batch_size=2)
    nlp = copy.deepcopy(base_nlp)
    nlp.resume_training()
    ner = nlp.get_pipe("bilstm_ner")
    computed, rehearsed = [], []
    original_targets, original_rehearse = ner.rehearsal_targets, ner.rehearse_targets
    monkeypatch.setattr(ner, "rehearsal_targets", lambda docs, **kw: computed.append([d.text for d in docs])
                        or original_targets(docs, **kw))
    monkeypatch.setattr(ner, "rehearse_targets", lambda docs, targets, **kw: rehearsed.append(targets)
                        or original_rehearse(docs, targets, **kw))
    for step in range(3):  # texts 0 1, 2 0, 1 2
        callback(nlp, {"step": step, "epoch": 0})
    assert computed == [TEXTS[:2], TEXTS[2:3]]
    assert rehearsed[1][1] is rehearsed[0][0] and rehearsed[2][0] is rehearsed[0][1]
    assert all((target.outside is not None) == rehearses_outside for targets in rehearsed for target in targets)


def test_a_target_kept_from_before_a_label_was_added_trains_the_grown_model(base_nlp):
    nlp = copy.deepcopy(base_nlp)
    nlp.resume_training()
    ner = nlp.get_pipe("bilstm_ner")
    docs = [nlp.make_doc(text) for text in TEXTS[:3]]
    targets = ner.rehearsal_targets(docs)
    ner.add_label("PRODUCT")
    gold = [rehearsal_gold(ner._tags, len(doc), target) for doc, target in zip(docs, targets)]
    assert max(int(g.max()) for g in gold) < len(ner._tags)
    losses = ner.rehearse_targets(docs, targets)
    assert numpy.isfinite(losses["bilstm_ner"]) and losses["bilstm_ner"] > 0


def test_raw_text_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "raw.jsonl"
    bad.write_text('{"text": "fine"}\n{"title": "no text"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"raw.jsonl, line 2: The line has no \"text\" string"):
        read_raw_texts(bad)
    lines = tmp_path / "raw.txt"
    lines.write_text("one text\n\nanother text\n", encoding="utf-8")
    assert read_raw_texts(lines) == ["one text", "another text"]
