"""The CRF against brute-force enumeration of every tag path on tiny inputs: the torch passes
that training differentiates, and the inference passes (nn.lattice) that tagging runs."""
import math

import numpy
import pytest
import torch

from spacy_bilstm.nn import lattice, sequence_loss

from .helpers import allowed_paths, brute_log_z, brute_score, make_crf, random_batch


LENGTHS = [[1], [3], [4, 2, 1], [2, 4, 3]]


def viterbi(crf, emissions, lengths):
    return torch.from_numpy(lattice.viterbi(emissions.detach().numpy(), lengths.numpy(), *crf.masked_scores_numpy()))


def marginals(crf, emissions, lengths):
    """p(tag at position) (B, L, T) from the inference passes; zero at padding."""
    probs = torch.zeros(emissions.shape, dtype=emissions.dtype)
    for row, length in enumerate(lengths.tolist()):
        alphas, betas = lattice.forward_backward(emissions[row : row + 1, :length].numpy(), *crf.masked_scores_numpy())
        log_z = lattice.log_partition_from_passes(alphas, betas, numpy.array([length - 1]))
        probs[row, :length] = torch.from_numpy(numpy.exp(alphas + betas - log_z[:, None, None]))[0]
    return probs


def span_log_probs(crf, emissions, lengths, span_rows, span_starts, span_tags, temperature=1.0):
    """The inference passes' span log-probabilities, through the list-of-sequences entry point."""
    rows = [emissions[row, :length].detach().numpy() for row, length in enumerate(lengths.tolist())]
    return torch.from_numpy(lattice.span_log_probs(
        rows, crf.masked_scores_numpy(), span_rows.numpy(), span_starts.numpy(), span_tags.numpy(), temperature,
    ))


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("labels", [("PER",), ("PER", "LOC")])
def test_log_partition_equals_brute_force_with_padding(lengths, labels):
    if len(labels) == 2 and max(lengths) > 3:
        lengths = [min(n, 3) for n in lengths]
    tags, crf = make_crf(labels)
    crf = crf.double()
    emissions, lengths_t = random_batch(lengths, len(tags))
    log_z = crf.log_partition(emissions, lengths_t)
    for row, length in enumerate(lengths):
        assert log_z[row].item() == pytest.approx(brute_log_z(crf, tags, emissions[row], length), abs=1e-9)


def test_padding_never_changes_a_result():
    tags, crf = make_crf(("PER",))
    crf = crf.double()
    emissions, lengths = random_batch([3], len(tags))
    padded = torch.cat([emissions, torch.randn(1, 4, len(tags), dtype=torch.float64) * 50], dim=1)
    assert torch.allclose(crf.log_partition(emissions, lengths), crf.log_partition(padded, lengths))
    assert torch.equal(viterbi(crf, emissions, lengths)[:, :3], viterbi(crf, padded, lengths)[:, :3])
    assert torch.allclose(marginals(crf, emissions, lengths), marginals(crf, padded, lengths)[:, :3])


@pytest.mark.parametrize("lengths", LENGTHS)
def test_gold_path_score_and_nll_equal_brute_force(lengths):
    tags, crf = make_crf(("PER",), seed=1)
    crf = crf.double()
    emissions, lengths_t = random_batch(lengths, len(tags), seed=1)
    gold = torch.full((len(lengths), max(lengths)), -1, dtype=torch.long)
    gold_paths = []
    for row, length in enumerate(lengths):
        path = allowed_paths(tags, length)[(row * 7 + 3) % len(allowed_paths(tags, length))]
        gold_paths.append(path)
        gold[row, :length] = torch.tensor(path)
    scores = crf.path_score(emissions, lengths_t, gold.clamp(min=0))
    nll = crf.negative_log_likelihood(emissions, lengths_t, gold)
    for row, length in enumerate(lengths):
        expected_score = brute_score(crf, emissions[row], gold_paths[row])
        assert scores[row].item() == pytest.approx(expected_score, abs=1e-9)
        expected_nll = brute_log_z(crf, tags, emissions[row], length) - expected_score
        assert nll[row].item() == pytest.approx(expected_nll, abs=1e-9)


