"""The sequence tagger: LSTM encoder -> linear emissions -> CRF (or softmax) output.

Inputs and outputs are lists of per-document tensors; inside, documents are grouped into
length buckets, padded and packed, so that the amount of padding is bounded whatever the mix
of document lengths.
"""
from typing import List, Optional, Sequence, Tuple

import numpy
import torch
from torch import Tensor, nn

from . import lattice_numpy
from .crf import LinearChainCRF
from .encoder import LSTMEncoder, length_buckets, pad_rows

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
            raise ValueError(f"output must be one of {OUTPUT_LAYERS}, got {output!r}")
        self.input_width = input_width
        self.output = output
        self.max_padded_tokens = max_padded_tokens
        self.encoder = LSTMEncoder(
            input_width, hidden_width, depth, dropout, bidirectional, locked_dropout=locked_dropout,
            word_dropout=word_dropout,
        )
        self.projection: Optional[nn.Linear] = None
        self.crf: Optional[LinearChainCRF] = None

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

    def _require_tags(self) -> None:
        if not self.is_configured:
            raise RuntimeError("The tagger has no tag set yet: initialize the component with its labels first.")

    def _buckets(self, rows: List[Tensor]) -> List[List[int]]:
        return length_buckets([row.shape[0] for row in rows], self.max_padded_tokens)

    def forward(self, features: List[Tensor]) -> List[Tensor]:
        """Per-document token features (n_i, input_width) -> emission scores (n_i, T).
        For the softmax output the scores are log-probabilities."""
        self._require_tags()
        emissions: List[Optional[Tensor]] = [None] * len(features)
        for bucket in self._buckets(features):
            row_lengths = [features[i].shape[0] for i in bucket]
            padded = features[bucket[0]].unsqueeze(0) if len(bucket) == 1 else pad_rows([features[i] for i in bucket])
            hidden = self.encoder(padded, torch.tensor(row_lengths))
            scores = self.projection(hidden)
            if self.output == "softmax":
                scores = torch.log_softmax(scores, dim=-1)
            for row, (index, length) in enumerate(zip(bucket, row_lengths)):
                emissions[index] = scores[row, :length]
        return emissions

    def _padded(self, emissions: List[Tensor], bucket: List[int]):
        lengths = torch.tensor([emissions[i].shape[0] for i in bucket], device=emissions[bucket[0]].device)
        return pad_rows([emissions[i] for i in bucket]), lengths

    def loss(self, emissions: List[Tensor], gold: List[Tensor]) -> Tensor:
        """Summed negative log-likelihood of the gold tags (-1 = unknown, marginalised)."""
        self._require_tags()
        total = emissions[0].new_zeros(()) if emissions else torch.zeros(())
        for bucket in self._buckets(emissions):
            padded, lengths = self._padded(emissions, bucket)
            gold_padded = nn.utils.rnn.pad_sequence([gold[i] for i in bucket], batch_first=True, padding_value=-1)
            if self.output == "crf":
                total = total + self.crf.negative_log_likelihood(padded, lengths, gold_padded).sum()
            else:
                known = gold_padded >= 0
                gold_scores = padded.gather(2, gold_padded.clamp(min=0).unsqueeze(2)).squeeze(2)
                total = total - torch.where(known, gold_scores, torch.zeros_like(gold_scores)).sum()
        return total

    def decode(self, emissions: List[Tensor]) -> List[Tensor]:
        """Best valid tag path per document (for the softmax output: the most probable path
        among those the tag scheme allows)."""
        self._require_tags()
        paths: List[Optional[Tensor]] = [None] * len(emissions)
        for bucket in self._buckets(emissions):
            padded, lengths = self._padded(emissions, bucket)
            best = self.crf.viterbi(padded, lengths)
            for row, index in enumerate(bucket):
                paths[index] = best[row, : lengths[row]]
        return paths

    def span_log_probs(
        self,
        emissions: List[Tensor],
        span_docs: Tensor,
        span_starts: Tensor,
        span_tags: Tensor,
        temperature: float = 1.0,
    ) -> Tensor:
        """log-probability of each span's exact tag sub-path (see LinearChainCRF.span_log_probs).
        For the softmax output this is the same quantity under the distribution that the
        per-token softmax scores induce on valid paths: an approximation, not a CRF marginal."""
        self._require_tags()
        result = span_starts.new_zeros(span_starts.shape[0], dtype=emissions[0].dtype if emissions else torch.float)
        if span_docs.shape[0] == 0:
            return result
        buckets = self._buckets(emissions)
        if len(buckets) == 1 and buckets[0] == list(range(len(emissions))):
            # One bucket in the documents' own order (always so for one sentence): no row mapping.
            padded, lengths = self._padded(emissions, buckets[0])
            return self.crf.span_log_probs(padded, lengths, span_docs, span_starts, span_tags, temperature)
        for bucket in buckets:
            padded, lengths = self._padded(emissions, bucket)
            row_of_doc = torch.full((len(emissions),), -1, dtype=torch.long, device=span_docs.device)
            row_of_doc[torch.tensor(bucket, device=span_docs.device)] = torch.arange(len(bucket), device=span_docs.device)
            selected = (row_of_doc[span_docs] >= 0).nonzero().squeeze(1)
            if selected.numel() == 0:
                continue
            width = int((span_tags[selected] >= 0).sum(1).max())
            result[selected] = self.crf.span_log_probs(
                padded,
                lengths,
                row_of_doc[span_docs[selected]],
                span_starts[selected],
                span_tags[selected, :width],
                temperature,
            )
        return result

    # --- CPU inference on numpy arrays -------------------------------------------------------
    # The same quantities as decode and span_log_probs, for emissions that are numpy arrays
    # (CPU inference): no torch operation on the way. Each costs several microseconds, and
    # tagging one sentence at a time is made of a few hundred small steps.

    def decode_numpy(self, emissions: Sequence[numpy.ndarray]) -> List[numpy.ndarray]:
        self._require_tags()
        scores = self.crf.masked_scores_numpy()
        paths: List[Optional[numpy.ndarray]] = [None] * len(emissions)
        for bucket in self._buckets(emissions):
            padded, lengths = _pad_numpy(emissions, bucket)
            best = lattice_numpy.viterbi(padded, lengths, *scores)
            for row, index in enumerate(bucket):
                paths[index] = best[row, : lengths[row]]
        return paths

    def span_log_probs_numpy(
        self,
        emissions: Sequence[numpy.ndarray],
        span_docs: numpy.ndarray,
        span_starts: numpy.ndarray,
        span_tags: numpy.ndarray,
        temperature: float = 1.0,
    ) -> numpy.ndarray:
        self._require_tags()
        result = numpy.zeros(span_docs.shape[0], dtype=emissions[0].dtype if len(emissions) else numpy.float32)
        if span_docs.shape[0] == 0:
            return result
        scores = self.crf.masked_scores_numpy(temperature)
        buckets = self._buckets(emissions)
        for bucket in buckets:
            padded, lengths = _pad_numpy(emissions, bucket)
            padded = padded / padded.dtype.type(temperature)
            if len(buckets) == 1 and bucket == list(range(len(emissions))):
                # One bucket in the documents' own order (always so for one sentence).
                return lattice_numpy.span_log_probs(padded, lengths, *scores, span_docs, span_starts, span_tags)
            row_of_doc = numpy.full(len(emissions), -1, dtype=numpy.int64)
            row_of_doc[bucket] = numpy.arange(len(bucket))
            selected = numpy.flatnonzero(row_of_doc[span_docs] >= 0)
            if selected.shape[0] == 0:
                continue
            width = int((span_tags[selected] >= 0).sum(axis=1).max())
            result[selected] = lattice_numpy.span_log_probs(
                padded, lengths, *scores, row_of_doc[span_docs[selected]], span_starts[selected],
                span_tags[selected, :width],
            )
        return result


def _pad_numpy(rows: Sequence[numpy.ndarray], bucket: List[int]) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """The bucket's (n_i, T) rows as (B, max n_i, T), zero-padded, and their lengths (B,)."""
    lengths = numpy.fromiter((rows[i].shape[0] for i in bucket), dtype=numpy.int64, count=len(bucket))
    if len(bucket) == 1:
        return rows[bucket[0]][None], lengths
    first = rows[bucket[0]]
    padded = numpy.zeros((len(bucket), int(lengths.max()), first.shape[1]), dtype=first.dtype)
    for row, index in enumerate(bucket):
        padded[row, : lengths[row]] = rows[index]
    return padded, lengths
