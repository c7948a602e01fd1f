"""What the LSTM reads: sentences, whole documents, windows (BiLSTMCRF.v3's reading)."""
import re

import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example

from ..helpers import TRAIN_DATA, entity_tuples, make_examples


def test_each_sentence_is_read_on_its_own(overfitted_nlp):
    """With sentence boundaries (a sentencizer upstream), a doc gets exactly the entities its
    sentences get one by one: the LSTM reads each sentence as a unit."""
    texts = ["Apple hired Tim Cook in Cupertino.", "I like London and Berlin.", "Who is Shaka Khan?"]
    nlp = overfitted_nlp
    alone = [entity_tuples(nlp(text)) for text in texts]
    joined = nlp.make_doc(" ".join(texts))
    for token in joined:
        token.is_sent_start = token.i == 0 or token.nbor(-1).text in {".", "?"}
    doc = nlp.get_pipe("bilstm_ner")(joined)
    offsets = [0, len(texts[0]) + 1, len(texts[0]) + len(texts[1]) + 2]
    expected = [(s + o, e + o, label) for ents, o in zip(alone, offsets) for s, e, label in ents]
    assert entity_tuples(doc) == expected


def test_a_gold_entity_across_a_sentence_boundary_is_marginalised_not_an_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_ner")
    words = ["I", "met", "Dr.", "Smith", "today", "."]
    predicted = Doc(nlp.vocab, words=words, sent_starts=[True, False, False, True, False, False])
    reference = Doc(nlp.vocab, words=words, ents=["O", "O", "B-PER", "I-PER", "O", "O"])
    example = Example(predicted, reference)
    optimizer = nlp.initialize(lambda: [example])
    losses = nlp.update([example], sgd=optimizer)
    assert numpy.isfinite(losses["bilstm_ner"])


def test_cut_to_segment_unknowns_only_the_crossing_entity():
    from spacy_bilstm.tags import BiluoTags

    tags = BiluoTags(["PER"])
    ids = tags.ids_from_biluo(["O", "B-PER", "I-PER", "L-PER", "U-PER", "O"])
    assert tags.cut_to_segment(ids, 0, 3).tolist() == [0, -1, -1]
    assert tags.cut_to_segment(ids, 3, 6).tolist() == [-1, tags.ids["U-PER"], 0]
    assert tags.cut_to_segment(ids, 0, 6).tolist() == ids.tolist()


# --- reading whole documents (BiLSTMCRF.v3) ----------------------------------------------------

CUT_BY_THE_SENTENCIZER = [
    ("The court cited arts. 32 and 33 of the law. Then it ruled.", [(16, 31, "LAW")]),
    ("See arts. 12 and 14 first. The case ended.", [(4, 19, "LAW")]),
    ("Maria read arts. 5 and 6 today. She left.", [(11, 24, "LAW"), (0, 5, "PER")]),
]


def _v3_model(**settings):
    from spacy_bilstm.pipeline import DEFAULT_MODEL

    return {**DEFAULT_MODEL, "@architectures": "spacy-bilstm.BiLSTMCRF.v3", **settings}


def _reading_pipeline(reading, window=None, context="sentence"):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("bilstm_ner", config={"model": _v3_model(reading=reading, window=window, context=context)})
    return nlp


def _train(nlp, data, steps=60):
    # The sentencizer's boundaries on the predicted docs, as annotating_components gives them.
    sentencizer = nlp.get_pipe("sentencizer")
    examples = [Example.from_dict(sentencizer(nlp.make_doc(text)), {"entities": ents}) for text, ents in data]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    return nlp


def test_document_reading_learns_entities_that_the_sentencizer_cuts_in_two():
    nlp = _reading_pipeline("sentence")
    for text, ents in CUT_BY_THE_SENTENCIZER[:2]:
        doc = nlp.get_pipe("sentencizer")(nlp.make_doc(text))
        start, end, _ = ents[0]
        assert any(token.is_sent_start for token in doc.char_span(start, end)[1:]), "no longer cut: pick another"
    by_document = _train(_reading_pipeline("document"), CUT_BY_THE_SENTENCIZER)
    by_sentence = _train(_reading_pipeline("sentence"), CUT_BY_THE_SENTENCIZER)
    for text, ents in CUT_BY_THE_SENTENCIZER:
        assert entity_tuples(by_document(text)) == sorted(tuple(e) for e in ents)
        assert (16, 31, "LAW") not in entity_tuples(by_sentence(CUT_BY_THE_SENTENCIZER[0][0]))


def test_a_reading_given_when_loading_wins_over_the_saved_one(tmp_path):
    _train(_reading_pipeline("document"), CUT_BY_THE_SENTENCIZER).to_disk(tmp_path)
    text, cut = CUT_BY_THE_SENTENCIZER[0][0], (16, 31, "LAW")
    by_sentence = spacy.load(tmp_path, config={"components": {"bilstm_ner": {"model": {"reading": "sentence"}}}})
    assert by_sentence.get_pipe("bilstm_ner").model.attrs["reading"] == "sentence"
    assert cut not in entity_tuples(by_sentence(text))
    assert cut in entity_tuples(spacy.load(tmp_path)(text))


@pytest.mark.parametrize("context", ["sentence", "document"])
def test_documents_far_longer_than_a_window_get_well_formed_entities_across_the_seams(context):
    text = " ".join(f"Angela Merkel met Tim Cook in Paris {i} ." for i in range(30))
    ents = [(m.start(), m.start() + len(name), label) for name, label in
            (("Angela Merkel", "PER"), ("Tim Cook", "PER"), ("Paris", "LOC")) for m in re.finditer(name, text)]
    nlp = _train(_reading_pipeline("document", window=7, context=context), [(text, ents)], steps=40)
    doc = nlp(text)
    assert len(doc) > 10 * 7
    group = doc.spans["bilstm_ner"]
    assert len(group) > 0 and all(0.0 <= score <= 1.0 for score in group.attrs["scores"])
    assert sorted(entity_tuples(doc)) == sorted(ents)


def test_a_window_longer_than_every_document_reads_as_no_window():
    whole = _train(_reading_pipeline("document", window=None), TRAIN_DATA, steps=5)
    windowed = _reading_pipeline("document", window=500)
    windowed.get_pipe("bilstm_ner").cfg["labels"] = list(whole.get_pipe("bilstm_ner").labels)
    windowed.initialize(lambda: make_examples(windowed))
    windowed.get_pipe("bilstm_ner").model.from_bytes(whole.get_pipe("bilstm_ner").model.to_bytes())
    for text, _ in TRAIN_DATA:
        a, b = whole(text), windowed(text)
        assert entity_tuples(a) == entity_tuples(b)
        assert a.spans["bilstm_ner"].attrs["scores"] == b.spans["bilstm_ner"].attrs["scores"]


@pytest.mark.parametrize("setting, value", [("reading", "paragraph"), ("context", "page"), ("window", 1)])
def test_bilstm_crf_v3_refuses_an_unknown_reading_or_a_window_too_small(setting, value):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match=setting):
        nlp.add_pipe("bilstm_ner", config={"model": _v3_model(**{setting: value})})


def test_bilstm_crf_v3_refuses_a_document_context_for_sentence_reading():
    with pytest.raises(ValueError, match="needs reading"):
        spacy.blank("en").add_pipe("bilstm_ner", config={"model": _v3_model(reading="sentence", context="document")})
