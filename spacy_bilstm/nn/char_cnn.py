"""Character CNN word features in the manner of Ma & Hovy (2016): embed each character,
convolve over the word, max-pool over positions."""
import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .crf import positions_mask
from .products import rows_times


class CharCNN(nn.Module):
    def __init__(self, n_char_rows: int, embed_width: int, n_filters: int, window: int, dropout: float):
        super().__init__()
        if window % 2 == 0:
            raise ConfigError(f"char CNN window must be odd so that it centres on a character, got {window}")
        self.embed = nn.Embedding(n_char_rows, embed_width, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        # Holds the filters (and names them in the weights file); forward applies them itself.
        self.conv = nn.Conv1d(embed_width, n_filters, window, padding=window // 2)
        self.output_width = n_filters

    @property
    def device(self) -> torch.device:
        return self.embed.weight.device

    def forward(self, char_ids: Tensor, char_lengths: Tensor, token_rows: Tensor) -> Tensor:
        """(U words, C chars) ids with 0 as padding and (U,) lengths, and for each of N tokens
        its word's row (N,) -> (N, n_filters)."""
        if char_ids.shape[0] == 0 or char_ids.shape[1] == 0:
            return self.embed.weight.new_zeros(token_rows.shape[0], self.output_width)
        features = self._convolve(self.dropout(self.embed(char_ids)))
        real = positions_mask(char_lengths.clamp(min=1), char_ids.shape[1]).unsqueeze(2)
        # Padding positions must never win the max-pool.
        return features.masked_fill(~real, float("-inf")).amax(dim=1)[token_rows]

    def _convolve(self, embedded: Tensor) -> Tensor:
        """(U, C, embed_width) -> (U, C, n_filters): the same as self.conv, as one matrix
        product over each character's window. Words are short, and on a CPU torch's conv1d
        costs more than this product on inputs of their size, most of all when tagging."""
        n_words, n_chars, width = embedded.shape
        window, half = self.conv.kernel_size[0], self.conv.padding[0]
        # (U, C, width, window): for each character, the embeddings of its window.
        windows = nn.functional.pad(embedded, (0, 0, half, half)).unfold(1, window, 1)
        filters = self.conv.weight.reshape(self.conv.out_channels, width * window)
        products = rows_times(self.conv.bias, windows.reshape(n_words * n_chars, -1), filters.t())
        return products.view(n_words, n_chars, -1)
