"""Properties that must hold for every input, checked with hypothesis: Viterbi only returns
valid paths. (The tag-scheme and converter properties are in tests/corpora/test_properties.py.)"""
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacy_bilstm.nn import LinearChainCRF, lattice
from spacy_bilstm.tags import BiluoTags

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def crf_and_emissions(draw):
    labels = draw(st.lists(st.sampled_from(["PER", "LOC", "ORG", "MISC"]), min_size=1, max_size=4, unique=True))
    tags = BiluoTags(labels)
    crf = LinearChainCRF(
        torch.from_numpy(tags.allowed_start),
        torch.from_numpy(tags.allowed_end),
        torch.from_numpy(tags.allowed_transitions),
        trainable=draw(st.booleans()),
    )
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([0.0, 1.0, 10.0, 1e4]))
    generator = torch.Generator().manual_seed(seed)
    if any(True for _ in crf.parameters()):
        with torch.no_grad():
            for parameter in crf.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    lengths = draw(st.lists(st.integers(0, 12), min_size=1, max_size=5))
    emissions = torch.randn(len(lengths), max(max(lengths), 1), len(tags), generator=generator) * scale
    return tags, crf, emissions, torch.tensor(lengths)


@settings(PROPERTY_SETTINGS, max_examples=80)
@given(crf_and_emissions())
def test_every_viterbi_path_is_a_valid_biluo_path(case):
    tags, crf, emissions, lengths = case
    paths = lattice.viterbi(emissions.numpy(), lengths.numpy(), *crf.masked_scores_numpy())
    for row, length in zip(paths.tolist(), lengths.tolist()):
        path, padding = row[:length], row[length:]
        assert all(0 <= tag < len(tags) for tag in path)
        assert tags.is_valid_path(path), [tags.names[t] for t in path]
        assert all(tag == -1 for tag in padding)
        # A valid path decodes into whole entities and encodes back to itself.
        spans = tags.spans_from_ids(path)
        assert [t for span in spans for t in tags.span_tag_ids(span)] == [t for t in path if t != 0]
