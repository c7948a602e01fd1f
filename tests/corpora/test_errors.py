"""The corpus errors' place in the package's error classes."""
import pytest

from spacy_bilstm.corpora import CorpusError
from spacy_bilstm.corpora.schemes import MixedSchemeError, TagError
from spacy_bilstm.errors import OutputWriteError, SpacyBilstmError


@pytest.mark.parametrize("error", [CorpusError, TagError, MixedSchemeError, OutputWriteError])
def test_every_corpus_error_is_caught_by_the_package_base_class(error):
    assert issubclass(error, SpacyBilstmError)


def test_a_corpus_error_is_one_sentence_naming_the_place_the_problem_and_the_remedy():
    error = CorpusError("empty tag.", path="a.tsv", line=2, hint="give the token a tag such as O.")
    assert str(error) == "a.tsv, line 2: Empty tag; give the token a tag such as O."
    assert str(CorpusError("no such corpus")) == "No such corpus."
