"""Character CNN word features in the manner of Ma & Hovy (2016): embed each character,
convolve over the word, max-pool over positions."""
from torch import Tensor, nn

from .crf import positions_mask


class CharCNN(nn.Module):
    def __init__(self, n_char_rows: int, embed_width: int, n_filters: int, window: int, dropout: float):
        super().__init__()
        if window % 2 == 0:
            raise ValueError(f"char CNN window must be odd so that it centres on a character, got {window}")
        self.embed = nn.Embedding(n_char_rows, embed_width, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.conv = nn.Conv1d(embed_width, n_filters, window, padding=window // 2)
        self.output_width = n_filters

    def forward(self, char_ids: Tensor, char_lengths: Tensor, token_rows: Tensor) -> Tensor:
        """(U words, C chars) ids with 0 as padding and (U,) lengths, and for each of N tokens
        its word's row (N,) -> (N, n_filters)."""
        if char_ids.shape[0] == 0 or char_ids.shape[1] == 0:
            return self.embed.weight.new_zeros(token_rows.shape[0], self.output_width)
        features = self.conv(self.dropout(self.embed(char_ids)).transpose(1, 2))
        real = positions_mask(char_lengths.clamp(min=1), char_ids.shape[1]).unsqueeze(1)
        # Padding positions must never win the max-pool.
        return features.masked_fill(~real, float("-inf")).amax(dim=2)[token_rows]
