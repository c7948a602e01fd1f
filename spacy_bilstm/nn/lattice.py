"""The CRF's inference, the one implementation for every device: best paths (Viterbi) and the
probability of each predicted entity's tag sub-path and of a whole path (forward-backward). Inference needs no
gradient, so it runs in numpy on the host: a numpy operation on a few hundred numbers costs
about a microsecond where a torch operation costs several, and tagging a sentence is hundreds
of them. Forbidden starts, ends and transitions are -inf, as in crf.py, whose torch passes are
the ones training differentiates.

`decode`, `span_log_probs` and `path_log_probs` take one (n_i, T) array per sequence; the
functions below them work on padded batches. Shapes: emissions (B, L, T), lengths (B,), start (T,), end (T,),
transitions (T_prev, T_next).
"""
import functools
from typing import List, Optional, Sequence, Tuple

import numpy

from .encoder import equal_length_buckets

# (start (T,), end (T,), transitions (T_prev, T_next)) as numpy arrays, forbidden entries -inf.
Scores = Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]

_TINY = numpy.finfo(numpy.float64).tiny


# Decoding batches rows whose lengths are within this fraction of the batch's longest.
DECODE_LENGTH_FRACTION = 0.75


def decode(emissions: Sequence[numpy.ndarray], scores: Scores, max_padded_tokens: int) -> List[numpy.ndarray]:
    """The best valid tag path (n_i,) of each sequence's emissions (n_i, T). Sequences are
    decoded in batches of similar lengths (see similar_length_buckets), of at most
    `max_padded_tokens` positions. One padded batch would step every row to its longest row's
    length, and sentence lengths vary widely; batches of one length alone leave whole documents,
    whose lengths rarely repeat, to one Python loop each (benchmarks/profile_tagging.py shows
    both costs). A row's path is the same in any batch: padding is masked, and the sums and
    argmaxes run along its own tags."""
    paths: List[Optional[numpy.ndarray]] = [None] * len(emissions)
    for bucket in similar_length_buckets([e.shape[0] for e in emissions], max_padded_tokens):
        padded, lengths = _pad(emissions, bucket)
        best = viterbi(padded, lengths, *scores)
        for row, index in enumerate(bucket):
            paths[index] = best[row, : lengths[row]]
    return paths


def similar_length_buckets(
    lengths: Sequence[int], max_padded_tokens: int, fraction: float = DECODE_LENGTH_FRACTION
) -> List[List[int]]:
    """Row indices grouped longest first, each group's rows at least `fraction` of its longest
    row's length, and the group padded to its longest within `max_padded_tokens` positions."""
    buckets: List[List[int]] = []
    longest = 0
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        length = lengths[index]
        full = buckets and (len(buckets[-1]) + 1) * max(longest, 1) > max_padded_tokens
        if not buckets or full or length < fraction * longest:
            buckets.append([])
            longest = length
        buckets[-1].append(index)
    return buckets


def span_log_probs(
    emissions: Sequence[numpy.ndarray], scores: Scores, span_docs: numpy.ndarray, span_starts: numpy.ndarray,
    span_tags: numpy.ndarray, temperature: float = 1.0, max_padded_tokens: int = 65536,
) -> numpy.ndarray:
    """log p(span_tags[s] at positions span_starts[s]... of sequence span_docs[s]) (S,), the CRF
    marginal of that exact tag sub-path, with every score divided by `temperature`
    (calibration; 1 = the trained model). `span_tags` (S, W) is padded with -1.

    Sequences are read in batches of one length (never padded), and each one's arithmetic is
    the same in any batch (see forward_backward): a text's probabilities do not depend on the
    texts it is tagged with."""
    result = numpy.zeros(span_docs.shape[0], dtype=emissions[0].dtype if len(emissions) else numpy.float32)
    if span_docs.shape[0] == 0:
        return result
    if temperature != 1.0:
        scores = tuple(s / s.dtype.type(temperature) for s in scores)
    if len(emissions) == 1:
        # One sequence (tagging one text at a time): its own batch, as the loop below makes it.
        return _sub_path_log_probs(_divided(emissions[0][None], temperature), *scores, span_docs, span_starts,
                                   span_tags)
    docs_with_spans = numpy.unique(span_docs)
    lengths = [emissions[doc].shape[0] for doc in docs_with_spans]
    for bucket in equal_length_buckets(lengths, max_padded_tokens):
        docs = docs_with_spans[bucket]
        batch = _divided(numpy.stack([emissions[doc] for doc in docs]), temperature)
        row_of_doc = numpy.full(len(emissions), -1, dtype=numpy.int64)
        row_of_doc[docs] = numpy.arange(len(docs))
        rows = row_of_doc[span_docs]
        selected = numpy.flatnonzero(rows >= 0)
        result[selected] = _sub_path_log_probs(batch, *scores, rows[selected], span_starts[selected],
                                               span_tags[selected])
    return result


