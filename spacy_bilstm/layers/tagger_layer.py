"""The thinc layer over the torch SequenceTagger (nn/tagger.py): List[Floats2d] token features
-> TaggerOutput, the emissions of each sequence and the CRF's masked scores. Its backward pass
takes the gradients of both, so the CRF's own weights learn through the model's backprop like
every other weight."""
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy
import torch
from thinc.api import ArgsKwargs, Model, Optimizer, torch2xp, xp2torch
from thinc.types import Floats1d, Floats2d

from ..nn import SequenceTagger
from .torch_layer import module_device, torch_layer, torch_module


@dataclass
class TaggerOutput:
    """emissions: one (n_i, T) array per sequence. start (T,), end (T,), transitions (T, T):
    the CRF's scores, forbidden entries at -inf (for the softmax output: zero where allowed).
    units: the (doc index, start token, end token) that each sequence covers, when the model
    reads docs (empty for the tagger alone, which reads given arrays)."""

    emissions: List[Floats2d]
    start: Floats1d
    end: Floats1d
    transitions: Floats2d
    units: List[Tuple[int, int, int]] = field(default_factory=list)

    @property
    def lattice_scores(self) -> Tuple[Floats1d, Floats1d, Floats2d]:
        return self.start, self.end, self.transitions


@dataclass
class TaggerGradient:
    """d(loss)/d(TaggerOutput); the CRF score gradients are None when the scores are fixed."""

    d_emissions: List[Floats2d]
    d_start: Optional[Floats1d] = None
    d_end: Optional[Floats1d] = None
    d_transitions: Optional[Floats2d] = None


def _features_to_torch(layer: Model, features: List[Floats2d], is_train: bool):
    device = module_device(layer)
    tensors = [xp2torch(x, requires_grad=is_train, device=device) for x in features]

    def backprop(d_inputs: ArgsKwargs) -> List[Floats2d]:
        grads = d_inputs.args[0]
        return [
            torch2xp(grad) if grad is not None else layer.ops.alloc2f(*x.shape) for grad, x in zip(grads, features)
        ]

    return ArgsKwargs(args=(tensors,), kwargs={}), backprop


def _output_from_torch(layer: Model, inputs_outputs, is_train: bool):
    _, (emissions, scores) = inputs_outputs
    device = module_device(layer)
    output = TaggerOutput([torch2xp(e) for e in emissions], *(torch2xp(s) for s in scores))

    def backprop(d_output: TaggerGradient) -> ArgsKwargs:
        tensors = list(emissions)
        grads = [xp2torch(d, device=device) for d in d_output.d_emissions]
        d_scores = (d_output.d_start, d_output.d_end, d_output.d_transitions)
        for tensor, d_tensor in zip(scores, d_scores):
            if tensor.requires_grad and d_tensor is not None:
                tensors.append(tensor)
                grads.append(xp2torch(d_tensor, device=device))
        return ArgsKwargs(args=(tensors,), kwargs={"grad_tensors": grads})

    return output, backprop


def sequence_tagger_layer(module: SequenceTagger) -> Model[List[Floats2d], TaggerOutput]:
    return torch_layer(
        "bilstm_tagger", module, _features_to_torch, _output_from_torch, {"nI": module.input_width, "nO": None}
    )


def configure_tags(layer: Model, allowed_start, allowed_end, allowed_transitions) -> None:
    """Build the layer's output for a tag set, given as boolean masks of the allowed starts,
    ends and transitions; any existing output layer is replaced."""
    torch_module(layer).configure_tags(
        torch.from_numpy(numpy.asarray(allowed_start)),
        torch.from_numpy(numpy.asarray(allowed_end)),
        torch.from_numpy(numpy.asarray(allowed_transitions)),
    )
    layer.set_dim("nO", len(allowed_start), force=True)


def add_tags(layer: Model, allowed_start, allowed_end, allowed_transitions) -> None:
    """Grow the trained output for tags appended to the tag set (masks of the whole new set),
    keeping every trained weight; the new tags stay out of the output until
    `release_held_out_tags` (see SequenceTagger.add_tags)."""
    torch_module(layer).add_tags(
        torch.from_numpy(numpy.asarray(allowed_start)),
        torch.from_numpy(numpy.asarray(allowed_end)),
        torch.from_numpy(numpy.asarray(allowed_transitions)),
    )
    layer.set_dim("nO", len(allowed_start), force=True)


def held_out_tags(layer: Model) -> int:
    """How many of the last tags are held out of the output (added, never trained)."""
    return torch_module(layer).n_held_out_tags


def hold_out_tags(layer: Model, n_tags: int) -> None:
    """Hold the last `n_tags` tags out of the output, as they were when saved."""
    module = torch_module(layer)
    if not 0 <= n_tags < module.n_tags:
        raise RuntimeError(f"Cannot hold out {n_tags} of the {module.n_tags} tags.")
    module.n_held_out_tags = n_tags


def release_held_out_tags(layer: Model) -> None:
    torch_module(layer).release_held_out_tags()


def forget_resized_weights(layer: Model, optimizer: Optimizer) -> None:
    """Drop the optimizer's state (Adam's moments, the averages, the update count) of every
    weight of the layer whose size changed (add_tags during training): thinc keeps it by key,
    and state of the old size cannot be applied. The optimizer then starts those weights afresh."""
    shim_id = layer.shims[0].id
    stores = [store for store in (optimizer.mom1, optimizer.mom2, optimizer.averages) if store is not None]
    for name, parameter in torch_module(layer).named_parameters():
        key = (shim_id, name)
        if any(key in store and store[key].size != parameter.numel() for store in stores):
            for store in stores:
                store.pop(key, None)
            optimizer.nr_update.pop(key, None)


def is_configured(layer: Model) -> bool:
    return torch_module(layer).is_configured


def tagger_settings(layer: Model) -> Tuple[str, bool, int]:
    """(output "crf" or "softmax", whether the lattice is dense, max padded tokens per bucket)."""
    module = torch_module(layer)
    return module.output, module.crf.dense_lattice, module.max_padded_tokens
