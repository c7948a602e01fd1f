"""Character ids of the words of docs, the char CNN's input (layers/char_ids.py)."""
import numpy
import pytest
import spacy

from spacy_bilstm.layers.char_ids import char_ids_of_docs


def test_char_ids_cover_each_distinct_word_once_and_map_every_token():
    nlp = spacy.blank("en")
    docs = [nlp("the cat saw the dog"), nlp(""), nlp("the end")]
    char_ids, lengths, token_rows = char_ids_of_docs(docs, n_rows=64, max_chars=20)
    tokens = [token.text for doc in docs for token in doc]
    assert len(token_rows) == len(tokens) == 7
    assert char_ids.shape[0] == len(set(tokens)) == 5
    for text, row in zip(tokens, token_rows):
        assert lengths[row] == len(text)
        assert numpy.all(char_ids[row, : len(text)] > 0) and numpy.all(char_ids[row, len(text) :] == 0)
    assert token_rows[0] == token_rows[3] == token_rows[5]  # "the"


def test_long_words_keep_both_ends():
    nlp = spacy.blank("en")
    word = "antidisestablishmentarianism"
    char_ids, lengths, _ = char_ids_of_docs([nlp(word)], n_rows=1000, max_chars=10)
    assert lengths[0] == 10
    expected = [ord(c) % 999 + 1 for c in word[:5] + word[-5:]]
    assert char_ids[0].tolist() == expected


@pytest.mark.parametrize("max_chars, kept", [(1, "a"), (2, "am"), (3, "anm")])
def test_a_word_cut_to_very_few_characters_keeps_both_ends(max_chars, kept):
    nlp = spacy.blank("en")
    word = "antidisestablishmentarianism"
    char_ids, lengths, _ = char_ids_of_docs([nlp(word)], n_rows=1000, max_chars=max_chars)
    assert lengths[0] == max_chars
    assert char_ids[0].tolist() == [ord(c) % 999 + 1 for c in kept]


def test_no_tokens_gives_empty_arrays():
    nlp = spacy.blank("en")
    char_ids, lengths, token_rows = char_ids_of_docs([nlp("")], n_rows=64, max_chars=20)
    assert char_ids.shape[0] == lengths.shape[0] == token_rows.shape[0] == 0