def path_log_probs(
    emissions: Sequence[numpy.ndarray], scores: Scores, paths: Sequence[Sequence[int]], temperature: float = 1.0,
    max_padded_tokens: int = 65536,
) -> numpy.ndarray:
    """log p(paths[i] | emissions[i]) (S,) in float64: the CRF probability of each sequence's
    whole tag path (for its best path: how sure the model is of the whole tagging), with every
    score divided by `temperature`. An empty sequence's only path has log-probability 0.

    log Z comes from the forward pass alone; sequences are batched by length, never padded,
    so a sequence's result does not depend on the sequences it comes with."""
    result = numpy.zeros(len(emissions), dtype=numpy.float64)
    if temperature != 1.0:
        scores = tuple(s / s.dtype.type(temperature) for s in scores)
    start, end, transitions = (numpy.asarray(s, dtype=numpy.float64) for s in scores)
    lengths = [e.shape[0] for e in emissions]
    for bucket in equal_length_buckets(lengths, max_padded_tokens):
        length = lengths[bucket[0]]
        if length == 0:
            continue
        batch = _divided(numpy.stack([emissions[i] for i in bucket]), temperature).astype(numpy.float64)
        tags = numpy.asarray([paths[i] for i in bucket], dtype=numpy.int64).reshape(len(bucket), length)
        alphas, betas = forward_backward(batch, *scores, length - 1, length - 1)
        log_z = log_partition_from_passes(alphas, betas, numpy.full(len(bucket), length - 1))
        emitted = numpy.take_along_axis(batch, tags[:, :, None], axis=2)[:, :, 0].sum(axis=1)
        stepped = transitions[tags[:, :-1], tags[:, 1:]].sum(axis=1)
        result[bucket] = start[tags[:, 0]] + emitted + stepped + end[tags[:, -1]] - log_z
    return result


def _divided(batch: numpy.ndarray, temperature: float) -> numpy.ndarray:
    return batch if temperature == 1.0 else batch / batch.dtype.type(temperature)


def _pad(rows: Sequence[numpy.ndarray], bucket: List[int]) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """The bucket's (n_i, T) rows as (B, max n_i, T), zero-padded, and their lengths (B,)."""
    lengths = numpy.fromiter((rows[i].shape[0] for i in bucket), dtype=numpy.int64, count=len(bucket))
    if len(bucket) == 1:
        return rows[bucket[0]][None], lengths
    first = rows[bucket[0]]
    padded = numpy.zeros((len(bucket), int(lengths.max()), first.shape[1]), dtype=first.dtype)
    for row, index in enumerate(bucket):
        padded[row, : lengths[row]] = rows[index]
    return padded, lengths


def viterbi(
    emissions: numpy.ndarray, lengths: numpy.ndarray, start: numpy.ndarray, end: numpy.ndarray,
    transitions: numpy.ndarray,
) -> numpy.ndarray:
    """Best path per row (B, L) of tag ids, -1 at padding."""
    batch_size, max_length, _ = emissions.shape
    paths = numpy.full((batch_size, max_length), -1, dtype=numpy.int64)
    if max_length == 0:
        return paths
    if batch_size == 1 and lengths[0] == max_length:
        paths[0] = _viterbi_one_row(emissions[0], start, end, transitions)
        return paths
    # Rows of one length (always so for a single sentence) need no masking of padding.
    padded = bool((lengths < max_length).any())
    real = numpy.arange(max_length)[:, None] < lengths[None, :]  # (L, B)
    rows = numpy.arange(batch_size)
    # Index arrays that pick, for each row and tag, the candidate its best previous tag gives.
    row_index, tag_index = rows[:, None], numpy.arange(emissions.shape[2])[None, :]
    # Candidates as (B, T_next, T_prev): the argmax over the previous tag then runs along
    # contiguous memory, which is faster, on the same sums.
    transitions_to = numpy.ascontiguousarray(transitions.T)
    score = start[None, :] + emissions[:, 0]
    backpointers = numpy.empty((max_length, batch_size, emissions.shape[2]), dtype=numpy.int64)
    for t in range(1, max_length):
        candidates = score[:, None, :] + transitions_to[None, :, :]
        best_previous = backpointers[t] = candidates.argmax(axis=2)
        stepped = candidates[row_index, tag_index, best_previous] + emissions[:, t]
        score = numpy.where(real[t][:, None], stepped, score) if padded else stepped
    current = (score + end[None, :]).argmax(axis=1)
    for t in range(max_length - 1, 0, -1):
        if padded:
            present = real[t]
            paths[present, t] = current[present]
            current = numpy.where(present, backpointers[t, rows, current], current)
        else:
            paths[:, t] = current
            current = backpointers[t, rows, current]
    paths[real[0], 0] = current[real[0]]
    return paths


