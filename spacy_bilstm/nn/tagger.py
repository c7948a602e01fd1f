"""The sequence tagger: LSTM encoder -> linear emissions -> CRF (or softmax) output.

Inputs and outputs are lists of per-sequence tensors; inside, sequences are grouped into
length buckets, padded and packed, so that the amount of padding is bounded whatever the mix
of lengths. The module's output is the emissions and the CRF's masked scores: everything the
loss (`sequence_loss`, here) and inference (`lattice`) need, so that gradients of both reach
the weights through the module's own backward pass.
"""
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from .crf import LatticeScores, LinearChainCRF, masked_logsumexp, negative_log_likelihood, positions_mask
from .encoder import LSTMEncoder, equal_length_buckets, length_buckets, pad_rows
from ..errors import ConfigError
from ..threads import inference_workers, worker_pool
from .products import rows_times

OUTPUT_LAYERS = ("crf", "softmax")


class SequenceTagger(nn.Module):
    def __init__(
        self,
        input_width: int,
        hidden_width: int,
        depth: int,
        dropout: float,
        bidirectional: bool,
        output: str = "crf",
        max_padded_tokens: int = 65536,
        locked_dropout: float = 0.0,
        word_dropout: float = 0.0,
    ):
        super().__init__()
        if output not in OUTPUT_LAYERS:
            raise ConfigError(f"output must be one of {OUTPUT_LAYERS}, got {output!r}")
        self.input_width = input_width
        self.output = output
        self.max_padded_tokens = max_padded_tokens
        self.encoder = LSTMEncoder(
            input_width, hidden_width, depth, dropout, bidirectional, locked_dropout=locked_dropout,
            word_dropout=word_dropout,
        )
        self.projection: Optional[nn.Linear] = None
        self.crf: Optional[LinearChainCRF] = None
        # Tags appended to a trained tag set (add_tags) stay out of the output until the first
        # update (release_held_out_tags): the output is then the old tag set's, bit for bit.
        self.n_held_out_tags = 0

    @property
    def device(self) -> torch.device:
        return self.encoder.device

    @property
    def is_configured(self) -> bool:
        return self.crf is not None

    @property
    def n_tags(self) -> int:
        return self.crf.n_tags if self.crf is not None else 0

    def configure_tags(self, allowed_start: Tensor, allowed_end: Tensor, allowed_transitions: Tensor) -> None:
        """Create the output layer for a tag set (known only once the labels are). Replaces
        any existing output layer; the encoder is kept."""
        device = next(self.encoder.parameters()).device
        self.projection = nn.Linear(self.encoder.output_width, allowed_start.shape[0]).to(device)
        self.crf = LinearChainCRF(
            allowed_start.to(device),
            allowed_end.to(device),
            allowed_transitions.to(device),
            trainable=self.output == "crf",
        ).to(device)
        self.n_held_out_tags = 0

    def add_tags(self, allowed_start: Tensor, allowed_end: Tensor, allowed_transitions: Tensor) -> None:
        """Grow the trained output layer for tags appended after the existing ones, given as the
        masks of the whole new tag set. The new tags' emission weights and CRF scores start at
        zero: the last layer needs no random start to break symmetry (each tag's row gets its
        own gradient), and no random numbers are drawn, so a run that grows stays reproducible.
        The new tags are held out of the output until `release_held_out_tags`."""
        self._require_tags()
        n_added = allowed_start.shape[0] - self.n_tags
        if n_added <= 0:
            raise RuntimeError(f"add_tags needs more than the {self.n_tags} tags there are, got {allowed_start.shape[0]}.")
        weight, bias = self.projection.weight, self.projection.bias
        with torch.no_grad():
            # The same Linear module, with longer parameters: building a new one would draw
            # random numbers for weights that are overwritten anyway.
            self.projection.weight = nn.Parameter(torch.cat([weight, weight.new_zeros(n_added, weight.shape[1])]))
            self.projection.bias = nn.Parameter(torch.cat([bias, bias.new_zeros(n_added)]))
        self.projection.out_features = self.projection.weight.shape[0]
        self.crf = self.crf.grown(allowed_start, allowed_end, allowed_transitions)
        self.n_held_out_tags += n_added

    def release_held_out_tags(self) -> None:
        """Let every tag into the output: done before an update, which is what trains them."""
        self.n_held_out_tags = 0

    @property
    def n_output_tags(self) -> int:
        """The tags the output covers: all but the held-out ones, which come last."""
        return self.n_tags - self.n_held_out_tags

    def _require_tags(self) -> None:
        if not self.is_configured:
            raise RuntimeError("The tagger has no tag set yet: initialize the component with its labels first.")

    def _buckets(self, rows: List[Tensor]) -> List[List[int]]:
        # Training packs rows of different lengths together (fewer, fuller batches). Prediction
        # batches only rows of one length, so that a text's scores never depend on the texts
        # it was batched with: two runs of the same input give identical outputs.
        lengths = [row.shape[0] for row in rows]
        if self.training:
            return length_buckets(lengths, self.max_padded_tokens)
        return equal_length_buckets(lengths, self.max_padded_tokens)

    def forward(self, features: List[Tensor]) -> Tuple[List[Tensor], LatticeScores]:
        """Per-sequence token features (n_i, input_width) -> emission scores (n_i, T), and the
        CRF's (start, end, transitions) scores with forbidden entries at -inf. For the softmax
        output the emissions are log-probabilities and the CRF scores are fixed (masks only)."""
        self._require_tags()
        emissions: List[Optional[Tensor]] = [None] * len(features)

        def tag(bucket: List[int]) -> None:
            row_lengths = [features[i].shape[0] for i in bucket]
            padded = features[bucket[0]].unsqueeze(0) if len(bucket) == 1 else pad_rows([features[i] for i in bucket])
            hidden = self.encoder(padded, torch.tensor(row_lengths))
            scores = self._project(hidden)
            if self.output == "softmax":
                scores = torch.log_softmax(scores, dim=-1)
            for row, (index, length) in enumerate(zip(bucket, row_lengths)):
                emissions[index] = scores[row, :length]

        buckets = self._buckets(features)
        n_workers = 1 if self.training else min(inference_workers(), len(buckets))
        if n_workers > 1:
            # Buckets of one length on one torch thread each: the same arithmetic as one at a
            # time. Gradient mode and the thread count are per thread in torch and OpenMP.
            def tag_in_worker(bucket: List[int]) -> None:
                torch.set_num_threads(1)
                with torch.no_grad():
                    tag(bucket)

            for _ in worker_pool(n_workers).map(tag_in_worker, buckets):
                pass
        else:
            for bucket in buckets:
                tag(bucket)
        return emissions, self._output_scores()

    def _output_scores(self) -> LatticeScores:
        start, end, transitions = self.crf.masked_scores()
        if not self.n_held_out_tags:
            return start, end, transitions
        # Contiguous copies: the lattice then multiplies exactly the arrays it did before growth.
        n = self.n_output_tags
        return start[:n].contiguous(), end[:n].contiguous(), transitions[:n, :n].contiguous()

    def _project(self, hidden: Tensor) -> Tensor:
        """The emission scores (B, L, T) of the encoder's output (B, L, H), as one product of a
        contiguous (B * L, H) matrix (see products.py): a strided input, or few rows, are
        rounded differently, and a text's scores must not depend on what it is batched with."""
        batch_size, length, width = hidden.shape
        weight, bias = self.projection.weight, self.projection.bias
        if self.n_held_out_tags:
            # The first rows of a row-major matrix: the same memory layout as before growth.
            weight, bias = weight[: self.n_output_tags], bias[: self.n_output_tags]
        rows = rows_times(bias, hidden.reshape(batch_size * length, width), weight.t())
        return rows.view(batch_size, length, -1)

