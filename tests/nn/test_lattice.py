"""The CRF inference's entry points for lists of sequences: length buckets, padding and the
order of the sequences never change a path or a probability."""
import numpy
import pytest
import torch

from spacy_bilstm.nn import lattice

from .helpers import make_crf


def _spans(tags, spans):
    span_docs = numpy.array([doc for doc, *_ in spans])
    span_starts = numpy.array([start for _, start, _, _ in spans])
    span_tags = numpy.full((len(spans), max(end - start for _, start, end, _ in spans)), -1)
    for row, (_, start, end, label) in enumerate(spans):
        ids = tags.span_tag_ids((start, end, label))
        span_tags[row, : len(ids)] = ids
    return span_docs, span_starts, span_tags


@pytest.mark.parametrize("max_padded_tokens", [8, 65536])
def test_buckets_and_sequence_order_give_each_sequence_its_own_paths_and_span_probabilities(max_padded_tokens):
    """Several buckets (a small padding budget) and sequences out of length order must map rows
    back right: each sequence gets what it gets when decoded alone."""
    tags, crf = make_crf(("PER", "LOC", "ORG"), seed=3)
    scores = crf.masked_scores_numpy()
    generator = torch.Generator().manual_seed(3)
    emissions = [(3 * torch.randn(n, len(tags), generator=generator)).numpy() for n in (3, 7, 1, 5, 2, 7)]
    spans = [(0, 1, 0 + 1, "PER"), (1, 2, 4, "ORG"), (3, 1, 3, "LOC"), (5, 0, 7, "PER"), (2, 0, 1, "LOC"),
             (4, 0, 2, "ORG")]
    span_docs, span_starts, span_tags = _spans(tags, spans)
    paths = lattice.decode(emissions, scores, max_padded_tokens)
    log_probs = lattice.span_log_probs(emissions, scores, span_docs, span_starts, span_tags, 1.3)
    for doc, e in enumerate(emissions):
        assert paths[doc].tolist() == lattice.decode([e], scores, max_padded_tokens)[0].tolist()
        assert tags.is_valid_path(paths[doc].tolist())
    for row, doc in enumerate(span_docs):
        alone = lattice.span_log_probs([emissions[doc]], scores, numpy.array([0]), span_starts[row : row + 1],
                                       span_tags[row : row + 1], 1.3)
        assert log_probs[row] == pytest.approx(alone[0], abs=1e-4)
    assert numpy.all(log_probs < 0)


def test_span_probabilities_do_not_depend_on_sequence_order():
    tags, crf = make_crf(("PER", "LOC"), seed=1)
    scores = crf.masked_scores_numpy()
    generator = torch.Generator().manual_seed(1)
    emissions = [torch.randn(n, len(tags), generator=generator).numpy() for n in (6, 4, 2)]  # longest first
    span_tags = numpy.array([tags.span_tag_ids((1, 3, "PER")), tags.span_tag_ids((0, 2, "LOC"))])
    in_order = lattice.span_log_probs(emissions, scores, numpy.array([0, 2]), numpy.array([1, 0]), span_tags, 1.0)
    reordered = lattice.span_log_probs(emissions[::-1], scores, numpy.array([2, 0]), numpy.array([1, 0]), span_tags,
                                       1.0)
    assert numpy.allclose(in_order, reordered, atol=1e-6)
    assert numpy.all(in_order < 0)


def test_no_spans_give_no_probabilities():
    tags, crf = make_crf(("PER",))
    empty = numpy.zeros(0, dtype=int)
    result = lattice.span_log_probs([numpy.zeros((3, len(tags)), "float32")], crf.masked_scores_numpy(), empty, empty,
                                    numpy.zeros((0, 1), dtype=int), 1.0)
    assert result.shape == (0,)


def test_decoding_in_batches_of_similar_lengths_gives_the_paths_of_one_padded_batch():
    """decode batches rows of similar lengths (for speed): each row's path must be the one it
    gets in a single padded batch of all rows, and the one it gets alone."""
    tags, crf = make_crf(("PER", "LOC", "ORG"), seed=5)
    scores = crf.masked_scores_numpy()
    generator = torch.Generator().manual_seed(5)
    lengths = (9, 1, 4, 9, 2, 4, 13, 1)
    emissions = [(3 * torch.randn(n, len(tags), generator=generator)).numpy() for n in lengths]
    padded = numpy.zeros((len(lengths), max(lengths), len(tags)), dtype=emissions[0].dtype)
    for row, e in enumerate(emissions):
        padded[row, : len(e)] = e
    in_one_batch = lattice.viterbi(padded, numpy.array(lengths), *scores)
    paths = lattice.decode(emissions, scores, 65536)
    assert [path.tolist() for path in paths] == [in_one_batch[row, :n].tolist() for row, n in enumerate(lengths)]
    assert len({tuple(path.tolist()) for path in paths}) > 4
    assert [path.tolist() for path in paths] == [lattice.viterbi(e[None], numpy.array([len(e)]), *scores)[0].tolist()
                                                 for e in emissions]


def test_similar_length_buckets_keep_padding_and_batch_size_bounded():
    lengths = [200, 13, 190, 151, 150, 12, 0, 9, 13, 40]
    buckets = lattice.similar_length_buckets(lengths, max_padded_tokens=450, fraction=0.75)
    assert buckets == [[0, 2], [3, 4], [9], [1, 8, 5], [7], [6]]
    assert sorted(index for bucket in buckets for index in bucket) == list(range(len(lengths)))
    for bucket in buckets:
        longest = max(lengths[i] for i in bucket)
        assert all(lengths[i] >= 0.75 * longest for i in bucket)
        assert len(bucket) == 1 or len(bucket) * longest <= 450
