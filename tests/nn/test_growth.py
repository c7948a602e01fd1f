"""Growing the torch modules for appended tags: the CRF's grown scores, and a tagger whose new
tags are held out of its output until released."""
import pytest
import torch

from spacy_bilstm.nn import LinearChainCRF, SequenceTagger
from spacy_bilstm.tags import BiluoTags


def masks(labels):
    tags = BiluoTags(labels)
    return tuple(torch.from_numpy(mask) for mask in (tags.allowed_start, tags.allowed_end, tags.allowed_transitions))


def test_a_grown_crf_keeps_the_old_scores_and_starts_the_new_ones_at_zero():
    crf = LinearChainCRF(*masks(["PER"]))
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.uniform_(-1.0, 1.0)
    grown = crf.grown(*masks(["PER", "LOC"]))
    assert grown.n_tags == 9
    assert torch.equal(grown.transition_scores[:5, :5], crf.transition_scores)
    assert torch.equal(grown.start_scores[:5], crf.start_scores) and torch.equal(grown.end_scores[:5], crf.end_scores)
    assert not grown.transition_scores[5:].any() and not grown.transition_scores[:, 5:].any()
    start, _, transitions = grown.masked_scores()
    assert torch.isinf(start[BiluoTags(["PER", "LOC"]).ids["I-LOC"]])  # forbidden by the mask, not a number
    assert torch.isinf(transitions[BiluoTags(["PER", "LOC"]).ids["B-PER"], BiluoTags(["PER", "LOC"]).ids["L-LOC"]])


def test_a_crf_grows_only_by_appended_tags():
    crf = LinearChainCRF(*masks(["PER", "LOC"]))
    with pytest.raises(RuntimeError, match="appended"):
        crf.grown(*masks(["PER"]))
    start, end, transitions = masks(["PER", "LOC", "ORG"])
    transitions = transitions.clone()
    transitions[0, 2] = True  # O -> I-PER: the old tags' masks would change
    with pytest.raises(RuntimeError, match="appended"):
        crf.grown(start, end, transitions)


def test_a_tagger_holds_its_new_tags_out_of_its_output_until_released():
    torch.manual_seed(0)
    tagger = SequenceTagger(input_width=6, hidden_width=4, depth=1, dropout=0.0, bidirectional=True)
    tagger.configure_tags(*masks(["PER"]))
    tagger.eval()
    features = [torch.randn(7, 6), torch.randn(3, 6)]
    with torch.no_grad():
        before_emissions, before_scores = tagger(features)
        tagger.add_tags(*masks(["PER", "LOC"]))
        held_emissions, held_scores = tagger(features)
        tagger.release_held_out_tags()
        emissions, scores = tagger(features)
    assert all(torch.equal(a, b) for a, b in zip(before_emissions, held_emissions))
    assert all(torch.equal(a, b) for a, b in zip(before_scores, held_scores))
    assert emissions[0].shape == (7, 9) and scores[2].shape == (9, 9)
    assert torch.equal(emissions[0][:, :5], before_emissions[0]) and not emissions[0][:, 5:].any()