def sequence_loss(
    emissions: List[Tensor], gold: List[Tensor], scores: LatticeScores, output: str, dense_lattice: bool,
    max_padded_tokens: int, open_tag_sets: Optional[Tensor] = None,
) -> Tensor:
    """Summed negative log-likelihood of the gold tags (-1 = unknown, marginalised) under the
    CRF with the given masked scores, or under the per-token softmax (`output = "softmax"`,
    whose emissions are log-probabilities). `open_tag_sets` (K, T bool): partial gold, a token
    whose gold is -k may have any tag of row k - 1 (see crf.negative_log_likelihood)."""
    total = emissions[0].new_zeros(()) if emissions else torch.zeros(())
    for bucket in length_buckets([e.shape[0] for e in emissions], max_padded_tokens):
        padded = pad_rows([emissions[i] for i in bucket])
        lengths = torch.tensor([emissions[i].shape[0] for i in bucket], device=padded.device)
        gold_padded = nn.utils.rnn.pad_sequence([gold[i] for i in bucket], batch_first=True, padding_value=-1)
        if output == "crf":
            total = total + negative_log_likelihood(
                padded, lengths, scores, gold_padded, dense_lattice, open_tag_sets
            ).sum()
            continue
        known = gold_padded >= 0
        gold_scores = padded.gather(2, gold_padded.clamp(min=0).unsqueeze(2)).squeeze(2)
        total = total - torch.where(known, gold_scores, torch.zeros_like(gold_scores)).sum()
        if open_tag_sets is not None:
            # A partly known token's log-probability is that of its open set; a wholly unknown
            # one (-1, every tag open) has log-probability 0 and is left out, as above.
            real = positions_mask(lengths, padded.shape[1])
            open_tags = open_tag_sets.bool()[(-gold_padded - 1).clamp(min=0)]
            restricted = real & ~known & ~open_tags.all(2)
            open_scores = masked_logsumexp(padded.masked_fill(~open_tags, float("-inf")), dim=2)
            total = total - torch.where(restricted, open_scores, torch.zeros_like(open_scores)).sum()
    return total
