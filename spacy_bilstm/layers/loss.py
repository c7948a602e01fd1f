"""The tagger's loss and its gradients, computed on copies of the tagger's output: no weight
and no gradient of the model changes here. The gradients go back through the model's own
backprop, the CRF's included, as for any spaCy component's get_loss."""
from typing import List, Optional, Tuple

import numpy
import torch
from thinc.api import Model, get_array_module, torch2xp, xp2torch
from thinc.types import Ints1d

from ..errors import AnnotationError, TrainingDivergedError
from ..nn import sequence_loss
from ..threads import torch_threads
from .tagger_layer import TaggerGradient, TaggerOutput, tagger_settings
from .torch_layer import module_device


def tagger_loss(
    layer: Model, output: TaggerOutput, gold: List[Ints1d], open_tag_sets: Optional[numpy.ndarray] = None
) -> Tuple[float, TaggerGradient]:
    """Negative log-likelihood of the gold tag ids (-1 = unknown, marginalised) and its
    gradient with respect to `output` (the emissions and, for the CRF, its scores).
    `open_tag_sets` (K, T bool): partial gold, a token whose gold id is -k may have any tag of
    row k - 1 (e.g. rehearsal's "none of the old labels")."""
    output_kind, dense_lattice, max_padded_tokens = tagger_settings(layer)
    device = module_device(layer)
    trainable_scores = output_kind == "crf"
    with torch_threads(), torch.enable_grad():
        emissions = [xp2torch(e, requires_grad=True, device=device) for e in output.emissions]
        scores = tuple(xp2torch(s, requires_grad=trainable_scores, device=device) for s in output.lattice_scores)
        gold_tensors = [torch.as_tensor(g, dtype=torch.long, device=device) for g in gold]
        open_sets = None if open_tag_sets is None else torch.as_tensor(open_tag_sets, dtype=torch.bool, device=device)
        loss = sequence_loss(emissions, gold_tensors, scores, output_kind, dense_lattice, max_padded_tokens, open_sets)
        _check_finite(loss, emissions)
        leaves = emissions + (list(scores) if trainable_scores else [])
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    d_emissions = [
        torch2xp(g) if g is not None else get_array_module(e).zeros_like(e)
        for g, e in zip(grads[: len(emissions)], output.emissions)
    ]
    if not trainable_scores:
        return float(loss.detach()), TaggerGradient(d_emissions)
    d_start, d_end, d_transitions = (torch2xp(g) for g in grads[len(emissions):])
    return float(loss.detach()), TaggerGradient(d_emissions, d_start, d_end, d_transitions)


def _check_finite(loss: torch.Tensor, emissions: List[torch.Tensor]) -> None:
    if torch.isfinite(loss):
        return
    if torch.isnan(loss) or not all(bool(torch.isfinite(e).all()) for e in emissions):
        raise TrainingDivergedError(
            "Training diverged: the model's scores or its loss are no longer finite numbers (NaN or "
            "infinite). Lower [training.optimizer] learn_rate, keep grad_clip on (e.g. 1.0), and on a GPU "
            "train in full precision."
        )
    raise AnnotationError(
        "The gold annotation has probability zero under the tag scheme (an invalid BILUO sequence "
        "in a training example); check the training data with `spacy-bilstm convert`."
    )
