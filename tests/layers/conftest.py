import numpy
import pytest
import spacy
from spacy.vectors import Vectors


@pytest.fixture
def nlp_with_vectors():
    """A blank English pipeline with a few vectors keyed by LOWER, as GloVe's: "London" finds
    the vector of "london", and most words have none."""
    words = ["apple", "banana", "london", "monday", "the"]
    nlp = spacy.blank("en")
    data = numpy.random.default_rng(0).normal(size=(len(words), 6)).astype("float32")
    nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings, data=data, keys=[nlp.vocab.strings.add(w) for w in words],
                                attr="LOWER")
    return nlp
