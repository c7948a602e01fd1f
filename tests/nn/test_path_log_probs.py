"""lattice.path_log_probs, the probability of a whole tag path (what `select` ranks documents
by), against brute-force enumeration of every tag path on tiny lattices."""
import itertools
import math

import numpy
import pytest

from spacy_bilstm.nn import lattice

from .helpers import allowed_paths, brute_log_z, brute_score, make_crf, random_batch


def rows_of(emissions, lengths):
    return [emissions[row, :length].numpy() for row, length in enumerate(lengths)]


@pytest.mark.parametrize("labels,lengths", [(("PER",), [1, 3, 4, 2]), (("PER", "LOC"), [2, 3])])
def test_every_paths_log_probability_equals_brute_force(labels, lengths):
    tags, crf = make_crf(labels, seed=11)
    emissions, _ = random_batch(lengths, len(tags), seed=11)
    for row, length in enumerate(lengths):
        paths = allowed_paths(tags, length)
        log_z = brute_log_z(crf, tags, emissions[row], length)
        # Every path of this row, with a row of another length in the same call.
        other = (row + 1) % len(lengths)
        rows = rows_of(emissions, lengths)
        log_probs = lattice.path_log_probs(
            [rows[row]] * len(paths) + [rows[other]], crf.masked_scores_numpy(),
            [list(p) for p in paths] + [list(allowed_paths(tags, lengths[other])[0])],
        )
        for path, log_prob in zip(paths, log_probs):
            assert log_prob == pytest.approx(brute_score(crf, emissions[row], path) - log_z, abs=1e-9)


def test_the_probabilities_of_all_paths_sum_to_one_and_the_best_path_is_the_likeliest():
    tags, crf = make_crf(("PER", "LOC"), seed=12)
    emissions, _ = random_batch([4], len(tags), seed=12)
    rows = rows_of(emissions, [4])
    paths = allowed_paths(tags, 4)
    probabilities = [math.exp(lattice.path_log_probs(rows, crf.masked_scores_numpy(), [list(p)])[0]) for p in paths]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-9)
    best = lattice.decode(rows, crf.masked_scores_numpy(), 1000)[0]
    best_probability = math.exp(lattice.path_log_probs(rows, crf.masked_scores_numpy(), [best])[0])
    assert best_probability == pytest.approx(max(probabilities), abs=1e-12)


def test_a_forbidden_path_has_probability_zero():
    tags, crf = make_crf(("PER",), seed=13)
    emissions, _ = random_batch([3], len(tags), seed=13)
    invalid = next(p for p in itertools.product(range(len(tags)), repeat=3) if not tags.is_valid_path(p))
    log_prob = lattice.path_log_probs(rows_of(emissions, [3]), crf.masked_scores_numpy(), [list(invalid)])[0]
    assert log_prob == -numpy.inf


def test_temperature_divides_every_score():
    tags, crf = make_crf(("PER",), seed=14)
    crf = crf.double()  # dividing float32 scores would round them
    emissions, _ = random_batch([3], len(tags), seed=14)
    temperature = 2.5
    path = allowed_paths(tags, 3)[1]
    scaled = [brute_score(crf, emissions[0], p) / temperature for p in allowed_paths(tags, 3)]
    top = max(scaled)
    expected = brute_score(crf, emissions[0], path) / temperature - (top + math.log(sum(math.exp(s - top) for s in scaled)))
    log_prob = lattice.path_log_probs(rows_of(emissions, [3]), crf.masked_scores_numpy(), [list(path)], temperature)[0]
    assert log_prob == pytest.approx(expected, abs=1e-9)


def test_a_sequences_result_is_the_same_bits_alone_and_in_a_batch():
    tags, crf = make_crf(("PER", "LOC"), seed=15)
    emissions, _ = random_batch([5, 5, 3, 5], len(tags), seed=15)
    rows = [row.astype(numpy.float32) for row in rows_of(emissions, [5, 5, 3, 5])]
    paths = lattice.decode(rows, crf.masked_scores_numpy(), 1000)
    together = lattice.path_log_probs(rows, crf.masked_scores_numpy(), paths)
    alone = [lattice.path_log_probs([row], crf.masked_scores_numpy(), [path])[0] for row, path in zip(rows, paths)]
    assert together.tolist() == alone


def test_an_empty_sequence_is_certain():
    tags, crf = make_crf(("PER",), seed=16)
    empty = numpy.zeros((0, len(tags)), dtype=numpy.float32)
    assert lattice.path_log_probs([empty], crf.masked_scores_numpy(), [[]]).tolist() == [0.0]
