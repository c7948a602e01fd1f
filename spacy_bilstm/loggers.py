"""spaCy's console logger, with room in the table for this component's name."""
import contextlib
import functools
import sys
from pathlib import Path
from typing import Iterator, Optional, Union

from spacy.training import loggers as spacy_loggers
from spacy.util import registry

# spaCy cuts column names at 13 characters, so the loss column of a component named
# "bilstm_ner" read "LOSS BILST...". 24 fits "Loss " and a 19-character pipe name.
COLUMN_NAME_WIDTH = 24


@registry.loggers("spacy-bilstm.ConsoleLogger.v1")
def console_logger(
    progress_bar: Optional[str] = None,
    console_output: bool = True,
    output_file: Optional[Union[str, Path]] = None,
):
    """spaCy's `spacy.ConsoleLogger.v3`, same settings and output, except that column names
    keep up to COLUMN_NAME_WIDTH characters instead of 13: "LOSS BILSTM_NER".

    progress_bar (Optional[str]): "train", "eval" or None, as for spacy.ConsoleLogger.v3.
    console_output (bool): Whether to print to the console.
    output_file (Optional[str]): A JSONL file to append every step's log to.
    """
    make_printer = spacy_loggers.console_logger_v3(
        progress_bar=progress_bar, console_output=console_output, output_file=output_file
    )

    def setup_printer(nlp, stdout=sys.stdout, stderr=sys.stderr):
        with _column_names_up_to(COLUMN_NAME_WIDTH):
            return make_printer(nlp, stdout, stderr)

    return setup_printer


@contextlib.contextmanager
def _column_names_up_to(width: int) -> Iterator[None]:
    # spaCy's printer builds its table header once, in setup, through the module's setup_table.
    original = spacy_loggers.setup_table
    spacy_loggers.setup_table = functools.partial(original, max_width=width)
    try:
        yield
    finally:
        spacy_loggers.setup_table = original
