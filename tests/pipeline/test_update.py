"""Training bilstm_ner: what each update learns, its loss, the gradients it passes on."""
import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Config

from ..helpers import TRAIN_DATA, entity_tuples, make_examples


def test_unknown_gold_tags_are_not_trained_as_outside():
    """Tokens without an annotation (spaCy's missing value) must not be learned as O: a model
    trained on partially annotated text keeps finding the entity in the unannotated part."""
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_ner")
    full = make_examples(nlp, [("I like London and Berlin.", [(7, 13, "LOC"), (18, 24, "LOC")])])
    words = ["Berlin", "is", "big", "."]
    partial_doc = Doc(nlp.vocab, words=words, ents=[None, "O", "O", "O"])  # "Berlin" unannotated
    assert partial_doc[0].ent_iob_ == ""
    partial = [Example(nlp.make_doc("Berlin is big ."), partial_doc)]
    assert partial[0].get_aligned_ner()[0] is None
    optimizer = nlp.initialize(lambda: full)
    for _ in range(60):
        nlp.update(full + partial * 3, sgd=optimizer, drop=0.0)
    assert ("Berlin", "LOC") in [(e.text, e.label_) for e in nlp("Berlin is big .").ents]


@pytest.mark.parametrize("overrides", [{"output": "softmax"}, {"bidirectional": False}, {"depth": 2}])
def test_model_variants_learn_the_training_data(overrides):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    config = Config().from_str(
        """
        [model]
        @architectures = "spacy-bilstm.BiLSTMCRF.v1"
        hidden_width = 32

        [model.tok2vec]
        @architectures = "spacy-bilstm.WordCharEmbed.v1"
        width = 32
        """
    )
    config["model"].update(overrides)
    nlp.add_pipe("bilstm_ner", config=config)
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(120):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    for text, gold in TRAIN_DATA:
        doc = nlp(text)
        assert entity_tuples(doc) == gold
        assert all(0.0 <= s <= 1.0 for s in doc.spans["bilstm_ner"].attrs["scores"])


def test_scores_that_are_no_longer_finite_are_reported_as_divergence_not_bad_data():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner")
    nlp.initialize(lambda: make_examples(nlp))
    examples = make_examples(nlp, TRAIN_DATA[:2])
    output = ner.model.predict([eg.predicted for eg in examples])
    output.emissions = [numpy.array(scores, copy=True) for scores in output.emissions]
    output.emissions[1][0, 0] = numpy.nan
    with pytest.raises(FloatingPointError, match="learn_rate"):
        ner.get_loss(examples, output)


def test_listener_passes_gradients_to_the_shared_tok2vec():
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    nlp.add_pipe(
        "bilstm_ner",
        config={"model": {"tok2vec": {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "*"}}},
    )
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    tok2vec = nlp.get_pipe("tok2vec")
    assert tok2vec.listening_components == ["bilstm_ner"]

    def tok2vec_params():
        return {
            (node.id, name): node.get_param(name).copy()
            for node in tok2vec.model.walk()
            for name in node.param_names
            if node.has_param(name)
        }

    before = tok2vec_params()
    for _ in range(3):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    after = tok2vec_params()
    changed = [key for key in before if not numpy.allclose(before[key], after[key])]
    assert len(changed) == len(before) > 0


def test_get_loss_changes_nothing_so_a_diagnostic_call_leaves_the_next_update_as_it_was():
    def trained_weights(call_get_loss_first):
        spacy.util.fix_random_seed(0)
        nlp = spacy.blank("en")
        ner = nlp.add_pipe("bilstm_ner")
        examples = make_examples(nlp)
        optimizer = nlp.initialize(lambda: examples)
        if call_get_loss_first:
            output = ner.model.predict([eg.predicted for eg in examples])
            loss, gradient = ner.get_loss(examples, output)
            assert loss > 0 and gradient.d_transitions is not None
        nlp.update(examples, sgd=optimizer, drop=0.0)
        return ner.model.to_bytes()

    assert trained_weights(call_get_loss_first=True) == trained_weights(call_get_loss_first=False)


def test_get_loss_of_a_generator_of_examples_is_the_loss_of_their_list():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner", config={"model": {"hidden_width": 8}})
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    output = ner.model.predict([eg.predicted for eg in examples])
    loss_of_list, _ = ner.get_loss(examples, output)
    loss_of_generator, _ = ner.get_loss((eg for eg in examples), output)
    assert loss_of_generator == loss_of_list > 0


def test_the_crfs_own_scores_learn_through_the_models_backprop():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_ner")
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    crf = ner.model.get_ref("tagger").shims[0]._model.crf
    before = crf.transition_scores.detach().clone()
    nlp.update(examples, sgd=optimizer, drop=0.0)
    assert not numpy.array_equal(before.numpy(), crf.transition_scores.detach().numpy())
