"""The thinc layer that wraps a torch module: thinc's PyTorchWrapper_v2, with weights read
safely (weights), parameter averages applied to the torch weights, a cheaper predict, and every
torch call made with this package's thread count (threads)."""
import contextlib
from typing import Any, Callable, Tuple

import torch
from thinc.api import ArgsKwargs, Model, xp2torch
from thinc.layers.pytorchwrapper import forward as pytorch_forward
from thinc.shims import PyTorchShim

from ..threads import torch_threads
from .weights import deserialize_state, serialize_state


class TorchShim(PyTorchShim):
    """thinc's PyTorchShim, with a cheaper `predict` and a `use_params` that finds the torch
    parameters' averages.

    The optimizer keeps them under the keys finish_update gives it, (shim id, parameter
    name), but thinc 8.3's use_params looks for "pytorch_<id>_<name>" strings, finds none and
    leaves the torch weights as they are: with `use_averages = true`, spaCy would evaluate and
    save averaged thinc layers (embeddings) beside raw torch layers (LSTM, CRF)."""

    # What the weights are now, for caches of inference outputs (char_cache): `_weights_changes`
    # counts the changes made through the shim (optimizer steps, averages swapped in and out,
    # loading, moving devices); the parameters' storage and torch version counters catch
    # changes made on the torch module directly (load_state_dict, in-place edits). thinc's
    # optimizer step writes into the same storage without a torch version bump, hence the counter.
    _weights_changes = 0

    def weights_key(self) -> Tuple:
        return (
            self._weights_changes,
            id(self._model),
            tuple((p.data_ptr(), p._version) for p in self._model.parameters()),
        )

    def _weights_changed(self) -> None:
        self._weights_changes += 1

    def finish_update(self, optimizer):
        # Before and after: features computed while the weights are being written (another
        # thread tagging) are filed under the key of the step in progress, never the next one.
        self._weights_changed()
        super().finish_update(optimizer)
        self._weights_changed()

    def from_bytes(self, bytes_data):
        self._weights_changed()
        return super().from_bytes(bytes_data)

    def to_device(self, device_type: str, device_id: int):
        self._weights_changed()
        super().to_device(device_type, device_id)

    def __getstate__(self):
        # Caches of outputs are rebuilt, not copied or pickled.
        state = self.__dict__.copy()
        state.pop("char_feature_cache", None)
        return state

    def predict(self, inputs: ArgsKwargs):
        # thinc's predict switches every module to eval mode and back to train mode on each
        # call, walking the module tree twice: a measurable share of tagging one sentence.
        # begin_update sets train mode itself, so prediction can leave eval mode on.
        if self._model.training:
            self._model.eval()
        with torch.no_grad():
            if not self._mixed_precision:  # entering a disabled autocast still costs a few microseconds
                return self._model(*inputs.args, **inputs.kwargs)
            with torch.autocast(device_type="cuda", enabled=True):
                return self._model(*inputs.args, **inputs.kwargs)

    @contextlib.contextmanager
    def use_params(self, params):
        averaged = {
            name: xp2torch(params[(self.id, name)], device=self.device)
            for name, _ in self._model.named_parameters()
            if (self.id, name) in params
        }
        if not averaged:
            yield
            return
        backup = {name: tensor.detach().clone() for name, tensor in self._model.state_dict().items()}
        self._weights_changed()
        self._model.load_state_dict(averaged, strict=False)
        try:
            yield
        finally:
            self._weights_changed()
            self._model.load_state_dict(backup)


def threaded_forward(model: Model, inputs: Any, is_train: bool) -> Tuple[Any, Callable]:
    """thinc's PyTorchWrapper forward, with the forward and backward passes run under this
    package's torch thread count."""
    with torch_threads(inference=not is_train):
        outputs, backprop = pytorch_forward(model, inputs, is_train)

    def threaded_backprop(d_outputs: Any) -> Any:
        with torch_threads():
            return backprop(d_outputs)

    return outputs, threaded_backprop


def torch_layer(
    name: str, module: torch.nn.Module, convert_inputs: Callable, convert_outputs: Callable, dims,
    forward: Callable = threaded_forward,
) -> Model:
    """A thinc layer over a torch module. `forward`: threaded_forward, or one that calls it
    where it needs the module (the char CNN's, which answers known words from its cache)."""
    shim = TorchShim(module, serialize_model=serialize_state, deserialize_model=deserialize_state)
    return Model(
        name,
        forward,
        attrs={"convert_inputs": convert_inputs, "convert_outputs": convert_outputs},
        shims=[shim],
        dims=dims,
    )


def torch_module(layer: Model) -> torch.nn.Module:
    return layer.shims[0]._model


def module_device(layer: Model) -> "torch.device":
    # Not the shim's `device`: that walks the module's parameters, a few times per sentence
    # tagged. Our modules read the device off one parameter, looked up afresh on each call.
    return torch_module(layer).device


@contextlib.contextmanager
def inference_mode():
    """torch's inference mode, for a whole prediction (no autograd bookkeeping anywhere in it)."""
    with torch.inference_mode():
        yield