def test_unknown_gold_tags_are_marginalised_not_read_as_outside():
    tags, crf = make_crf(("PER",), seed=2)
    crf = crf.double()
    emissions, lengths = random_batch([4], len(tags), seed=2)
    gold = torch.tensor([[tags.ids["B-PER"], -1, -1, tags.ids["O"]]])
    nll = crf.negative_log_likelihood(emissions, lengths, gold)[0].item()

    def consistent(path):
        return path[0] == tags.ids["B-PER"] and path[3] == tags.ids["O"]

    expected = brute_log_z(crf, tags, emissions[0], 4) - brute_log_z(crf, tags, emissions[0], 4, consistent)
    assert nll == pytest.approx(expected, abs=1e-9)
    as_outside = gold.clone()
    as_outside[gold < 0] = tags.ids["O"]
    # B-PER O is not even a valid path: reading unknown as O would make the loss infinite.
    assert math.isinf(crf.negative_log_likelihood(emissions, lengths, as_outside)[0].item())


def test_a_partly_known_tag_is_marginalised_over_its_open_set_only():
    """Rehearsal's "none of the old labels": a token with gold -2 may take any tag of open set 1
    (here O or a MISC tag), and no other."""
    tags, crf = make_crf(("PER", "MISC"), seed=5)
    crf = crf.double()
    emissions, lengths = random_batch([4, 3], len(tags), seed=5)
    not_per = torch.tensor([not name.endswith("-PER") for name in tags.names])
    open_sets = torch.stack([torch.ones(len(tags), dtype=torch.bool), not_per])
    gold = torch.tensor([[-2, -2, -1, tags.ids["U-PER"]], [-1, -2, -1, -1]])
    nll = crf.negative_log_likelihood(emissions, lengths, gold, open_tag_sets=open_sets)
    expected = [
        (0, 4, lambda path: not_per[path[0]] and not_per[path[1]] and path[3] == tags.ids["U-PER"]),
        (1, 3, lambda path: bool(not_per[path[1]])),
    ]
    for row, length, consistent in expected:
        brute = brute_log_z(crf, tags, emissions[row], length) - brute_log_z(crf, tags, emissions[row], length, consistent)
        assert nll[row].item() == pytest.approx(brute, abs=1e-9)
    # Without open sets, -2 is read as unknown: every tag open.
    unknown = crf.negative_log_likelihood(emissions, lengths, gold.clamp(min=-1))
    assert torch.allclose(crf.negative_log_likelihood(emissions, lengths, gold), unknown)
    assert nll[1].item() > unknown[1].item()


def test_softmax_loss_of_a_partly_known_tag_is_its_open_sets_probability():
    log_probs = torch.log_softmax(torch.randn(1, 3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)), 2)
    open_sets = torch.tensor([[True] * 5, [True, False, False, True, True]])
    gold = [torch.tensor([2, -2, -1])]
    scores = tuple(torch.zeros(shape, dtype=torch.float64) for shape in ((5,), (5,), (5, 5)))
    loss = sequence_loss([log_probs[0]], gold, scores, "softmax", False, 1000, open_sets)
    expected = -(log_probs[0, 0, 2] + torch.logsumexp(log_probs[0, 1, [0, 3, 4]], 0))
    assert loss.item() == pytest.approx(expected.item(), abs=1e-12)
    assert sequence_loss([log_probs[0]], gold, scores, "softmax", False, 1000).item() == pytest.approx(
        -log_probs[0, 0, 2].item(), abs=1e-12)


@pytest.mark.parametrize("lengths", LENGTHS)
def test_marginals_equal_brute_force(lengths):
    tags, crf = make_crf(("PER",), seed=3)
    crf = crf.double()
    emissions, lengths_t = random_batch(lengths, len(tags), seed=3)
    probs = marginals(crf, emissions, lengths_t)
    for row, length in enumerate(lengths):
        log_z = brute_log_z(crf, tags, emissions[row], length)
        expected = torch.zeros(length, len(tags), dtype=torch.float64)
        for path in allowed_paths(tags, length):
            weight = math.exp(brute_score(crf, emissions[row], path) - log_z)
            for t, tag in enumerate(path):
                expected[t, tag] += weight
        assert torch.allclose(probs[row, :length], expected, atol=1e-9)
        assert torch.all(probs[row, length:] == 0)


@pytest.mark.parametrize("lengths", LENGTHS)
def test_viterbi_equals_brute_force_argmax(lengths):
    tags, crf = make_crf(("PER",), seed=4)
    crf = crf.double()
    emissions, lengths_t = random_batch(lengths, len(tags), seed=4)
    paths = viterbi(crf, emissions, lengths_t)
    for row, length in enumerate(lengths):
        best = max(allowed_paths(tags, length), key=lambda p: brute_score(crf, emissions[row], p))
        assert paths[row, :length].tolist() == list(best)
        assert torch.all(paths[row, length:] == -1)


