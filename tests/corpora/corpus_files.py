"""Writing small corpus files inside a test, and reading back what a conversion made of them."""
import json

import pytest

from spacy_bilstm.corpora import CorpusError, read_corpus

CONLL_2003_STYLE = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O
"""


def write(tmp_path, name, data, encoding="utf-8"):
    """Write `data` (text in `encoding`, or bytes as they are) to `tmp_path / name`."""
    path = tmp_path / name
    path.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
    return path


def jsonl(tmp_path, *records):
    """A JSONL file of `records`: objects are dumped, strings written as they are."""
    return write(tmp_path, "a.jsonl", "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))


def ents(doc):
    return [(e.text, e.label_) for e in doc.ents]


def words_and_ents(result):
    return [([t.text for t in doc], [(e.start, e.end, e.label_) for e in doc.ents]) for doc in result.docs]


def assert_clear_error(path, line, fragment, **options):
    """Reading `path` fails with a CorpusError naming the file, the line, the problem and a remedy."""
    with pytest.raises(CorpusError) as info:
        read_corpus(path, **options)
    error = info.value
    message = str(error)
    assert error.path == path and str(path) in message
    assert error.line == line
    if line is not None:
        assert f"line {line}" in message
    assert fragment in message
    assert error.hint, message
    return error