def _viterbi_one_row(
    emissions: numpy.ndarray, start: numpy.ndarray, end: numpy.ndarray, transitions: numpy.ndarray
) -> list:
    """viterbi for one unpadded row (L, T): the same steps on (T, T) arrays instead of
    (1, T, T), and the path walked back in Python integers: for one sentence at a time the numpy
    calls' overhead, not the arithmetic, is the cost."""
    tag_index = numpy.arange(emissions.shape[1])
    score = start + emissions[0]
    backpointers = []
    for t in range(1, emissions.shape[0]):
        candidates = score[:, None] + transitions
        best_previous = candidates.argmax(axis=0)
        backpointers.append(best_previous)
        score = candidates[best_previous, tag_index] + emissions[t]
    tag = int((score + end).argmax())
    path = [tag]
    for best_previous in reversed(backpointers):
        tag = int(best_previous[tag])
        path.append(tag)
    return path[::-1]


def forward_backward(
    emissions: numpy.ndarray, start: numpy.ndarray, end: numpy.ndarray, transitions: numpy.ndarray,
    forward_until: Optional[int] = None, backward_until: int = 0,
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Forward scores (B, L, T, emission included) up to position `forward_until` (default: the
    last) and backward scores (B, L, T, own emission excluded, end scores included) down to
    `backward_until`, -inf elsewhere, of B sequences of one length L, in float64, as crf.py's
    torch forward pass defines them (the backward pass is its mirror). log Z of a row is
    `log_partition_from_passes` at any position both passes reached.

    Computed as scaled products of exponentials (Rabiner's scaling): each step multiplies by
    the exponentiated transitions and normalises, and the logarithms are taken once at the
    end. Every factor is exponentiated after subtracting its largest finite entry, and every
    step's vector is normalised to sum to one, so nothing overflows. A tag whose emission is
    more than about 745 below the best at its position counts as unreachable (in float32
    that would happen at 88, within reach of a peaked model).

    Each row's arithmetic is the same whatever rows it comes with, and wherever the passes
    stop: products are elementwise and sums run along one row (no BLAS call, whose kernels
    and rounding depend on the batch size), and a score at a position is computed only from
    the positions it depends on. Tagging only needs the passes to reach the entities' ends,
    so for one sentence at a time most of a pass is often skipped."""
    batch_size, length, n_tags = emissions.shape
    forward_until = length - 1 if forward_until is None else forward_until
    alphas = numpy.full((batch_size, length, n_tags), -numpy.inf)
    betas = numpy.full((batch_size, length, n_tags), -numpy.inf)
    if length == 0:
        return alphas, betas
    with numpy.errstate(divide="ignore"):  # log(0) = -inf: a tag no valid path reaches
        (exp_emissions, emission_shift), (exp_start, start_shift), (exp_end, end_shift), \
            (exp_transitions, transitions_shift) = _exponentiated_factors(emissions, start, end, transitions)
        # Position-major (L, B, T), so that each step reads and writes contiguous rows.
        exp_emissions = exp_emissions.transpose(1, 0, 2).copy()

        # Forward: scaled[t] sums to one per row; scales[t] is what was divided out. A row
        # whose sum is 0 (no valid path) is divided by TINY instead: still exact, as the
        # logarithms add back log(TINY).
        n_forward = forward_until + 1
        scaled = numpy.empty((n_forward, batch_size, n_tags))
        scales = numpy.ones((n_forward, batch_size))
        numpy.multiply(exp_start, exp_emissions[0], out=scaled[0])
        if batch_size == 1:
            _forward_one_row(scaled[:, 0], scales[:, 0], exp_emissions[:, 0], exp_transitions)
        else:
            for t in range(n_forward):
                if t > 0:
                    # sum over the previous tag i of scaled[t - 1, :, i] * exp_transitions[i, :]
                    numpy.sum(scaled[t - 1][:, :, None] * exp_transitions[None], axis=1, out=scaled[t])
                    scaled[t] *= exp_emissions[t]
                total = numpy.maximum(scaled[t].sum(axis=1), _TINY)
                scaled[t] /= total[:, None]
                scales[t] = total
        increments = numpy.log(scales) + emission_shift.T[:n_forward] + transitions_shift
        increments[0] += start_shift - transitions_shift
        log_scales = numpy.cumsum(increments, axis=0)  # (n_forward, B)
        alphas[:, :n_forward] = (numpy.log(scaled) + log_scales[:, :, None]).transpose(1, 0, 2)

        # Backward, from the end down to backward_until; increments[t] is what step t divided
        # out, summed from the end.
        scaled = numpy.empty((length, batch_size, n_tags))
        scales = numpy.ones((length, batch_size))
        scaled[length - 1] = exp_end
        if batch_size == 1:
            _backward_one_row(scaled[:, 0], scales[:, 0], exp_emissions[:, 0], exp_transitions, backward_until)
        else:
            for t in range(length - 2, backward_until - 1, -1):
                following = exp_emissions[t + 1] * scaled[t + 1]
                # sum over the next tag j of exp_transitions[:, j] * following[:, j]
                numpy.sum(exp_transitions[None] * following[:, None, :], axis=2, out=scaled[t])
                total = numpy.maximum(scaled[t].sum(axis=1), _TINY)
                scaled[t] /= total[:, None]
                scales[t] = total
        increments = numpy.zeros((length, batch_size))
        increments[backward_until:-1] = (
            numpy.log(scales[backward_until:-1]) + emission_shift.T[backward_until + 1:] + transitions_shift
        )
        log_shifts = numpy.cumsum(increments[::-1], axis=0)[::-1] + end_shift
        betas[:, backward_until:] = (
            numpy.log(scaled[backward_until:]) + log_shifts[backward_until:, :, None]
        ).transpose(1, 0, 2)
    return alphas, betas


def _forward_one_row(scaled: numpy.ndarray, scales: numpy.ndarray, exp_emissions: numpy.ndarray,
                     exp_transitions: numpy.ndarray) -> None:
    """forward_backward's forward loop for one row, in place on (n, T) and (n,) views: the same
    products and sums in the same order (so the same bits, which a test pins), on (T, T)
    arrays and Python scalars, without the batch loop's broadcasting. One sentence at a time
    takes hundreds of these steps, and their cost is the calls' overhead, not the arithmetic."""
    products = numpy.empty_like(exp_transitions)
    for t in range(scaled.shape[0]):
        current = scaled[t]
        if t > 0:
            numpy.multiply(scaled[t - 1][:, None], exp_transitions, out=products)
            products.sum(axis=0, out=current)
            current *= exp_emissions[t]
        total = max(current.sum(), _TINY)
        current /= total
        scales[t] = total


def _backward_one_row(scaled: numpy.ndarray, scales: numpy.ndarray, exp_emissions: numpy.ndarray,
                      exp_transitions: numpy.ndarray, backward_until: int) -> None:
    """forward_backward's backward loop for one row, as _forward_one_row is its forward loop."""
    products = numpy.empty_like(exp_transitions)
    for t in range(scaled.shape[0] - 2, backward_until - 1, -1):
        current = scaled[t]
        numpy.multiply(exp_transitions, exp_emissions[t + 1] * scaled[t + 1], out=products)
        products.sum(axis=1, out=current)
        total = max(current.sum(), _TINY)
        current /= total
        scales[t] = total


def log_partition_from_passes(alphas: numpy.ndarray, betas: numpy.ndarray, positions: numpy.ndarray) -> numpy.ndarray:
    """log Z (B,) of each row read off forward_backward's alphas and betas at positions[row]:
    the log-sum over tags of alpha + beta is the same at every position."""
    with numpy.errstate(invalid="ignore"):
        scores = alphas[numpy.arange(len(positions)), positions] + betas[numpy.arange(len(positions)), positions]
        shift = _finite_or_zero(scores.max(axis=1))
        return numpy.log(numpy.exp(scores - shift[:, None]).sum(axis=1)) + shift


def _sub_path_log_probs(
    emissions: numpy.ndarray, start: numpy.ndarray, end: numpy.ndarray, transitions: numpy.ndarray,
    span_rows: numpy.ndarray, span_starts: numpy.ndarray, span_tags: numpy.ndarray,
) -> numpy.ndarray:
    """log p(span_tags[s] at positions span_starts[s]... of row span_rows[s]) (S,) for B rows
    of one length (B, L, T); span_tags (S, W) is padded with -1."""
    span_lengths = (span_tags >= 0).sum(axis=1)
    safe_tags = numpy.maximum(span_tags, 0)
    span_ends = span_starts + span_lengths - 1
    first_tags, last_tags = safe_tags[:, 0], safe_tags[numpy.arange(len(safe_tags)), span_lengths - 1]
    # Each row's log Z is read where its own passes meet: after its last span start, and at or
    # after its first span end.
    n_rows = emissions.shape[0]
    if n_rows == 1:
        last_start, first_end = span_starts.max(keepdims=True), span_ends.min(keepdims=True)
    else:
        last_start = numpy.full(n_rows, -1)
        numpy.maximum.at(last_start, span_rows, span_starts)
        first_end = numpy.full(n_rows, emissions.shape[1])
        numpy.minimum.at(first_end, span_rows, span_ends)
    meet = numpy.maximum(last_start, first_end).clip(0, emissions.shape[1] - 1)
    alphas, betas = forward_backward(emissions, start, end, transitions, int(meet.max()), int(first_end.min()))
    log_z = log_partition_from_passes(alphas, betas, meet)
    score = alphas[span_rows, span_starts, first_tags] + betas[span_rows, span_ends, last_tags] - log_z[span_rows]
    # The steps inside each span, added one position at a time: the same additions in the
    # same order whatever the widest span beside it.
    for offset in range(1, span_tags.shape[1]):
        inside = offset < span_lengths
        positions = numpy.minimum(span_starts + offset, emissions.shape[1] - 1)
        step = transitions[safe_tags[:, offset - 1], safe_tags[:, offset]] + emissions[span_rows, positions, safe_tags[:, offset]]
        score = numpy.where(inside, score + step, score)
    return score.astype(emissions.dtype)


def _exponentiated_factors(emissions: numpy.ndarray, start: numpy.ndarray, end: numpy.ndarray,
                           transitions: numpy.ndarray):
    """The lattice's factors in float64, each exponentiated after subtracting its largest
    finite entry (the emissions: at each position, along their last axis), with what was
    subtracted: ((exp emissions, emission shifts), (exp start, shift), (exp end, shift),
    (exp transitions, shift)). Nothing overflows; the shifts are added back as logarithms."""
    emissions = numpy.asarray(emissions, dtype=numpy.float64)
    emission_shift = _finite_or_zero(emissions.max(axis=-1))
    exp_emissions = numpy.exp(emissions - emission_shift[..., None])
    return (exp_emissions, emission_shift), *_exponentiated_scores(start, end, transitions)


def _exponentiated_scores(start: numpy.ndarray, end: numpy.ndarray, transitions: numpy.ndarray):
    """((exp start, shift), (exp end, shift), (exp transitions, shift)) in float64, as
    _exponentiated_factors gives them. The same model's scores come with every text, so the
    last few are kept (keyed on their bytes: the values, not the arrays' identity)."""
    key = tuple((a.dtype.str, a.shape, a.tobytes()) for a in (start, end, transitions))
    return _exponentiated_scores_of(key)


@functools.lru_cache(maxsize=8)
def _exponentiated_scores_of(key) -> tuple:
    arrays = (numpy.frombuffer(data, dtype=dtype).reshape(shape) for dtype, shape, data in key)
    factors = tuple(_exp_shifted(numpy.asarray(a, dtype=numpy.float64)) for a in arrays)
    for exponentiated, _ in factors:
        exponentiated.flags.writeable = False  # shared by every call with the same scores
    return factors


def _finite_or_zero(values: numpy.ndarray) -> numpy.ndarray:
    return numpy.where(numpy.isfinite(values), values, 0.0).astype(values.dtype)


def _exp_shifted(log_values: numpy.ndarray) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """(exp(log_values - shift), shift) with shift the largest finite entry: no overflow."""
    finite = numpy.isfinite(log_values)
    shift = log_values[finite].max() if finite.any() else log_values.dtype.type(0)
    return numpy.exp(log_values - shift), shift
