"""Tag schemes: every scheme decodes to the same entities, and invalid sequences are caught."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacy_bilstm.corpora import SCHEMES, TagError, decode_tags, detect_scheme, spans_to_tags, tags_to_spans
from spacy_bilstm.corpora.schemes import MixedSchemeError

# "Pieter Blom met Ann in Oslo Oslo": two adjacent LOC entities at the end.
SAME_ENTITIES = [(0, 2, "PER"), (3, 4, "PER"), (5, 6, "LOC"), (6, 7, "LOC")]
ENCODINGS = {
    "iob2": ["B-PER", "I-PER", "O", "B-PER", "O", "B-LOC", "B-LOC"],
    "iob1": ["I-PER", "I-PER", "O", "I-PER", "O", "I-LOC", "B-LOC"],
    "bioes": ["B-PER", "E-PER", "O", "S-PER", "O", "S-LOC", "S-LOC"],
    "biluo": ["B-PER", "L-PER", "O", "U-PER", "O", "U-LOC", "U-LOC"],
}


@pytest.mark.parametrize("scheme", sorted(ENCODINGS))
def test_every_scheme_decodes_to_the_same_entities(scheme):
    assert tags_to_spans(ENCODINGS[scheme], scheme) == SAME_ENTITIES


@pytest.mark.parametrize("scheme", sorted(ENCODINGS))
def test_every_scheme_encodes_back_to_its_own_tags(scheme):
    assert spans_to_tags(SAME_ENTITIES, 7, scheme) == ENCODINGS[scheme]


def test_iob1_i_tag_starts_an_entity_unless_it_follows_the_same_type():
    tags = ["I-ORG", "I-ORG", "I-PER", "O", "I-LOC"]
    assert tags_to_spans(tags, "iob1") == [(0, 2, "ORG"), (2, 3, "PER"), (4, 5, "LOC")]


def test_iob1_b_tag_splits_two_adjacent_entities_of_the_same_type():
    assert tags_to_spans(["I-LOC", "B-LOC", "I-LOC"], "iob1") == [(0, 1, "LOC"), (1, 3, "LOC")]


def test_iob2_rejects_an_i_tag_that_starts_an_entity_and_repair_reads_it_as_b():
    with pytest.raises(TagError) as info:
        tags_to_spans(["O", "I-PER", "I-PER"], "iob2")
    assert info.value.index == 1 and info.value.repairable
    spans, repairs = decode_tags(["O", "I-PER", "I-PER"], "iob2", repair=True)
    assert spans == [(1, 3, "PER")] and repairs == 1


def test_bioes_b_then_e_is_one_entity_not_two():
    # spaCy's iob_to_biluo reads this as two one-token entities.
    assert tags_to_spans(["B-PER", "E-PER"], "bioes") == [(0, 2, "PER")]


@pytest.mark.parametrize(
    "tags,index",
    [
        (["O", "E-PER"], 1),  # E- with no B- before it
        (["I-PER", "E-PER"], 0),  # I- with no B-
        (["B-PER", "O"], 1),  # entity interrupted before E-
        (["B-PER", "I-PER"], 0),  # never closed at sentence end
        (["B-PER", "E-LOC"], 1),  # closed with another label
        (["B-PER", "S-PER"], 1),
    ],
)
def test_bioes_invalid_sequences_name_the_token(tags, index):
    with pytest.raises(TagError) as info:
        tags_to_spans(tags, "bioes")
    assert info.value.index == index


def test_bioes_repair_closes_and_opens_entities_and_counts_each_fix():
    spans, repairs = decode_tags(["B-PER", "O", "E-LOC", "I-ORG", "E-ORG"], "bioes", repair=True)
    assert spans == [(0, 1, "PER"), (2, 3, "LOC"), (3, 5, "ORG")]
    assert repairs == 3


def test_biluo_uses_l_and_u():
    assert tags_to_spans(["U-PER", "B-ORG", "I-ORG", "L-ORG"], "biluo") == [(0, 1, "PER"), (1, 4, "ORG")]
    with pytest.raises(TagError):
        tags_to_spans(["B-ORG", "E-ORG"], "biluo")


def test_io_joins_consecutive_tokens_and_refuses_b():
    assert tags_to_spans(["I-PER", "I-PER", "O", "I-LOC"], "io") == [(0, 2, "PER"), (3, 4, "LOC")]
    with pytest.raises(TagError):
        tags_to_spans(["B-PER"], "io")


def test_io_cannot_encode_two_touching_entities_of_one_label():
    with pytest.raises(ValueError, match="IO scheme cannot keep them apart"):
        spans_to_tags([(0, 1, "LOC"), (1, 2, "LOC")], 2, "io")


@pytest.mark.parametrize("tag", ["X-PER", "B-", "PER", "b-PER", "B_PER"])
def test_unknown_tag_prefixes_are_errors(tag):
    with pytest.raises(TagError, match="unknown tag"):
        tags_to_spans(["O", tag], "iob2")


def test_labels_may_contain_hyphens():
    assert tags_to_spans(["B-creative-work", "I-creative-work"], "iob2") == [(0, 2, "creative-work")]


@pytest.mark.parametrize("scheme", sorted(ENCODINGS))
def test_detect_scheme_recognises_each_encoding(scheme):
    assert detect_scheme([ENCODINGS[scheme]]).scheme == scheme


def test_detect_scheme_calls_b_less_files_io_and_tagless_files_iob2():
    assert detect_scheme([["I-PER", "O"]]).scheme == "io"
    assert detect_scheme([["O", "O"]]).scheme == "iob2"


def test_detect_scheme_refuses_bioes_mixed_with_biluo():
    with pytest.raises(MixedSchemeError) as info:
        detect_scheme([["S-PER"], ["O", "U-LOC"]])
    assert info.value.first == (0, 0) and info.value.second == (1, 1)


def test_detect_scheme_refuses_iob1_mixed_with_iob2():
    with pytest.raises(MixedSchemeError) as info:
        detect_scheme([["O", "B-PER"], ["O", "I-LOC"]])
    assert info.value.kind == "iob1+iob2"


_label = st.sampled_from(["PER", "ORG", "LOC", "MISC", "creative-work"])


@st.composite
def _spans(draw):
    n = draw(st.integers(1, 25))
    spans, i = [], 0
    while i < n:
        if draw(st.booleans()):
            length = draw(st.integers(1, min(4, n - i)))
            spans.append((i, i + length, draw(_label)))
            i += length
        else:
            i += 1
    return spans, n


@given(_spans(), st.sampled_from(SCHEMES))
def test_encoding_then_decoding_gives_the_spans_back(spans_and_length, scheme):
    spans, n = spans_and_length
    touching = any(a[1] == b[0] and a[2] == b[2] for a, b in zip(spans, spans[1:]))
    if scheme == "io" and touching:
        with pytest.raises(ValueError):
            spans_to_tags(spans, n, scheme)
        return
    tags = spans_to_tags(spans, n, scheme)
    assert tags_to_spans(tags, scheme) == spans
