"""The CRF's inference, the one implementation for every device: best paths (Viterbi) and the
probability of each predicted entity's tag sub-path (forward-backward). Inference needs no
gradient, so it runs in numpy on the host: a numpy operation on a few hundred numbers costs
about a microsecond where a torch operation costs several, and tagging a sentence is hundreds
of them. Forbidden starts, ends and transitions are -inf, as in crf.py, whose torch passes are
the ones training differentiates.

`decode` and `span_log_probs` take one (n_i, T) array per sequence; the functions below them
work on padded batches. Shapes: emissions (B, L, T), lengths (B,), start (T,), end (T,),
transitions (T_prev, T_next).
"""
import math
from typing import List, Optional, Sequence, Tuple

import numpy

from .encoder import length_buckets

# (start (T,), end (T,), transitions (T_prev, T_next)) as numpy arrays, forbidden entries -inf.
Scores = Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]

_TINY = numpy.finfo(numpy.float64).tiny


def decode(emissions: Sequence[numpy.ndarray], scores: Scores, max_padded_tokens: int) -> List[numpy.ndarray]:
    """The best valid tag path (n_i,) of each sequence's emissions (n_i, T). Sequences are
    decoded in length buckets of at most `max_padded_tokens` padded positions."""
    paths: List[Optional[numpy.ndarray]] = [None] * len(emissions)
    for bucket in length_buckets([e.shape[0] for e in emissions], max_padded_tokens):
        padded, lengths = _pad(emissions, bucket)
        best = viterbi(padded, lengths, *scores)
        for row, index in enumerate(bucket):
            paths[index] = best[row, : lengths[row]]
    return paths


