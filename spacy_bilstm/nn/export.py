"""The inference arithmetic of the char CNN, of the tagger's encoder and emission projection,
and of the hashed word features, as ONNX graphs (bytes) with dynamic batch and length axes.

Each graph is a small module written for export, over the trained module's own weights: no
shape-dependent Python branches (the TorchScript tracer would freeze the branch of its example
input), no packing. At prediction the tagger reads buckets of rows of one length
(encoder.equal_length_buckets), so its LSTM never needs packing or a lengths input.
"""
import io
import warnings
from typing import Optional, Sequence

import numpy
import torch
from torch import Tensor, nn

from .char_cnn import CharCNN
from .tagger import SequenceTagger

# ONNX Runtime 1.16 and later run opset 17; the TorchScript exporter writes it.
OPSET = 17
CHAR_CNN_INPUTS = ("char_ids", "char_lengths")
CHAR_CNN_OUTPUTS = ("word_features",)
EMISSIONS_INPUTS = ("features",)
EMISSIONS_OUTPUTS = ("emissions",)
WORD_FEATURES_INPUTS = ("table_rows", "vectors")
WORD_FEATURES_OUTPUTS = ("word_features",)
# thinc's LayerNorm adds this to the variance.
LAYER_NORM_EPSILON = 1e-08


class CharCNNGraph(nn.Module):
    """CharCNN.forward at evaluation for U >= 1 words of C >= 1 characters, one row per word:
    (U, C) char ids and (U,) lengths -> (U, n_filters)."""

    def __init__(self, module: CharCNN):
        super().__init__()
        self.embed = module.embed
        self.conv = module.conv

    def forward(self, char_ids: Tensor, char_lengths: Tensor) -> Tensor:
        embedded = self.embed(char_ids)
        n_chars = char_ids.shape[1]
        window, half = self.conv.kernel_size[0], self.conv.padding[0]
        padded = nn.functional.pad(embedded, (0, 0, half, half))
        # (U, C, width, window) as CharCNN._convolve's unfold gives it, from slices (opset 17 has no unfold).
        windows = torch.stack([padded[:, offset : offset + n_chars] for offset in range(window)], dim=3)
        filters = self.conv.weight.reshape(self.conv.out_channels, -1)
        flat = windows.reshape(windows.shape[0] * n_chars, -1)
        features = torch.addmm(self.conv.bias, flat, filters.t()).reshape(windows.shape[0], n_chars, -1)
        real = torch.arange(n_chars).unsqueeze(0) < char_lengths.clamp(min=1).unsqueeze(1)
        return features.masked_fill(~real.unsqueeze(2), float("-inf")).amax(dim=1)


class EmissionsGraph(nn.Module):
    """SequenceTagger's emissions at evaluation for B >= 1 rows of one length L >= 1:
    (B, L, input_width) -> (B, L, n_tags); log-probabilities for the softmax output."""

    def __init__(self, module: SequenceTagger):
        super().__init__()
        if not module.is_configured:
            raise RuntimeError("The tagger has no tag set yet: only a trained tagger can be exported.")
        self.lstm = module.encoder.lstm
        self.projection = module.projection
        self.log_softmax = module.output == "softmax"

    def forward(self, features: Tensor) -> Tensor:
        hidden, _ = self.lstm(features)
        batch_size, length, width = hidden.shape
        rows = torch.addmm(self.projection.bias, hidden.reshape(batch_size * length, width), self.projection.weight.t())
        scores = rows.reshape(batch_size, length, -1)
        return torch.log_softmax(scores, dim=-1) if self.log_softmax else scores


