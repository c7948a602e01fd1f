"""A linear-chain CRF whose forbidden transitions are given as boolean masks.

Forbidden starts, ends and transitions score -inf, so no probability mass can ever reach
an invalid path. `masked_logsumexp` keeps gradients finite where every term is -inf,
which is what makes exact masking (instead of a large negative constant) trainable.

Shapes: B = batch, L = padded length, T = number of tags. `lengths` holds each row's true
length; positions at or beyond it are padding and never change a result. Rows of length 0
are allowed: their log-partition is 0 and their path is empty.
"""
from typing import Optional, Tuple

import numpy
import torch
from torch import Tensor, nn

from . import lattice_numpy


def masked_logsumexp(x: Tensor, dim: int) -> Tensor:
    """logsumexp along `dim`; -inf (with zero gradient, not NaN) where every term is -inf."""
    if not x.requires_grad:
        # torch's own kernel already returns -inf there; only its gradient would be NaN.
        return torch.logsumexp(x, dim=dim)
    shift = x.detach().amax(dim=dim, keepdim=True)
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    total = torch.exp(x - shift).sum(dim=dim)
    has_mass = total > 0
    safe_total = torch.where(has_mass, total, torch.ones_like(total))
    return torch.where(
        has_mass, torch.log(safe_total) + shift.squeeze(dim), torch.full_like(total, float("-inf"))
    )


def _needs_gradient(*tensors: Tensor) -> bool:
    return torch.is_grad_enabled() and any(tensor.requires_grad for tensor in tensors)


def _numpy_inference(*tensors: Tensor) -> bool:
    """Whether the numpy passes (lattice_numpy) can stand in: CPU tensors, no gradient."""
    return all(tensor.device.type == "cpu" for tensor in tensors) and not _needs_gradient(*tensors)


