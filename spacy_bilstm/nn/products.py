"""Matrix products whose rows do not depend on the other rows of the batch.

BLAS libraries choose their kernels by the matrix's size: with MKL, a product of 1-3 rows (and,
on two threads, of up to 11) rounds differently from the same rows inside a larger product. A
text tagged alone would then get other scores than in a batch. Products of fewer than
MIN_ROWS rows are therefore computed with zero rows added, as part of a larger product."""
import torch
from torch import Tensor

MIN_ROWS = 16


def rows_times(bias: Tensor, rows: Tensor, weight_t: Tensor) -> Tensor:
    """bias + rows @ weight_t for (M, K) rows, each row rounded as in a product of many rows."""
    rows = rows.contiguous()
    n_rows = rows.shape[0]
    if n_rows >= MIN_ROWS:
        return torch.addmm(bias, rows, weight_t)
    padded = rows.new_zeros(MIN_ROWS, rows.shape[1])
    padded[:n_rows] = rows
    return torch.addmm(bias, padded, weight_t)[:n_rows]