def span_log_probs(
    emissions: Sequence[numpy.ndarray], scores: Scores, span_docs: numpy.ndarray, span_starts: numpy.ndarray,
    span_tags: numpy.ndarray, temperature: float, max_padded_tokens: int,
) -> numpy.ndarray:
    """log p(span_tags[s] at positions span_starts[s]... of sequence span_docs[s]) (S,), the CRF
    marginal of that exact tag sub-path, with every score divided by `temperature`
    (calibration; 1 = the trained model). `span_tags` (S, W) is padded with -1."""
    result = numpy.zeros(span_docs.shape[0], dtype=emissions[0].dtype if len(emissions) else numpy.float32)
    if span_docs.shape[0] == 0:
        return result
    if temperature != 1.0:
        scores = tuple(s / s.dtype.type(temperature) for s in scores)
    buckets = length_buckets([e.shape[0] for e in emissions], max_padded_tokens)
    for bucket in buckets:
        padded, lengths = _pad(emissions, bucket)
        if temperature != 1.0:
            padded = padded / padded.dtype.type(temperature)
        if len(buckets) == 1 and bucket == list(range(len(emissions))):
            # One bucket in the sequences' own order (always so for one sentence).
            return padded_span_log_probs(padded, lengths, *scores, span_docs, span_starts, span_tags)
        row_of_doc = numpy.full(len(emissions), -1, dtype=numpy.int64)
        row_of_doc[bucket] = numpy.arange(len(bucket))
        selected = numpy.flatnonzero(row_of_doc[span_docs] >= 0)
        if selected.shape[0] == 0:
            continue
        width = int((span_tags[selected] >= 0).sum(axis=1).max())
        result[selected] = padded_span_log_probs(
            padded, lengths, *scores, row_of_doc[span_docs[selected]], span_starts[selected],
            span_tags[selected, :width],
        )
    return result


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
    score = start[None, :] + emissions[:, 0]
    backpointers = numpy.empty((max_length, batch_size, emissions.shape[2]), dtype=numpy.int64)
    for t in range(1, max_length):
        candidates = score[:, :, None] + transitions[None, :, :]
        best_previous = backpointers[t] = candidates.argmax(axis=1)
        stepped = candidates[row_index, best_previous, tag_index] + emissions[:, t]
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
    (1, T, T), and the path walked back in Python integers. For one sentence at a time this
    takes about 40% less time: the numpy calls' overhead, not the arithmetic, is the cost."""
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
    emissions: numpy.ndarray, lengths: numpy.ndarray, start: numpy.ndarray, end: numpy.ndarray,
    transitions: numpy.ndarray,
) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Forward scores (B, L, T, emission included; padding repeats the last real position),
    backward scores (B, L, T, own emission excluded, end scores included) and log Z (B,),
    as crf.py's torch forward pass defines them (the backward pass is its mirror).

    Computed as scaled products of exponentials (Rabiner's scaling): each step is one
    (B, T) x (T, T) product and a normalisation, and the logarithms are taken once at the end.
    Every factor is exponentiated after subtracting its largest finite entry, and every
    step's vector is normalised to sum to one, so nothing overflows. The passes run in
    float64: a tag whose emission is more than about 745 below the best at its position
    counts as unreachable (in float32 that would happen at 88, within reach of a peaked model)."""
    dtype = emissions.dtype
    batch_size, max_length, n_tags = emissions.shape
    if max_length == 0:
        empty = numpy.empty_like(emissions)
        return empty, empty.copy(), numpy.zeros(batch_size, dtype=dtype)
    padded = bool((lengths < max_length).any())
    real = numpy.arange(max_length)[:, None] < lengths[None, :]  # (L, B)
    with numpy.errstate(divide="ignore"):  # log(0) = -inf: a tag no valid path reaches
        (exp_emissions, emission_shift), (exp_start, start_shift), (exp_end, end_shift), \
            (exp_transitions, transitions_shift) = _exponentiated_factors(emissions, start, end, transitions)
        exp_transitions_t = numpy.ascontiguousarray(exp_transitions.T)
        # Position-major (L, B, T), so that each step reads and writes contiguous rows.
        exp_emissions = exp_emissions.transpose(1, 0, 2).copy()

        # Forward: scaled[t] sums to one per row; scales[t] is what was divided out. A row
        # whose sum is 0 (no valid path) is divided by TINY instead: still exact, as the
        # logarithms add back log(TINY).
        scaled = numpy.empty((max_length, batch_size, n_tags))
        scales = numpy.ones((max_length, batch_size))
        numpy.multiply(exp_start, exp_emissions[0], out=scaled[0])
        for t in range(max_length):
            if t > 0:
                numpy.matmul(scaled[t - 1], exp_transitions, out=scaled[t])
                scaled[t] *= exp_emissions[t]
                if padded:
                    # A padding position repeats the last real one: nothing more is divided out.
                    scaled[t] = numpy.where(real[t][:, None], scaled[t], scaled[t - 1])
            total = numpy.maximum(scaled[t].sum(axis=1), _TINY)
            if padded and t > 0:
                total = numpy.where(real[t], total, 1.0)
            scaled[t] /= total[:, None]
            scales[t] = total
        increments = numpy.log(scales) + emission_shift.T + transitions_shift
        increments[0] += start_shift - transitions_shift
        if padded:
            increments[1:] = numpy.where(real[1:], increments[1:], 0.0)
        log_scales = numpy.cumsum(increments, axis=0)  # (L, B)
        alphas = (numpy.log(scaled) + log_scales[:, :, None]).transpose(1, 0, 2)
        log_z = numpy.log((scaled[max_length - 1] * exp_end).sum(axis=1)) + log_scales[max_length - 1] + end_shift

        # Backward: beta at a row's last real position (and at its padding) is the end score.
        # increments[t] is what step t divided out, 0 where t + 1 is padding, so the reversed
        # cumulative sum restarts at each row's end.
        scaled = numpy.empty((max_length, batch_size, n_tags))
        scales = numpy.ones((max_length, batch_size))
        scaled[max_length - 1] = exp_end
        for t in range(max_length - 2, -1, -1):
            numpy.multiply(exp_emissions[t + 1], scaled[t + 1], out=scaled[t])
            numpy.matmul(scaled[t], exp_transitions_t, out=scaled[t])
            if padded:
                # Where t + 1 is padding, position t is the last real one and ends the path.
                scaled[t] = numpy.where(real[t + 1][:, None], scaled[t], exp_end)
            total = numpy.maximum(scaled[t].sum(axis=1), _TINY)
            if padded:
                total = numpy.where(real[t + 1], total, 1.0)
            scaled[t] /= total[:, None]
            scales[t] = total
        increments = numpy.zeros((max_length, batch_size))
        increments[:-1] = numpy.log(scales[:-1]) + emission_shift.T[1:] + transitions_shift
        if padded:
            increments[:-1] = numpy.where(real[1:], increments[:-1], 0.0)
        log_shifts = numpy.cumsum(increments[::-1], axis=0)[::-1] + end_shift
        betas = (numpy.log(scaled) + log_shifts[:, :, None]).transpose(1, 0, 2)
    return alphas.astype(dtype), betas.astype(dtype), log_z.astype(dtype)


def padded_span_log_probs(
    emissions: numpy.ndarray, lengths: numpy.ndarray, start: numpy.ndarray, end: numpy.ndarray,
    transitions: numpy.ndarray, span_rows: numpy.ndarray, span_starts: numpy.ndarray, span_tags: numpy.ndarray,
) -> numpy.ndarray:
    """log p(span_tags[s] at positions span_starts[s]... of row span_rows[s]) (S,), as
    span_log_probs defines it, for a padded batch; span_tags (S, W) is padded with -1."""
    if span_rows.shape[0] == 0:
        return numpy.zeros(0, dtype=emissions.dtype)
    span_lengths = (span_tags >= 0).sum(axis=1)
    safe_tags = numpy.maximum(span_tags, 0)
    span_ends = span_starts + span_lengths - 1
    first_tags, last_tags = safe_tags[:, 0], safe_tags[numpy.arange(len(safe_tags)), span_lengths - 1]
    if emissions.shape[0] == 1 and lengths[0] == emissions.shape[1]:
        score = _span_ends_one_row(emissions[0], start, end, transitions, span_starts, span_ends, first_tags, last_tags)
    else:
        alphas, betas, log_z = forward_backward(emissions, lengths, start, end, transitions)
        score = alphas[span_rows, span_starts, first_tags] + betas[span_rows, span_ends, last_tags] - log_z[span_rows]
    width = span_tags.shape[1]
    if width > 1:
        offsets = numpy.arange(1, width)
        inside = offsets[None, :] < span_lengths[:, None]
        positions = numpy.minimum(span_starts[:, None] + offsets[None, :], emissions.shape[1] - 1)
        steps = transitions[safe_tags[:, :-1], safe_tags[:, 1:]]
        steps = steps + emissions[span_rows[:, None], positions, safe_tags[:, 1:]]
        score = score + numpy.where(inside, steps, 0.0).sum(axis=1)
    return score.astype(emissions.dtype)


def _span_ends_one_row(
    emissions: numpy.ndarray, start: numpy.ndarray, end: numpy.ndarray, transitions: numpy.ndarray,
    span_starts: numpy.ndarray, span_ends: numpy.ndarray, first_tags: numpy.ndarray, last_tags: numpy.ndarray,
) -> numpy.ndarray:
    """alpha(span start, first tag) + beta(span end, last tag) - log Z for the spans of one
    unpadded row (L, T), in float64: the part of span_log_probs that needs the lattice.

    For one sentence at a time the full passes are most of the cost of the entity scores, so
    only what the spans need is computed: forward up to the last span start, backward down
    to the first span end, and log Z from the two at a position both reach (sum over tags of
    alpha * beta is the same at every position). One span costs one pass, not two. The
    scaling is forward_backward's: each step's vector is divided by its sum, whose logarithm
    is kept."""
    max_length, n_tags = emissions.shape
    forward_until = int(span_starts.max())
    backward_until = int(span_ends.min())
    # log Z is read at a position both passes reach: where they do not meet (every span ends
    # after the last one starts), the forward pass goes on to the first span end.
    forward_until = max(forward_until, backward_until)
    with numpy.errstate(divide="ignore"):  # log(0) = -inf: a tag no valid path reaches
        (exp_emissions, emission_shift), (exp_start, start_shift), (exp_end, end_shift), \
            (exp_transitions, transitions_shift) = _exponentiated_factors(emissions, start, end, transitions)

        scaled_alphas = numpy.empty((forward_until + 1, n_tags))
        log_scales = [0.0] * (forward_until + 1)  # log of what was divided out, cumulated
        alpha = numpy.multiply(exp_start, exp_emissions[0], out=scaled_alphas[0])
        total = max(float(alpha.sum()), _TINY)
        alpha /= total
        log_scale = math.log(total) + float(emission_shift[0]) + float(start_shift)
        log_scales[0] = log_scale
        for t in range(1, forward_until + 1):
            alpha = numpy.matmul(alpha, exp_transitions, out=scaled_alphas[t])
            alpha *= exp_emissions[t]
            total = max(float(alpha.sum()), _TINY)
            alpha /= total
            log_scale += math.log(total) + float(emission_shift[t]) + float(transitions_shift)
            log_scales[t] = log_scale
        forward_logs = numpy.log(scaled_alphas) + numpy.asarray(log_scales)[:, None]

        exp_transitions_t = numpy.ascontiguousarray(exp_transitions.T)
        scaled_betas = numpy.empty((max_length - backward_until, n_tags))  # row k: position backward_until + k
        beta_log_scales = [0.0] * (max_length - backward_until)
        beta = scaled_betas[-1]
        beta[...] = exp_end
        log_scale = float(end_shift)
        beta_log_scales[-1] = log_scale
        for t in range(max_length - 2, backward_until - 1, -1):
            row = t - backward_until
            beta = numpy.multiply(exp_emissions[t + 1], beta, out=scaled_betas[row])
            beta = numpy.matmul(beta, exp_transitions_t, out=beta)
            total = max(float(beta.sum()), _TINY)
            beta /= total
            log_scale += math.log(total) + float(emission_shift[t + 1]) + float(transitions_shift)
            beta_log_scales[row] = log_scale
        backward_logs = numpy.log(scaled_betas) + numpy.asarray(beta_log_scales)[:, None]

        meet = forward_until
        mass = float(scaled_alphas[meet] @ scaled_betas[meet - backward_until])
        log_z = math.log(max(mass, _TINY)) + log_scales[meet] + beta_log_scales[meet - backward_until]
    return forward_logs[span_starts, first_tags] + backward_logs[span_ends - backward_until, last_tags] - log_z


def _exponentiated_factors(emissions: numpy.ndarray, start: numpy.ndarray, end: numpy.ndarray,
                           transitions: numpy.ndarray):
    """The lattice's factors in float64, each exponentiated after subtracting its largest
    finite entry (the emissions: at each position, along their last axis), with what was
    subtracted: ((exp emissions, emission shifts), (exp start, shift), (exp end, shift),
    (exp transitions, shift)). Nothing overflows; the shifts are added back as logarithms."""
    emissions = numpy.asarray(emissions, dtype=numpy.float64)
    emission_shift = _finite_or_zero(emissions.max(axis=-1))
    exp_emissions = numpy.exp(emissions - emission_shift[..., None])
    start, end, transitions = (_exp_shifted(numpy.asarray(a, dtype=numpy.float64)) for a in (start, end, transitions))
    return (exp_emissions, emission_shift), start, end, transitions


def _finite_or_zero(values: numpy.ndarray) -> numpy.ndarray:
    return numpy.where(numpy.isfinite(values), values, 0.0).astype(values.dtype)


def _exp_shifted(log_values: numpy.ndarray) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """(exp(log_values - shift), shift) with shift the largest finite entry: no overflow."""
    finite = numpy.isfinite(log_values)
    shift = log_values[finite].max() if finite.any() else log_values.dtype.type(0)
    return numpy.exp(log_values - shift), shift