@pytest.mark.parametrize("lengths", [[3], [4, 2, 1], [2, 4, 3]])
def test_span_log_probs_equal_brute_force_sums_over_paths(lengths):
    tags, crf = make_crf(("PER",), seed=5)
    crf = crf.double()
    emissions, lengths_t = random_batch(lengths, len(tags), seed=5)
    spans = [(row, start, end) for row, n in enumerate(lengths) for start in range(n) for end in range(start + 1, n + 1)]
    sub_paths = [tags.span_tag_ids((start, end, "PER")) for _, start, end in spans]
    width = max(len(p) for p in sub_paths)
    span_tags = torch.tensor([p + [-1] * (width - len(p)) for p in sub_paths])
    log_probs = span_log_probs(
        crf, emissions, lengths_t, torch.tensor([s[0] for s in spans]), torch.tensor([s[1] for s in spans]), span_tags
    )
    for (row, start, end), sub_path, log_prob in zip(spans, sub_paths, log_probs):
        log_z = brute_log_z(crf, tags, emissions[row], lengths[row])
        mass = sum(
            math.exp(brute_score(crf, emissions[row], p) - log_z)
            for p in allowed_paths(tags, lengths[row])
            if list(p[start:end]) == sub_path
        )
        assert math.exp(log_prob.item()) == pytest.approx(mass, abs=1e-9)


def test_scores_of_every_label_for_one_span_sum_to_at_most_one():
    tags, crf = make_crf(("PER", "LOC", "ORG"), seed=6)
    emissions, lengths = random_batch([5], len(tags), seed=6)
    span_tags = torch.tensor([tags.span_tag_ids((1, 3, label)) for label in tags.labels])
    probs = span_log_probs(crf, emissions.float(), lengths, torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long), span_tags).exp()
    assert torch.all((probs >= 0) & (probs <= 1))
    assert probs.sum().item() <= 1 + 1e-6


def test_viterbi_under_random_weights_is_always_valid_biluo():
    tags, _ = make_crf(("PER", "LOC", "ORG", "MISC"))
    for seed in range(20):
        _, crf = make_crf(("PER", "LOC", "ORG", "MISC"), seed=seed)
        emissions, lengths = random_batch([1, 7, 15, 30], len(tags), seed=seed)
        emissions = emissions.float() * 5
        paths = viterbi(crf, emissions, lengths)
        for row, length in enumerate(lengths.tolist()):
            assert tags.is_valid_path(paths[row, :length].tolist())


def test_zero_length_rows_have_empty_paths_and_no_loss():
    tags, crf = make_crf(("PER",))
    emissions, _ = random_batch([3, 3], len(tags))
    lengths = torch.tensor([0, 3])
    assert crf.log_partition(emissions.float(), lengths)[0].item() == 0
    assert torch.all(viterbi(crf, emissions.float(), lengths)[0] == -1)
    gold = torch.full((2, 3), -1, dtype=torch.long)
    assert crf.negative_log_likelihood(emissions.float(), lengths, gold)[0].item() == 0


def test_masked_transitions_get_finite_gradients():
    tags, crf = make_crf(("PER", "LOC"), seed=7)
    emissions, lengths = random_batch([4, 2], len(tags), seed=7)
    emissions = emissions.float().requires_grad_()
    gold = torch.tensor([[tags.ids["B-PER"], -1, tags.ids["L-PER"], tags.ids["O"]], [tags.ids["U-LOC"], -1, -1, -1]])
    crf.negative_log_likelihood(emissions, lengths, gold).sum().backward()
    for tensor in [emissions.grad, *(p.grad for p in crf.parameters())]:
        assert torch.all(torch.isfinite(tensor))
    assert torch.all(crf.transition_scores.grad[~crf.allowed_transitions] == 0)


def test_fixed_crf_for_softmax_output_has_no_parameters_but_still_masks():
    tags, crf = make_crf(("PER",), trainable=False)
    assert list(crf.parameters()) == []
    emissions = torch.zeros(1, 3, len(tags))
    emissions[0, :, tags.ids["I-PER"]] = 10.0  # a softmax that only likes I-PER: invalid on its own
    path = viterbi(crf, emissions, torch.tensor([3]))[0].tolist()
    assert tags.is_valid_path(path)


