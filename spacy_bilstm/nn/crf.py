"""A linear-chain CRF whose forbidden transitions are given as boolean masks.

Forbidden starts, ends and transitions score -inf, so no probability mass can ever reach
an invalid path. `masked_logsumexp` keeps gradients finite where every term is -inf,
which is what makes exact masking (instead of a large negative constant) trainable.

This module holds what training needs: the differentiable log-partition and gold path score,
in torch. Inference (Viterbi, span probabilities) needs no gradient and lives in `lattice`,
once, for every device.

Shapes: B = batch, L = padded length, T = number of tags. `lengths` holds each row's true
length; positions at or beyond it are padding and never change a result. Rows of length 0
are allowed: their log-partition is 0.
"""
from typing import Optional, Tuple

import numpy
import torch
from torch import Tensor, nn

# (start (T,), end (T,), transitions (T_prev, T_next)), forbidden entries at -inf.
LatticeScores = Tuple[Tensor, Tensor, Tensor]


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
            raise RuntimeError(
                f"CRF masks disagree on the number of tags: start {tuple(allowed_start.shape)}, "
                f"end {tuple(allowed_end.shape)}, transitions {tuple(allowed_transitions.shape)}"
            )
        # Masks are derived from the labels, so they are rebuilt on load rather than stored.
        self.register_buffer("allowed_start", allowed_start.bool(), persistent=False)
        self.register_buffer("allowed_end", allowed_end.bool(), persistent=False)
        self.register_buffer("allowed_transitions", allowed_transitions.bool(), persistent=False)
        self.trainable = trainable
        self.dense_lattice = is_dense_lattice(allowed_start, allowed_transitions)
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

    def masked_scores(self) -> LatticeScores:
        """(start (T,), end (T,), transitions (T_prev, T_next)), with forbidden entries at -inf."""
        forbidden = float("-inf")
        start = torch.where(self.allowed_start, self.start_scores, forbidden)
        end = torch.where(self.allowed_end, self.end_scores, forbidden)
        transitions = torch.where(self.allowed_transitions, self.transition_scores, forbidden)
        return start, end, transitions

    def masked_scores_numpy(self) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        """masked_scores as numpy arrays, for the inference passes (lattice)."""
        with torch.no_grad():
            start, end, transitions = (scores.cpu().numpy() for scores in self.masked_scores())
        return start, end, transitions

    def grown(self, allowed_start: Tensor, allowed_end: Tensor, allowed_transitions: Tensor) -> "LinearChainCRF":
        """A CRF over this one's tags plus tags appended after them, given as the masks of the
        whole new tag set: the scores among the old tags are kept, those that involve a new
        tag start at 0 (forbidden ones are masked whatever their score). The old tags' masks
        must be the top-left corner of the new ones, as when labels are appended."""
        n_old = self.n_tags
        old_masks = (self.allowed_start, self.allowed_end, self.allowed_transitions)
        new_masks = (allowed_start.bool(), allowed_end.bool(), allowed_transitions.bool())
        corners = (new_masks[0][:n_old], new_masks[1][:n_old], new_masks[2][:n_old, :n_old])
        if new_masks[0].shape[0] < n_old or not all(
            torch.equal(old, corner.to(old.device)) for old, corner in zip(old_masks, corners)
        ):
            raise RuntimeError("A CRF can only grow by tags appended after its own, with its own masks unchanged.")
        grown = LinearChainCRF(allowed_start, allowed_end, allowed_transitions, trainable=self.trainable)
        grown = grown.to(self.allowed_start.device)
        with torch.no_grad():
            grown.start_scores[:n_old] = self.start_scores
            grown.end_scores[:n_old] = self.end_scores
            grown.transition_scores[:n_old, :n_old] = self.transition_scores
        return grown

    def log_partition(self, emissions: Tensor, lengths: Tensor, allowed_tags: Optional[Tensor] = None) -> Tensor:
        return forward_log_partition(emissions, lengths, self.masked_scores(), self.dense_lattice, allowed_tags)

    def path_score(self, emissions: Tensor, lengths: Tensor, tags: Tensor) -> Tensor:
        return path_score(emissions, lengths, self.masked_scores(), tags)

    def negative_log_likelihood(
        self, emissions: Tensor, lengths: Tensor, gold: Tensor, open_tag_sets: Optional[Tensor] = None
    ) -> Tensor:
        return negative_log_likelihood(emissions, lengths, self.masked_scores(), gold, self.dense_lattice, open_tag_sets)