class WordFeaturesGraph(nn.Module):
    """spaCy's MultiHashEmbed at evaluation, from what is computed outside the graph: each
    token's hashed rows of each table (thinc's HashEmbed sums the 4 rows a key hashes to), its
    static vector (zeros for a word without one), or both -> their concatenation, in that order,
    through Maxout and LayerNorm, as thinc computes them. Inputs (n_tables, N, 4) int64 rows and
    (N, vectors width) float32 vectors, whichever the layer has; output (N, width)."""

    def __init__(
        self, tables: Sequence[numpy.ndarray], vectors_projection: Optional[numpy.ndarray],
        maxout_weights: numpy.ndarray, maxout_bias: numpy.ndarray, norm_scale: numpy.ndarray, norm_bias: numpy.ndarray,
    ):
        super().__init__()
        self.n_tables = len(tables)
        for index, table in enumerate(tables):
            self.register_buffer(f"table_{index}", _tensor(table))
        self.has_vectors = vectors_projection is not None
        if self.has_vectors:
            self.register_buffer("vectors_projection", _tensor(vectors_projection))
        width, pieces, n_inputs = maxout_weights.shape
        self.width, self.pieces = width, pieces
        self.register_buffer("maxout_weights", _tensor(maxout_weights).reshape(width * pieces, n_inputs))
        self.register_buffer("maxout_bias", _tensor(maxout_bias).reshape(width * pieces))
        self.register_buffer("norm_scale", _tensor(norm_scale))
        self.register_buffer("norm_bias", _tensor(norm_bias))

    def forward(self, *inputs: Tensor) -> Tensor:
        parts = []
        if self.n_tables:
            table_rows = inputs[0]
            for index in range(self.n_tables):
                parts.append(getattr(self, f"table_{index}")[table_rows[index]].sum(dim=1))
        if self.has_vectors:
            parts.append(inputs[-1] @ self.vectors_projection.t())
        embedded = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        pieces = torch.addmm(self.maxout_bias, embedded, self.maxout_weights.t())
        pieces = pieces.reshape(-1, self.width, self.pieces)
        # Elementwise maxima of the pieces: a max over a last axis of 3 runs several times slower.
        best = pieces[:, :, 0]
        for piece in range(1, self.pieces):
            best = torch.maximum(best, pieces[:, :, piece])
        mean = best.mean(dim=1, keepdim=True)
        variance = ((best - mean) ** 2).mean(dim=1, keepdim=True) + LAYER_NORM_EPSILON
        return (best - mean) * variance.rsqrt() * self.norm_scale + self.norm_bias


def _tensor(array: numpy.ndarray) -> Tensor:
    return torch.from_numpy(numpy.array(array, dtype="float32"))


def word_features_graph(graph: WordFeaturesGraph) -> bytes:
    """The ONNX graph of `graph`, the tokens axis dynamic; its inputs those of
    WORD_FEATURES_INPUTS it has (table_rows when it has tables, vectors when it has vectors)."""
    table_rows, vectors = WORD_FEATURES_INPUTS
    example, names, axes = [], [], {"word_features": {0: "tokens"}}
    if graph.n_tables:
        example.append(torch.zeros(graph.n_tables, 3, 4, dtype=torch.int64))
        names.append(table_rows)
        axes[table_rows] = {1: "tokens"}
    if graph.has_vectors:
        example.append(torch.zeros(3, graph.vectors_projection.shape[1]))
        names.append(vectors)
        axes[vectors] = {0: "tokens"}
    return _export(graph, tuple(example), names, WORD_FEATURES_OUTPUTS, axes)


def char_cnn_graph(module: CharCNN) -> bytes:
    """The ONNX graph of `module` (CharCNNGraph), axes words and chars dynamic."""
    example = (torch.ones(2, 3, dtype=torch.int64), torch.tensor([3, 2]))
    axes = {"char_ids": {0: "words", 1: "chars"}, "char_lengths": {0: "words"}, "word_features": {0: "words"}}
    return _export(CharCNNGraph(module), example, CHAR_CNN_INPUTS, CHAR_CNN_OUTPUTS, axes)


def emissions_graph(module: SequenceTagger) -> bytes:
    """The ONNX graph of `module`'s emissions (EmissionsGraph), axes batch and length dynamic."""
    example = (torch.zeros(2, 3, module.input_width),)
    axes = {"features": {0: "batch", 1: "length"}, "emissions": {0: "batch", 1: "length"}}
    return _export(EmissionsGraph(module), example, EMISSIONS_INPUTS, EMISSIONS_OUTPUTS, axes)


def _export(graph: nn.Module, example, input_names, output_names, dynamic_axes) -> bytes:
    # The TorchScript exporter (dynamo=False): torch 2.13's default, the dynamo exporter, needs the
    # onnxscript package, and these graphs have no control flow it would capture better.
    # The graph shares the trained module's submodules: their modes are put back as they were.
    modes = [(module, module.training) for module in graph.modules()]
    graph.eval()
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation notice, on every call
            torch.onnx.export(
                graph, example, buffer, input_names=list(input_names), output_names=list(output_names),
                dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False, do_constant_folding=True,
            )
    finally:
        for module, training in modes:
            module.training = training
    return buffer.getvalue()
