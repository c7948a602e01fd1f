"""The training table's header names the component's loss column in full."""
import io

import spacy
from spacy.training import loggers as spacy_loggers
from spacy.util import registry

import spacy_bilstm  # noqa: F401  (registers the factory and the logger)


def _header_of(logger_name: str) -> str:
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_ner")
    stdout = io.StringIO()
    registry.loggers.get(logger_name)()(nlp, stdout=stdout, stderr=io.StringIO())
    return stdout.getvalue().splitlines()[0]


def test_the_loss_column_names_the_component_in_full():
    assert "LOSS BILSTM_NER" in _header_of("spacy-bilstm.ConsoleLogger.v1")
    assert "LOSS BILST..." in _header_of("spacy.ConsoleLogger.v3")  # what spaCy's own logger prints


def test_spacys_table_is_left_as_it_was():
    before = spacy_loggers.setup_table
    _header_of("spacy-bilstm.ConsoleLogger.v1")
    assert spacy_loggers.setup_table is before
    assert "LOSS BILST..." in _header_of("spacy.ConsoleLogger.v3")