def is_dense_lattice(allowed_start: Tensor, allowed_transitions: Tensor) -> bool:
    """Whether every tag is reachable at every position after the first (true of BILUO): then
    the unconstrained forward pass never meets an all -inf sum and can use torch's fused
    logsumexp even when gradients are needed."""
    reachable_after_start = (allowed_start.bool().unsqueeze(1) & allowed_transitions.bool()).any(0)
    return bool(reachable_after_start.all() and allowed_transitions.bool().any(0).all())


def _alphas(emissions: Tensor, lengths: Tensor, scores: LatticeScores, dense_lattice: bool, constrained: bool) -> Tensor:
    """Forward scores (B, L, T): log-sum over paths ending in each tag at each position,
    emission included. Padding positions repeat the last real position's scores.
    `constrained`: some emissions are -inf (gold constraints), so sums may be all -inf."""
    start, _, transitions = scores
    mask = positions_mask(lengths, emissions.shape[1])
    logsumexp = masked_logsumexp if constrained or not dense_lattice else torch.logsumexp
    alpha = start.unsqueeze(0) + emissions[:, 0]
    alphas = [alpha]
    for t in range(1, emissions.shape[1]):
        stepped = logsumexp(alpha.unsqueeze(2) + transitions.unsqueeze(0), dim=1) + emissions[:, t]
        alpha = torch.where(mask[:, t : t + 1], stepped, alpha)
        alphas.append(alpha)
    return torch.stack(alphas, dim=1)


def forward_log_partition(
    emissions: Tensor, lengths: Tensor, scores: LatticeScores, dense_lattice: bool = False,
    allowed_tags: Optional[Tensor] = None,
) -> Tensor:
    """log Z per row (B,) by the forward algorithm, differentiable (what training's loss needs;
    lattice.log_partition_from_passes reads it off inference's numpy passes). With `allowed_tags` (B, L, T bool) only paths through allowed
    tags count: a one-hot row gives the gold path's score, an all-True position leaves
    that token's tag open (marginalised)."""
    if emissions.shape[1] == 0:
        return emissions.new_zeros(emissions.shape[0])
    if allowed_tags is not None:
        emissions = emissions.masked_fill(~allowed_tags, float("-inf"))
    alphas = _alphas(emissions, lengths, scores, dense_lattice, constrained=allowed_tags is not None)
    log_z = masked_logsumexp(alphas[:, -1] + scores[1].unsqueeze(0), dim=1)
    return torch.where(lengths > 0, log_z, torch.zeros_like(log_z))


def path_score(emissions: Tensor, lengths: Tensor, scores: LatticeScores, tags: Tensor) -> Tensor:
    """Unnormalised log-score (B,) of the given tag paths (B, L); padding tags are ignored."""
    start, end, transitions = scores
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


def negative_log_likelihood(
    emissions: Tensor, lengths: Tensor, scores: LatticeScores, gold: Tensor, dense_lattice: bool = False,
    open_tag_sets: Optional[Tensor] = None,
) -> Tensor:
    """-log p(gold) per row (B,). `gold` (B, L) holds tag ids, or -1 where the gold tag is
    unknown: those tokens are marginalised over every tag a valid path allows there.
    `open_tag_sets` (K, T bool) gives partial gold: a token whose gold is -k is marginalised
    over the tags of row k - 1 only (row 0 is then what -1 means; None: every tag)."""
    known = gold >= 0
    real = positions_mask(lengths, emissions.shape[1])
    gold_score = path_score(emissions, lengths, scores, gold.clamp(min=0))
    partial = (real & ~known).any(1)
    if partial.any():
        # Only rows with unknown tags need the constrained forward pass; a fully known
        # row's constrained log-partition is just its path score.
        rows = partial.nonzero().squeeze(1)
        one_hot = torch.nn.functional.one_hot(gold[rows].clamp(min=0), scores[0].shape[0]).bool()
        if open_tag_sets is None:
            open_tags = torch.ones_like(one_hot)
        else:
            open_tags = open_tag_sets.bool()[(-gold[rows] - 1).clamp(min=0)]
        allowed_tags = torch.where(known[rows].unsqueeze(2), one_hot, open_tags)
        constrained = forward_log_partition(emissions[rows], lengths[rows], scores, dense_lattice, allowed_tags)
        gold_score = gold_score.index_put((rows,), constrained)
    return forward_log_partition(emissions, lengths, scores, dense_lattice) - gold_score
