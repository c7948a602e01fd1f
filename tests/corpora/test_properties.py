"""Properties that must hold for every input, checked with hypothesis: tag schemes round-trip,
and the converter either converts or raises CorpusError naming the file."""
import json
import tempfile
from pathlib import Path

import pytest
import spacy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from spacy_bilstm.corpora import SCHEMES, CorpusError, read_corpus, spans_to_tags, tags_to_spans

LABELS = st.sampled_from(["PER", "LOC", "ORG", "MISC", "B-X", "I-ORG-2", "e"])
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def spans_in_sequence(draw):
    """(n_tokens, non-overlapping spans) with spans of any length, touching or not."""
    n_tokens = draw(st.integers(0, 30))
    cuts = sorted(draw(st.sets(st.integers(0, n_tokens), max_size=12)))
    spans = []
    for start, end in zip(cuts, cuts[1:]):
        if draw(st.booleans()):
            spans.append((start, end, draw(LABELS)))
    return n_tokens, spans


def touches_same_label(spans):
    return any(a[1] == b[0] and a[2] == b[2] for a, b in zip(spans, spans[1:]))


@PROPERTY_SETTINGS
@given(spans_in_sequence(), st.sampled_from(SCHEMES))
def test_spans_to_tags_to_spans_is_the_identity_for_every_scheme(case, scheme):
    n_tokens, spans = case
    if scheme == "io" and touches_same_label(spans):
        # IO cannot keep two touching same-label entities apart, and says so rather than merge.
        with pytest.raises(ValueError, match="IO scheme cannot keep them apart"):
            spans_to_tags(spans, n_tokens, scheme)
        return
    tags = spans_to_tags(spans, n_tokens, scheme)
    assert len(tags) == n_tokens
    assert tags_to_spans(tags, scheme) == spans


@PROPERTY_SETTINGS
@given(spans_in_sequence(), st.sampled_from(SCHEMES), st.sampled_from(SCHEMES))
def test_converting_between_schemes_keeps_the_spans(case, source, target):
    n_tokens, spans = case
    assume(not touches_same_label(spans) or "io" not in (source, target))
    tags = spans_to_tags(tags_to_spans(spans_to_tags(spans, n_tokens, source), source), n_tokens, target)
    assert tags_to_spans(tags, target) == spans


# --- the converter never crashes ---------------------------------------------------------

TOKENS = st.sampled_from(["EU", "Peter", "-DOCSTART-", "-X-", "O", ".", "\u00e9", "\ufeff", "a b", "\u00a0", "{", "[", '"'])
TAGS = st.sampled_from(["O", "B-PER", "I-PER", "E-PER", "S-PER", "L-LOC", "U-LOC", "B-", "X-PER", "b-per", "I-LOC", ""])
SEPARATORS = st.sampled_from([" ", "\t", "  ", " \t", ""])
LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r", "\n\n", ""])


@st.composite
def column_files(draw) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        fields = draw(st.lists(st.one_of(TOKENS, TAGS), min_size=0, max_size=4))
        lines.append(draw(SEPARATORS).join(fields) + draw(LINE_ENDS))
    data = "".join(lines).encode("utf-8")
    if draw(st.booleans()):
        data = draw(st.binary(max_size=8)) + data
    return data


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 40) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["start", "end", "label", "text", "ws"]), children, max_size=3),
    max_leaves=8,
)


@st.composite
def jsonl_files(draw) -> bytes:
    records = []
    for _ in range(draw(st.integers(1, 4))):
        record = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "text": st.text(max_size=30) | JSON_VALUES,
                    "spans": st.lists(
                        st.fixed_dictionaries({"start": st.integers(-2, 32), "end": st.integers(-2, 32), "label": LABELS}) | JSON_VALUES,
                        max_size=4,
                    ) | JSON_VALUES,
                    "tokens": JSON_VALUES,
                    "sentences": JSON_VALUES,
                    "label": JSON_VALUES,
                    "entities": JSON_VALUES,
                },
            )
        )
        records.append(json.dumps(record))
    return ("\n".join(records) + draw(LINE_ENDS)).encode("utf-8")


@pytest.fixture(scope="module")
def vocab():
    return spacy.blank("en").vocab


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


def read_or_corpus_error(path: Path, vocab, **options):
    try:
        result = read_corpus(path, vocab=vocab, **options)
    except CorpusError as error:
        assert error.path == path and str(path) in str(error)
        return None
    for doc in result.docs:
        assert len(doc) > 0
        assert all(0 <= ent.start < ent.end <= len(doc) for ent in doc.ents)
    assert result.summary.tokens == sum(len(doc) for doc in result.docs)
    return result


@PROPERTY_SETTINGS
@given(column_files(), st.sampled_from(["auto", *SCHEMES]), st.booleans())
def test_converter_on_generated_column_files_converts_or_raises_corpus_error(vocab, scratch, data, scheme, repair):
    path = scratch / "generated.txt"
    path.write_bytes(data)
    read_or_corpus_error(path, vocab, scheme=scheme, repair=repair)


@PROPERTY_SETTINGS
@given(jsonl_files(), st.sampled_from(["strict", "expand", "contract"]))
def test_converter_on_generated_jsonl_converts_or_raises_corpus_error(vocab, scratch, data, alignment):
    path = scratch / "generated.jsonl"
    path.write_bytes(data)
    read_or_corpus_error(path, vocab, alignment=alignment, format="jsonl")


@PROPERTY_SETTINGS
@given(st.binary(max_size=200), st.sampled_from(["auto", "columns", "jsonl"]))
def test_converter_on_arbitrary_bytes_converts_or_raises_corpus_error(vocab, scratch, data, fmt):
    path = scratch / "bytes.txt"
    path.write_bytes(data)
    read_or_corpus_error(path, vocab, format=fmt)
