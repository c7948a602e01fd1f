"""The corpus errors' place in the package's error classes."""
import pytest

from spacy_bilstm.corpora import CorpusError
from spacy_bilstm.corpora.schemes import MixedSchemeError, TagError
from spacy_bilstm.errors import OutputWriteError, SpacyBilstmError


@pytest.mark.parametrize("error", [CorpusError, TagError, MixedSchemeError, OutputWriteError])
def test_every_corpus_error_is_caught_by_the_package_base_class(error):
    assert issubclass(error, SpacyBilstmError)