def test_span_probabilities_at_a_temperature_equal_brute_force_on_scaled_scores():
    tags, crf = make_crf(("PER",), seed=8)
    crf = crf.double()
    emissions, lengths = random_batch([4], len(tags), seed=8)
    temperature = 2.5
    span_tags = torch.tensor([tags.span_tag_ids((1, 3, "PER"))])
    log_prob = span_log_probs(crf, emissions, lengths, torch.tensor([0]), torch.tensor([1]), span_tags, temperature)[0]

    def scaled(path):
        return brute_score(crf, emissions[0], path) / temperature

    paths = allowed_paths(tags, 4)
    top = max(scaled(p) for p in paths)
    total = sum(math.exp(scaled(p) - top) for p in paths)
    inside = sum(math.exp(scaled(p) - top) for p in paths if list(p[1:3]) == span_tags[0].tolist())
    assert math.exp(log_prob.item()) == pytest.approx(inside / total, abs=1e-9)


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_inference_log_partition_agrees_with_trainings_on_padded_batches(scale):
    """Tagging reads the lattice in numpy (scaled products of exponentials); training's torch
    log-space pass must give the same log Z, padding and sharply peaked float32 scores included."""
    tags, crf = make_crf(("PER", "LOC", "ORG", "MISC"), seed=9)
    emissions, lengths = random_batch([1, 9, 23, 5, 23], len(tags), seed=9)
    emissions = emissions.float() * scale
    numpy_log_z = []
    for row, length in enumerate(lengths.tolist()):
        alphas, betas = lattice.forward_backward(emissions[row : row + 1, :length].numpy(), *crf.masked_scores_numpy())
        at_every_position = [lattice.log_partition_from_passes(alphas, betas, numpy.array([t]))[0] for t in range(length)]
        assert numpy.allclose(at_every_position, at_every_position[0], atol=1e-9)
        numpy_log_z.append(at_every_position[0])
    with torch.no_grad():
        torch_log_z = crf.log_partition(emissions, lengths)
    assert numpy.allclose(numpy_log_z, torch_log_z.numpy(), rtol=1e-5, atol=1e-3)
    probs = marginals(crf, emissions, lengths)
    for row, length in enumerate(lengths.tolist()):
        assert torch.allclose(probs[row, :length].sum(1), torch.ones(length, dtype=probs.dtype), atol=1e-4)


@pytest.mark.parametrize("temperature", [1.0, 1.7])
def test_a_sequences_span_probabilities_are_the_same_bits_alone_and_in_any_batch(temperature):
    """Tagging the same text alone (the one-row passes), or beside others of its length, must
    give the same scores to the last bit, for spans anywhere: at either end, nested in time, far
    apart, of any width; calibrated or not."""
    tags, crf = make_crf(("PER", "LOC"), seed=8)
    scores = crf.masked_scores_numpy()
    rng = numpy.random.default_rng(8)
    for length in (1, 2, 5, 12):
        batch = [(4 * rng.standard_normal((length, len(tags)))).astype("float32") for _ in range(5)]
        candidates = [(s, e, label) for s in range(length) for e in range(s + 1, length + 1) for label in ("PER", "LOC")]
        for _ in range(10):
            chosen = [candidates[i] for i in rng.choice(len(candidates), size=min(3, len(candidates)), replace=False)]
            sub_paths = [tags.span_tag_ids(span) for span in chosen]
            span_tags = numpy.full((len(chosen), max(map(len, sub_paths))), -1)
            for row, ids in enumerate(sub_paths):
                span_tags[row, : len(ids)] = ids
            span_starts = numpy.array([s for s, _, _ in chosen])
            alone = lattice.span_log_probs([batch[2]], scores, numpy.zeros(len(chosen), dtype=int), span_starts, span_tags,
                                           temperature)
            # In a batch, beside a wider span in another sequence.
            widest = tags.span_tag_ids((0, length, "PER"))
            in_batch = lattice.span_log_probs(
                batch, scores, numpy.array([2] * len(chosen) + [4]), numpy.append(span_starts, 0),
                numpy.vstack([numpy.pad(span_tags, ((0, 0), (0, length - span_tags.shape[1])), constant_values=-1),
                              widest]), temperature,
            )
            assert alone.tobytes() == in_batch[: len(chosen)].tobytes()


def test_one_sentences_viterbi_shortcut_finds_the_batch_paths():
    for seed in range(10):
        tags, crf = make_crf(("PER", "LOC", "ORG", "MISC"), seed=seed)
        start, end, transitions = crf.masked_scores_numpy()
        rng = numpy.random.default_rng(seed)
        for length in (1, 2, 9, 40):
            emissions = (5 * rng.standard_normal((1, length, len(tags)))).astype("float32")
            alone = lattice.viterbi(emissions, numpy.array([length]), start, end, transitions)
            in_batch = lattice.viterbi(numpy.concatenate([emissions, emissions]), numpy.array([length, length]),
                                             start, end, transitions)
            assert alone[0].tolist() == in_batch[1].tolist()
            assert tags.is_valid_path(alone[0].tolist())
