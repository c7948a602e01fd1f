"""The LSTM encoder over packed sequences, and the length bucketing that bounds padding."""
from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..errors import ConfigError


def length_buckets(lengths: Sequence[int], max_padded_tokens: int) -> List[List[int]]:
    """Group row indices, longest first, so that each group's padded size (rows x longest row)
    stays within `max_padded_tokens`. A row longer than the budget gets a group of its own:
    one very long document never inflates the padding of the short ones beside it."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    buckets: List[List[int]] = []
    current: List[int] = []
    for index in order:
        longest = lengths[current[0]] if current else lengths[index]
        if current and (len(current) + 1) * max(longest, 1) > max_padded_tokens:
            buckets.append(current)
            current = []
        current.append(index)
    if current:
        buckets.append(current)
    return buckets


def equal_length_buckets(lengths: Sequence[int], max_padded_tokens: int) -> List[List[int]]:
    """Group row indices by length, longest first, each group within `max_padded_tokens`: no
    row is ever padded, so each row's result is the one it gets alone, whatever rows it is
    batched with (a packed LSTM's arithmetic depends on its batch's other rows)."""
    by_length: Dict[int, List[int]] = {}
    for index, length in enumerate(lengths):
        by_length.setdefault(length, []).append(index)
    buckets: List[List[int]] = []
    for length in sorted(by_length, reverse=True):
        rows = by_length[length]
        per_bucket = max(1, max_padded_tokens // max(length, 1))
        buckets.extend(rows[i : i + per_bucket] for i in range(0, len(rows), per_bucket))
    return buckets


class _WholeUnitDropout(nn.Module):
    """Dropout that keeps or drops whole units of a (B, L, D) input, with one random draw per
    unit (shape `_mask_shape`), kept units scaled by 1 / (1 - p). At evaluation, or with p = 0,
    the identity, and no random numbers are drawn."""

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"{type(self).__name__}: the dropout probability must be in [0, 1), got {p}")
        self.p = p

    def _mask_shape(self, x: Tensor) -> Tuple[int, int, int]:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty(self._mask_shape(x)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class LockedDropout(_WholeUnitDropout):
    """Dropout with one mask per sequence, shared by all its positions ("variational" dropout,
    Gal and Ghahramani 2016): a feature is either there for the whole sentence or not at all,
    so the LSTM cannot learn to route around a mask that changes at every token."""

    def _mask_shape(self, x: Tensor) -> Tuple[int, int, int]:
        return (x.shape[0], 1, x.shape[2])


class WordDropout(_WholeUnitDropout):
    """Drops whole tokens: each position's input vector is zeroed with probability p, so the
    tagger learns to recognise an entity from its context as well as from the word itself."""

    def _mask_shape(self, x: Tensor) -> Tuple[int, int, int]:
        return (x.shape[0], x.shape[1], 1)


class LSTMEncoder(nn.Module):
    """A (bi)directional LSTM over packed sequences: padding never reaches the recurrence.

    dropout: ordinary dropout on the LSTM's input and output (and between stacked layers).
    locked_dropout: dropout with one mask per sentence on the input and output (LockedDropout).
    word_dropout: the probability of dropping a token's whole input vector (WordDropout).
    """

    def __init__(
        self,
        input_width: int,
        hidden_width: int,
        depth: int,
        dropout: float,
        bidirectional: bool,
        locked_dropout: float = 0.0,
        word_dropout: float = 0.0,
    ):
        super().__init__()
        self.word_dropout = WordDropout(word_dropout)
        self.locked_input_dropout = LockedDropout(locked_dropout)
        self.input_dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(
            input_width,
            hidden_width,
            num_layers=depth,
            dropout=dropout if depth > 1 else 0.0,
            bidirectional=bidirectional,
            batch_first=True,
        )
        self.locked_output_dropout = LockedDropout(locked_dropout)
        self.output_dropout = nn.Dropout(dropout)
        self.output_width = hidden_width * (2 if bidirectional else 1)

    @property
    def device(self) -> torch.device:
        return self.lstm.weight_ih_l0.device

    def forward(self, padded: Tensor, lengths: Tensor) -> Tensor:
        """(B, L, input_width) -> (B, L, output_width); rows of length 0 come back as zeros."""
        max_length = padded.shape[1]
        if max_length == 0:
            return padded.new_zeros(padded.shape[0], 0, self.output_width)
        # At evaluation every dropout is the identity; skipping the calls saves their module
        # overhead, a measurable share of tagging one sentence.
        inputs = self.input_dropout(self.locked_input_dropout(self.word_dropout(padded))) if self.training else padded
        if bool((lengths == max_length).all()):
            # No padding (always so for one sentence): packing would only cost time.
            hidden, _ = self.lstm(inputs)
        else:
            # pack_padded_sequence rejects length 0; such rows are cut back to length 0 by callers.
            packed = pack_padded_sequence(inputs, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
            hidden, _ = self.lstm(packed)
            hidden, _ = pad_packed_sequence(hidden, batch_first=True, total_length=max_length)
        return self.output_dropout(self.locked_output_dropout(hidden)) if self.training else hidden


def pad_rows(rows: List[Tensor]) -> Tensor:
    """Stack (n_i, ...) tensors into (B, max n_i, ...), zero-padded."""
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)