def positions_mask(lengths: Tensor, max_length: int) -> Tensor:
    """(B, L) bool: True where a position holds a real token."""
    return torch.arange(max_length, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


class LinearChainCRF(nn.Module):
    """Transition, start and end scores over T tags, constrained by boolean masks.

    With `trainable=False` all scores are fixed at zero and only the masks act: decoding then
    finds the best *valid* path under the emissions alone (used by the softmax output).
    """

    def __init__(
        self, allowed_start: Tensor, allowed_end: Tensor, allowed_transitions: Tensor, trainable: bool = True
    ):
        super().__init__()
        n_tags = allowed_start.shape[0]
        if allowed_end.shape != (n_tags,) or allowed_transitions.shape != (n_tags, n_tags):
            raise ValueError(
                f"CRF masks disagree on the number of tags: start {tuple(allowed_start.shape)}, "
                f"end {tuple(allowed_end.shape)}, transitions {tuple(allowed_transitions.shape)}"
            )
        # Masks are derived from the labels, so they are rebuilt on load rather than stored.
        self.register_buffer("allowed_start", allowed_start.bool(), persistent=False)
        self.register_buffer("allowed_end", allowed_end.bool(), persistent=False)
        self.register_buffer("allowed_transitions", allowed_transitions.bool(), persistent=False)
        self.trainable = trainable
        # When every tag is reachable at every position after the first (true of BILUO), the
        # unconstrained forward pass never meets an all -inf sum and can use torch's fused
        # logsumexp even when gradients are needed.
        reachable_after_start = (allowed_start.bool().unsqueeze(1) & allowed_transitions.bool()).any(0)
        self.dense_lattice = bool(reachable_after_start.all() and allowed_transitions.bool().any(0).all())
        if trainable:
            self.start_scores = nn.Parameter(torch.zeros(n_tags))
            self.end_scores = nn.Parameter(torch.zeros(n_tags))
            self.transition_scores = nn.Parameter(torch.zeros(n_tags, n_tags))
        else:
            self.register_buffer("start_scores", torch.zeros(n_tags), persistent=False)
            self.register_buffer("end_scores", torch.zeros(n_tags), persistent=False)
            self.register_buffer("transition_scores", torch.zeros(n_tags, n_tags), persistent=False)

    @property
    def n_tags(self) -> int:
        return self.allowed_start.shape[0]

    def masked_scores(self, temperature: float = 1.0) -> Tuple[Tensor, Tensor, Tensor]:
        """(start (T,), end (T,), transitions (T_prev, T_next)) / temperature, with forbidden
        entries at -inf."""
        forbidden = float("-inf")
        start = torch.where(self.allowed_start, self.start_scores / temperature, forbidden)
        end = torch.where(self.allowed_end, self.end_scores / temperature, forbidden)
        transitions = torch.where(self.allowed_transitions, self.transition_scores / temperature, forbidden)
        return start, end, transitions

    def masked_scores_numpy(self, temperature: float = 1.0) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        """masked_scores as numpy arrays, for CPU inference (lattice_numpy): a few numpy
        operations where the torch ones cost several times as much."""
        scores = []
        for allowed, values in (
            (self.allowed_start, self.start_scores),
            (self.allowed_end, self.end_scores),
            (self.allowed_transitions, self.transition_scores),
        ):
            values = values.detach().numpy()
            if temperature != 1.0:
                values = values / values.dtype.type(temperature)
            scores.append(numpy.where(allowed.numpy(), values, values.dtype.type(-numpy.inf)))
        return scores[0], scores[1], scores[2]

    def _alphas(
        self, emissions: Tensor, lengths: Tensor, temperature: float = 1.0, constrained: bool = False
    ) -> Tensor:
        """Forward scores (B, L, T): log-sum over paths ending in each tag at each position,
        emission included. Padding positions repeat the last real position's scores.
        `constrained`: some emissions are -inf (gold constraints), so sums may be all -inf."""
        start, _, transitions = self.masked_scores(temperature)
        mask = positions_mask(lengths, emissions.shape[1])
        logsumexp = masked_logsumexp if constrained or not self.dense_lattice else torch.logsumexp
        alpha = start.unsqueeze(0) + emissions[:, 0]
        alphas = [alpha]
        for t in range(1, emissions.shape[1]):
            stepped = logsumexp(alpha.unsqueeze(2) + transitions.unsqueeze(0), dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t : t + 1], stepped, alpha)
            alphas.append(alpha)
        return torch.stack(alphas, dim=1)

    def _betas(self, emissions: Tensor, lengths: Tensor, temperature: float = 1.0) -> Tensor:
        """Backward scores (B, L, T): log-sum over the continuations after each position given
        its tag (its own emission excluded), end scores included."""
        _, end, transitions = self.masked_scores(temperature)
        mask = positions_mask(lengths, emissions.shape[1])
        length = emissions.shape[1]
        beta = end.unsqueeze(0).expand(emissions.shape[0], -1)
        betas = [beta]
        for t in range(length - 2, -1, -1):
            following = emissions[:, t + 1] + beta
            stepped = masked_logsumexp(transitions.unsqueeze(0) + following.unsqueeze(1), dim=2)
            # Where t + 1 is padding, position t is the last real one and ends the path.
            beta = torch.where(mask[:, t + 1 : t + 2], stepped, end.unsqueeze(0).expand_as(stepped))
            betas.append(beta)
        betas.reverse()
        return torch.stack(betas, dim=1)

    def log_partition(self, emissions: Tensor, lengths: Tensor, allowed_tags: Optional[Tensor] = None) -> Tensor:
        """log Z per row (B,). With `allowed_tags` (B, L, T bool) only paths through allowed
        tags count: a one-hot row gives the gold path's score, an all-True position leaves
        that token's tag open (marginalised)."""
        if emissions.shape[1] == 0:
            return emissions.new_zeros(emissions.shape[0])
        if allowed_tags is not None:
            emissions = emissions.masked_fill(~allowed_tags, float("-inf"))
        _, end, _ = self.masked_scores()
        alphas = self._alphas(emissions, lengths, constrained=allowed_tags is not None)
        log_z = masked_logsumexp(alphas[:, -1] + end.unsqueeze(0), dim=1)
        return torch.where(lengths > 0, log_z, torch.zeros_like(log_z))

    def path_score(self, emissions: Tensor, lengths: Tensor, tags: Tensor) -> Tensor:
        """Unnormalised log-score (B,) of the given tag paths (B, L); padding tags are ignored."""
        start, end, transitions = self.masked_scores()
        mask = positions_mask(lengths, emissions.shape[1])
        safe_tags = torch.where(mask, tags, torch.zeros_like(tags))
        emitted = emissions.gather(2, safe_tags.unsqueeze(2)).squeeze(2)
        score = torch.where(mask, emitted, torch.zeros_like(emitted)).sum(1)
        if emissions.shape[1] > 1:
            steps = transitions[safe_tags[:, :-1], safe_tags[:, 1:]]
            score = score + torch.where(mask[:, 1:], steps, torch.zeros_like(steps)).sum(1)
        last = safe_tags.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        score = score + start[safe_tags[:, 0]] + end[last]
        return torch.where(lengths > 0, score, torch.zeros_like(score))

    def negative_log_likelihood(self, emissions: Tensor, lengths: Tensor, gold: Tensor) -> Tensor:
        """-log p(gold) per row (B,). `gold` (B, L) holds tag ids, or -1 where the gold tag is
        unknown: those tokens are marginalised over every tag a valid path allows there."""
        known = gold >= 0
        real = positions_mask(lengths, emissions.shape[1])
        gold_score = self.path_score(emissions, lengths, gold.clamp(min=0))
        partial = (real & ~known).any(1)
        if partial.any():
            # Only rows with unknown tags need the constrained forward pass; a fully known
            # row's constrained log-partition is just its path score.
            rows = partial.nonzero().squeeze(1)
            one_hot = torch.nn.functional.one_hot(gold[rows].clamp(min=0), self.n_tags).bool()
            allowed_tags = torch.where(known[rows].unsqueeze(2), one_hot, torch.ones_like(one_hot))
            constrained = self.log_partition(emissions[rows], lengths[rows], allowed_tags)
            gold_score = gold_score.index_put((rows,), constrained)
        return self.log_partition(emissions, lengths) - gold_score

    def marginals(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """p(tag at position) (B, L, T); padding rows are zero."""
        log_marginals = self._log_marginals(emissions, lengths)
        mask = positions_mask(lengths, emissions.shape[1]).unsqueeze(2)
        return torch.where(mask, log_marginals.exp(), torch.zeros_like(log_marginals))

    def _forward_backward(
        self, emissions: Tensor, lengths: Tensor, temperature: float = 1.0
    ) -> Tuple[Tensor, Tensor, Tensor]:
        """Forward and backward scores and log Z of the distribution with every score
        (emissions included) divided by `temperature`; `emissions` come unscaled."""
        emissions = emissions / temperature
        if _numpy_inference(emissions, self.transition_scores):
            arrays = lattice_numpy.forward_backward(
                emissions.detach().numpy(), lengths.numpy(), *self.masked_scores_numpy(temperature)
            )
            return tuple(torch.from_numpy(array) for array in arrays)
        start, end, transitions = self.masked_scores(temperature)
        alphas = self._alphas(emissions, lengths, temperature)
        betas = self._betas(emissions, lengths, temperature)
        log_z = masked_logsumexp(alphas[:, -1] + end.unsqueeze(0), dim=1)
        return alphas, betas, log_z

    def _log_marginals(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        alphas, betas, log_z = self._forward_backward(emissions, lengths)
        return alphas + betas - log_z.view(-1, 1, 1)

    def span_log_probs(
        self,
        emissions: Tensor,
        lengths: Tensor,
        span_rows: Tensor,
        span_starts: Tensor,
        span_tags: Tensor,
        temperature: float = 1.0,
    ) -> Tensor:
        """log p(the tags span_tags[s] at positions span_starts[s]... of row span_rows[s]) (S,).

        `span_tags` (S, W) is padded with -1 after each span's tag sub-path. The probability is the
        CRF marginal of that exact sub-path: the mass of every valid path that passes through it,
        under the distribution whose scores are divided by `temperature` (calibration; 1 = the
        trained model). The best path does not depend on the temperature.
        """
        n_spans = span_rows.shape[0]
        if n_spans == 0:
            return emissions.new_zeros(0)
        if _numpy_inference(emissions, self.transition_scores):
            return torch.from_numpy(lattice_numpy.span_log_probs(
                (emissions / temperature).detach().numpy(), lengths.numpy(), *self.masked_scores_numpy(temperature),
                span_rows.numpy(), span_starts.numpy(), span_tags.numpy(),
            ))
        alphas, betas, log_z = self._forward_backward(emissions, lengths, temperature)
        emissions = emissions / temperature
        _, _, transitions = self.masked_scores(temperature)
        span_lengths = (span_tags >= 0).sum(1)
        safe_tags = span_tags.clamp(min=0)
        first = safe_tags[:, 0]
        last = safe_tags.gather(1, (span_lengths - 1).unsqueeze(1)).squeeze(1)
        span_ends = span_starts + span_lengths - 1
        score = alphas[span_rows, span_starts, first] + betas[span_rows, span_ends, last] - log_z[span_rows]
        width = span_tags.shape[1]
        if width > 1:
            offsets = torch.arange(1, width, device=span_tags.device)
            inside = offsets.unsqueeze(0) < span_lengths.unsqueeze(1)
            positions = (span_starts.unsqueeze(1) + offsets.unsqueeze(0)).clamp(max=emissions.shape[1] - 1)
            steps = transitions[safe_tags[:, :-1], safe_tags[:, 1:]]
            steps = steps + emissions[span_rows.unsqueeze(1), positions, safe_tags[:, 1:]]
            score = score + torch.where(inside, steps, torch.zeros_like(steps)).sum(1)
        return score

    def viterbi(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """Best valid path per row (B, L) of tag ids, -1 at padding. Vectorised over the batch
        and the tags; the only loop is over positions (in numpy for CPU tensors)."""
        if emissions.device.type == "cpu":
            return torch.from_numpy(lattice_numpy.viterbi(
                emissions.detach().numpy(), lengths.numpy(), *self.masked_scores_numpy()
            ))
        return self._viterbi_torch(emissions, lengths)

    def _viterbi_torch(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        batch_size, max_length, _ = emissions.shape
        paths = torch.full((batch_size, max_length), -1, dtype=torch.long, device=emissions.device)
        if max_length == 0:
            return paths
        start, end, transitions = self.masked_scores()
        mask = positions_mask(lengths, max_length)
        score = start.unsqueeze(0) + emissions[:, 0]
        backpointers = []
        for t in range(1, max_length):
            best, best_previous = (score.unsqueeze(2) + transitions.unsqueeze(0)).max(dim=1)
            score = torch.where(mask[:, t : t + 1], best + emissions[:, t], score)
            backpointers.append(best_previous)
        current = (score + end.unsqueeze(0)).argmax(dim=1)
        for t in range(max_length - 1, 0, -1):
            present = t < lengths
            paths[:, t] = torch.where(present, current, paths[:, t])
            previous = backpointers[t - 1].gather(1, current.unsqueeze(1)).squeeze(1)
            current = torch.where(present, previous, current)
        paths[:, 0] = torch.where(lengths > 0, current, paths[:, 0])
        return paths
