"""Reading units and windows: what the LSTM and the CRF read."""
import pytest
import spacy

from spacy_bilstm.segments import token_sources, units_of_docs, windows_of_units


def _plain_docs(n_tokens=200):
    return [spacy.blank("en").make_doc(" ".join(["w"] * n_tokens))] * 2


@pytest.fixture
def docs():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return [nlp("Art. 32 of the law applies. It does."), nlp(""), nlp("one two three")]


def test_sentence_reading_gives_the_sentences_and_document_reading_the_whole_docs(docs):
    sentences = [(0, sentence.start, sentence.end) for sentence in docs[0].sents]
    assert len(sentences) > 1
    assert units_of_docs(docs, "sentence") == sentences + [(2, 0, 3)]
    assert units_of_docs(docs, "document") == [(0, 0, len(docs[0])), (2, 0, 3)]


@pytest.mark.parametrize("length, window", [(10, 4), (101, 8), (7, 2), (9, 9), (16, 5)])
def test_windows_cover_each_unit_and_overlap_by_half_a_window_at_prediction(length, window):
    units = [(0, 3, 3 + length)]
    for overlapping in (False, True):
        windows = windows_of_units(_plain_docs(), units, "document", window, overlapping)
        covered = sorted({t for _, start, end in windows for t in range(start, end)})
        assert covered == list(range(3, 3 + length))
        assert all(end - start <= window for _, start, end in windows)
        if not overlapping:
            assert sum(end - start for _, start, end in windows) == length
    if length > window:
        assert len(windows_of_units(_plain_docs(), units, "document", window, True)) > len(
            windows_of_units(_plain_docs(), units, "document", window, False))


@pytest.mark.parametrize("length, window", [(12, 6), (31, 8), (9, 4), (50, 7), (101, 10)])
def test_each_token_takes_its_scores_from_the_window_where_it_is_furthest_from_an_edge(length, window):
    units = [(0, 2, 2 + length)]
    windows = windows_of_units(_plain_docs(), units, "document", window, overlapping=True)
    (pieces,) = token_sources(units, windows)
    chosen = [(window_index, windows[window_index][1] + offset) for window_index, start, end in pieces
              for offset in range(start, end)]
    assert [token for _, token in chosen] == list(range(2, 2 + length))

    def distance_to_edge(window_index, token):
        _, start, end = windows[window_index]
        return min(token - start, end - 1 - token)

    for window_index, token in chosen:
        covering = [w for w, (_, start, end) in enumerate(windows) if start <= token < end]
        assert distance_to_edge(window_index, token) == max(distance_to_edge(w, token) for w in covering)


def test_a_unit_that_fits_a_window_is_read_whole():
    units = [(0, 0, 5), (1, 2, 4)]
    assert windows_of_units(_plain_docs(), units, "document", 5, True) == units
    assert token_sources(units, units) == [[(0, 0, 5)], [(1, 0, 2)]]


def test_a_sentence_context_reads_each_sentence_of_a_document_unit(docs):
    units = units_of_docs(docs, "document")
    windows = windows_of_units(docs, units, "sentence", None, overlapping=False)
    assert windows == units_of_docs(docs, "sentence")
    sources = token_sources(units, windows)
    assert [sum(end - start for _, start, end in pieces) for pieces in sources] == [len(docs[0]), len(docs[2])]
    assert [window for window, _, _ in sources[0]] == list(range(len(list(docs[0].sents))))
