"""Brute force for the CRF tests: a small CRF with random scores, random emissions, and the
score and log partition of every BILUO-valid tag path, enumerated."""
import itertools
import math

import torch

from spacy_bilstm.nn import LinearChainCRF
from spacy_bilstm.tags import BiluoTags


def make_crf(labels=("PER",), seed=0, trainable=True):
    tags = BiluoTags(labels)
    crf = LinearChainCRF(
        torch.from_numpy(tags.allowed_start),
        torch.from_numpy(tags.allowed_end),
        torch.from_numpy(tags.allowed_transitions),
        trainable=trainable,
    )
    generator = torch.Generator().manual_seed(seed)
    if trainable:
        with torch.no_grad():
            for parameter in crf.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return tags, crf


def random_batch(lengths, n_tags, seed=0):
    generator = torch.Generator().manual_seed(seed + 100)
    emissions = torch.randn(len(lengths), max(lengths), n_tags, generator=generator, dtype=torch.float64)
    return emissions, torch.tensor(lengths)


def allowed_paths(tags, length):
    """Every tag path of `length` that BILUO allows, with its unnormalised score."""
    return [path for path in itertools.product(range(len(tags)), repeat=length) if tags.is_valid_path(path)]


def brute_score(crf, emissions_row, path):
    start, end, transitions = (s.detach().double() for s in crf.masked_scores())
    score = start[path[0]] + end[path[-1]] + sum(emissions_row[t, tag].item() for t, tag in enumerate(path))
    score += sum(transitions[a, b] for a, b in zip(path[:-1], path[1:]))
    return float(score)


def brute_log_z(crf, tags, emissions_row, length, consistent=lambda path: True):
    scores = [brute_score(crf, emissions_row, p) for p in allowed_paths(tags, length) if consistent(p)]
    top = max(scores)
    return top + math.log(sum(math.exp(s - top) for s in scores))
