"""Best tag paths and entity probabilities from the tagger's output, on the host in numpy
(nn.lattice), whatever device the model runs on: the one place inference is chosen."""
from typing import List, Sequence

import numpy
from thinc.api import Model, get_array_module
from thinc.types import Floats2d

from ..nn import lattice
from .tagger_layer import TaggerOutput, tagger_settings


def _on_host(array) -> numpy.ndarray:
    return array if isinstance(array, numpy.ndarray) else get_array_module(array).asnumpy(array)


def _host_emissions(output: TaggerOutput) -> List[Floats2d]:
    return [_on_host(e) for e in output.emissions]


def _host_scores(output: TaggerOutput) -> lattice.Scores:
    start, end, transitions = (_on_host(s) for s in output.lattice_scores)
    return start, end, transitions


def best_paths(layer: Model, output: TaggerOutput) -> List[numpy.ndarray]:
    """The best valid tag path of each sequence, as tag ids."""
    _, _, max_padded_tokens = tagger_settings(layer)
    return lattice.decode(_host_emissions(output), _host_scores(output), max_padded_tokens)


def span_probabilities(
    output: TaggerOutput,
    span_docs: Sequence[int],
    span_starts: Sequence[int],
    span_tags: Sequence[Sequence[int]],
    temperature: float = 1.0,
) -> numpy.ndarray:
    """Probability of each span's tag sub-path (span_tags: ragged lists of tag ids) in sequence
    span_docs[i] from token span_starts[i], with the model's scores divided by `temperature`."""
    if len(span_docs) == 0:
        return numpy.zeros(0, dtype="float32")
    width = max(len(t) for t in span_tags)
    padded = numpy.full((len(span_tags), width), -1, dtype="int64")
    for row, tags in enumerate(span_tags):
        padded[row, : len(tags)] = tags
    log_probs = lattice.span_log_probs(
        _host_emissions(output), _host_scores(output), numpy.asarray(span_docs, dtype="int64"),
        numpy.asarray(span_starts, dtype="int64"), padded, temperature,
    )
    return numpy.exp(log_probs).clip(0.0, 1.0)


def token_tag_probabilities(
    output: TaggerOutput, tag_id: int, doc_lengths: Sequence[int], temperature: float = 1.0
) -> List[numpy.ndarray]:
    """Per doc, each token's probability of tag `tag_id` (the CRF marginal, the model's scores
    divided by `temperature`), from the sequences of output.units; zero for a token no
    sequence covers."""
    probabilities = [numpy.zeros(n, dtype="float32") for n in doc_lengths]
    lengths = [emissions.shape[0] for emissions in output.emissions]
    sequence_of_token = numpy.repeat(numpy.arange(len(lengths)), lengths)
    positions = numpy.concatenate([numpy.arange(n) for n in lengths]) if lengths else numpy.zeros(0, "int64")
    marginals = span_probabilities(output, sequence_of_token, positions, [[tag_id]] * len(positions), temperature)
    ends = numpy.cumsum(lengths)
    for (doc_index, start, _), last, n in zip(output.units, ends, lengths):
        probabilities[doc_index][start:start + n] = marginals[last - n:last]
    return probabilities


def path_log_probabilities(
    output: TaggerOutput, paths: Sequence[Sequence[int]], temperature: float = 1.0
) -> numpy.ndarray:
    """log p(paths[i]) (S,) of each sequence's whole tag path (e.g. its best path, from
    best_paths), with the model's scores divided by `temperature`."""
    return lattice.path_log_probs(_host_emissions(output), _host_scores(output), paths, temperature)


def doc_log_probabilities(output: TaggerOutput, sequence_log_probs: Sequence[float], n_docs: int) -> numpy.ndarray:
    """Per doc (n_docs,), the sum of the log-probabilities of the sequences (output.units) it
    was read in: its sequences are tagged independently, so their probabilities multiply. A
    doc with no sequence (an empty doc) gets 0, the log-probability of its only, empty path."""
    totals = numpy.zeros(n_docs, dtype=numpy.float64)
    if len(output.units):
        numpy.add.at(totals, numpy.asarray([doc for doc, _, _ in output.units]), numpy.asarray(sequence_log_probs))
    return totals
