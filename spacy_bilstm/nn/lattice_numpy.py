"""The CRF's inference passes (Viterbi, forward-backward) in numpy, for CPU tensors that need
no gradient: the same loops over positions as in crf.py, but a numpy operation on a few
hundred numbers costs about a microsecond where a torch operation costs several, and tagging
a sentence is hundreds of them. Forbidden starts, ends and transitions are -inf, as there.

Shapes: emissions (B, L, T), lengths (B,), start (T,), end (T,), transitions (T_prev, T_next).
"""
from typing import Tuple

import numpy


def viterbi(
    emissions: numpy.ndarray, lengths: numpy.ndarray, start: numpy.ndarray, end: numpy.ndarray,
    transitions: numpy.ndarray,
) -> numpy.ndarray:
    """Best path per row (B, L) of tag ids, -1 at padding."""
    batch_size, max_length, _ = emissions.shape
    paths = numpy.full((batch_size, max_length), -1, dtype=numpy.int64)
    if max_length == 0:
        return paths
    rows = numpy.arange(batch_size)
    score = start[None, :] + emissions[:, 0]
    backpointers = numpy.empty((max_length, batch_size, emissions.shape[2]), dtype=numpy.int64)
    for t in range(1, max_length):
        candidates = score[:, :, None] + transitions[None, :, :]
        best_previous = candidates.argmax(axis=1)
        best = numpy.take_along_axis(candidates, best_previous[:, None, :], axis=1)[:, 0]
        score = numpy.where((t < lengths)[:, None], best + emissions[:, t], score)
        backpointers[t] = best_previous
    current = (score + end[None, :]).argmax(axis=1)
    for t in range(max_length - 1, 0, -1):
        present = t < lengths
        paths[present, t] = current[present]
        current = numpy.where(present, backpointers[t, rows, current], current)
    paths[lengths > 0, 0] = current[lengths > 0]
    return paths


def forward_backward(
    emissions: numpy.ndarray, lengths: numpy.ndarray, start: numpy.ndarray, end: numpy.ndarray,
    transitions: numpy.ndarray,
) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Forward scores (B, L, T, emission included; padding repeats the last real position),
    backward scores (B, L, T, own emission excluded, end scores included) and log Z (B,),
    as LinearChainCRF._alphas, _betas and _forward_backward define them."""
    batch_size, max_length, n_tags = emissions.shape
    alphas = numpy.empty_like(emissions)
    betas = numpy.empty_like(emissions)
    if max_length == 0:
        return alphas, betas, numpy.zeros(batch_size, dtype=emissions.dtype)
    with numpy.errstate(divide="ignore"):  # log(0) = -inf: a tag no valid path reaches
        exp_transitions, shift = _exp_shifted(transitions)
        exp_transitions_t = numpy.ascontiguousarray(exp_transitions.T)
        alpha = start[None, :] + emissions[:, 0]
        alphas[:, 0] = alpha
        for t in range(1, max_length):
            stepped = _log_matmul_exp(alpha, exp_transitions, shift) + emissions[:, t]
            alpha = numpy.where((t < lengths)[:, None], stepped, alpha)
            alphas[:, t] = alpha
        beta = numpy.broadcast_to(end[None, :], (batch_size, n_tags))
        betas[:, max_length - 1] = beta
        for t in range(max_length - 2, -1, -1):
            stepped = _log_matmul_exp(emissions[:, t + 1] + beta, exp_transitions_t, shift)
            # Where t + 1 is padding, position t is the last real one and ends the path.
            beta = numpy.where((t + 1 < lengths)[:, None], stepped, end[None, :])
            betas[:, t] = beta
        final = alphas[:, max_length - 1] + end[None, :]
        top = _finite_or_zero(final.max(axis=1))
        log_z = numpy.log(numpy.exp(final - top[:, None]).sum(axis=1)) + top
    return alphas, betas, log_z


def _finite_or_zero(values: numpy.ndarray) -> numpy.ndarray:
    return numpy.where(numpy.isfinite(values), values, 0.0).astype(values.dtype)


def _exp_shifted(log_matrix: numpy.ndarray) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """(exp(log_matrix - shift), shift) with shift its largest finite entry: no overflow."""
    finite = numpy.isfinite(log_matrix)
    shift = log_matrix[finite].max() if finite.any() else log_matrix.dtype.type(0)
    return numpy.exp(log_matrix - shift), shift


def _log_matmul_exp(log_rows: numpy.ndarray, exp_matrix: numpy.ndarray, matrix_shift) -> numpy.ndarray:
    """log(exp(log_rows) @ exp(log_matrix)) for exp_matrix = exp(log_matrix - matrix_shift):
    one (B, T) x (T, T) product in place of a log-sum-exp over (B, T, T)."""
    shift = _finite_or_zero(log_rows.max(axis=1, keepdims=True))
    return numpy.log(numpy.exp(log_rows - shift) @ exp_matrix) + (shift + matrix_shift)
