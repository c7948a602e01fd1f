"""thinc <-> torch: the converters that let thinc layers wrap the torch modules, and the calls
the component makes into the tagger (loss, decoding, span probabilities).

No spaCy pipeline logic lives here; the component never touches a tensor itself.
"""
import contextlib
import io
import os
import pickle
import re
import threading
from functools import lru_cache
from typing import Callable, Dict, Iterator, List, Sequence, Tuple

import numpy
import torch
from thinc.api import ArgsKwargs, Model, torch2xp, xp2torch
from thinc.layers.pytorchwrapper import forward as pytorch_forward
from thinc.shims import PyTorchShim
from spacy.attrs import ORTH
from thinc.types import Floats2d, Ints1d

from .nn import CharCNN, SequenceTagger


class ModelLoadError(ValueError):
    pass


def _one_thread_after_fork() -> None:
    # A forked child (nlp.pipe(n_process=...)) inherits torch's OpenMP thread pool without its
    # threads, and its first parallel op then hangs forever. One intra-op thread per child
    # avoids the pool; the processes are the parallelism.
    torch.set_num_threads(1)


os.register_at_fork(after_in_child=_one_thread_after_fork)


def _serialize_state(module: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getvalue()


def _deserialize_state(module: torch.nn.Module, state_bytes: bytes, device: "torch.device") -> torch.nn.Module:
    # weights_only: a model directory is untrusted input and must never execute code.
    try:
        state = torch.load(io.BytesIO(state_bytes), map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's own message goes on to suggest weights_only=False: not advice to pass on.
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        raise ModelLoadError(
            "Refused to load the torch weights: besides tensors they hold Python objects"
            + (f" (such as {found.group(1)})" if found else "")
            + ", which could run code when loaded, so the file was not unpickled. It was not written by "
            "spacy-bilstm or was tampered with; use a pipeline from a source you trust, or retrain."
        ) from None
    except Exception as error:  # torch raises several types for truncated or damaged files
        raise ModelLoadError(
            f"The torch weights could not be read ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}): the model file is truncated or corrupted. "
            f"Restore the pipeline directory from a good copy, or retrain."
        ) from None
    try:
        module.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError, ValueError) as error:
        details = [line.strip() for line in str(error).splitlines() if line.strip()][:4]
        raise ModelLoadError(
            f"The stored weights do not fit this model: {' '.join(details)} Check that the config (widths, "
            f"depth, bidirectional, labels) is the one the model was trained with, or retrain."
        ) from None
    return module.to(device)


class _PyTorchShim(PyTorchShim):
    """thinc's PyTorchShim, with a cheaper `predict` and a `use_params` that finds the torch
    parameters' averages.

    The optimizer keeps them under the keys finish_update gives it, (shim id, parameter
    name), but thinc 8.3's use_params looks for "pytorch_<id>_<name>" strings, finds none and
    leaves the torch weights as they are: with `use_averages = true`, spaCy would evaluate and
    save averaged thinc layers (embeddings) beside raw torch layers (LSTM, CRF)."""

    # What the weights are now, for caches of inference outputs (see CharFeatureCache):
    # `_weights_changes` counts the changes made through the shim (optimizer steps,
    # averages swapped in and out, loading, moving devices); the parameters' storage and
    # torch version counters catch changes made on the torch module directly
    # (load_state_dict, in-place edits). thinc's optimizer step writes into the same storage
    # without a torch version bump, hence the counter.
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


def torch_layer(
    name: str, module: torch.nn.Module, convert_inputs: Callable, convert_outputs: Callable, dims,
    forward: Callable = pytorch_forward,
) -> Model:
    """A thinc layer over a torch module, like thinc's PyTorchWrapper_v2 but with weights
    loaded through `weights_only` and `load_state_dict(strict=True)`, and parameter averages
    (`use_averages`) applied to the torch weights too. `forward`: thinc's, or one that calls it
    where it needs the module (the char CNN's, which answers known words from its cache)."""
    shim = _PyTorchShim(module, serialize_model=_serialize_state, deserialize_model=_deserialize_state)
    return Model(
        name,
        forward,
        attrs={"convert_inputs": convert_inputs, "convert_outputs": convert_outputs},
        shims=[shim],
        dims=dims,
    )


def torch_module(layer: Model) -> torch.nn.Module:
    return layer.shims[0]._model


def _device(layer: Model) -> "torch.device":
    # Not the shim's `device`: that walks the module's parameters, a few times per sentence
    # tagged. Our modules read the device off one parameter, looked up afresh on each call.
    return torch_module(layer).device


# --- the sequence tagger layer: List[Floats2d] features -> List[Floats2d] emissions ---------


def _features_to_torch(layer: Model, features: List[Floats2d], is_train: bool):
    device = _device(layer)
    tensors = [xp2torch(x, requires_grad=is_train, device=device) for x in features]

    def backprop(d_inputs: ArgsKwargs) -> List[Floats2d]:
        grads = d_inputs.args[0]
        return [
            torch2xp(grad) if grad is not None else layer.ops.alloc2f(*x.shape) for grad, x in zip(grads, features)
        ]

    return ArgsKwargs(args=(tensors,), kwargs={}), backprop


def _emissions_from_torch(layer: Model, inputs_outputs, is_train: bool):
    _, emissions = inputs_outputs
    device = _device(layer)
    outputs = [torch2xp(e) for e in emissions]

    def backprop(d_outputs: List[Floats2d]) -> ArgsKwargs:
        grads = [xp2torch(d, device=device) for d in d_outputs]
        return ArgsKwargs(args=(list(emissions),), kwargs={"grad_tensors": grads})

    return outputs, backprop


def sequence_tagger_layer(module: SequenceTagger) -> Model[List[Floats2d], List[Floats2d]]:
    return torch_layer(
        "bilstm_tagger", module, _features_to_torch, _emissions_from_torch, {"nI": module.input_width, "nO": None}
    )


def configure_tags(layer: Model, allowed_start, allowed_end, allowed_transitions) -> None:
    torch_module(layer).configure_tags(
        torch.from_numpy(numpy.asarray(allowed_start)),
        torch.from_numpy(numpy.asarray(allowed_end)),
        torch.from_numpy(numpy.asarray(allowed_transitions)),
    )
    layer.set_dim("nO", len(allowed_start), force=True)


def is_configured(layer: Model) -> bool:
    return torch_module(layer).is_configured


@contextlib.contextmanager
def inference_mode() -> Iterator[None]:
    with torch.inference_mode():
        yield


def tagger_loss(layer: Model, emissions: List[Floats2d], gold: List[Ints1d]) -> Tuple[float, List[Floats2d]]:
    """Loss and d(loss)/d(emissions). Gradients of the CRF's own scores accumulate in its torch
    parameters, which the next finish_update applies."""
    module = torch_module(layer)
    device = _device(layer)
    scores = [xp2torch(e, requires_grad=True, device=device) for e in emissions]
    gold_tensors = [torch.as_tensor(numpy.asarray(g), dtype=torch.long, device=device) for g in gold]
    loss = module.loss(scores, gold_tensors)
    if not torch.isfinite(loss):
        if torch.isnan(loss) or not all(bool(torch.isfinite(s).all()) for s in scores):
            raise FloatingPointError(
                "Training diverged: the model's scores or its loss are no longer finite numbers (NaN or "
                "infinite). Lower [training.optimizer] learn_rate, keep grad_clip on (e.g. 1.0), and on a GPU "
                "train in full precision."
            )
        raise ValueError(
            "The gold annotation has probability zero under the tag scheme (an invalid BILUO sequence "
            "in a training example); check the training data with `spacy-bilstm convert`."
        )
    loss.backward()
    return float(loss.detach()), [torch2xp(s.grad) for s in scores]


def _to_torch_list(layer: Model, arrays: List[Floats2d]) -> List[torch.Tensor]:
    device = _device(layer)
    return [xp2torch(a, device=device) for a in arrays]


def _numpy_inference(layer: Model, emissions: List[Floats2d]) -> bool:
    """Whether the CRF's inference can run in numpy (CPU model, numpy emissions)."""
    return _device(layer).type == "cpu" and all(isinstance(e, numpy.ndarray) for e in emissions)


def viterbi_paths(layer: Model, emissions: List[Floats2d]) -> List[numpy.ndarray]:
    if _numpy_inference(layer, emissions):
        return torch_module(layer).decode_numpy(emissions)
    with torch.inference_mode():
        paths = torch_module(layer).decode(_to_torch_list(layer, emissions))
    return [p.cpu().numpy() for p in paths]


def span_probabilities(
    layer: Model,
    emissions: List[Floats2d],
    span_docs: Sequence[int],
    span_starts: Sequence[int],
    span_tags: Sequence[Sequence[int]],
    temperature: float = 1.0,
) -> numpy.ndarray:
    """Probability of each span's tag sub-path (span_tags: ragged lists of tag ids), with the
    model's scores divided by `temperature`."""
    if len(span_docs) == 0:
        return numpy.zeros(0, dtype="float32")
    width = max(len(t) for t in span_tags)
    padded = numpy.full((len(span_tags), width), -1, dtype="int64")
    for row, tags in enumerate(span_tags):
        padded[row, : len(tags)] = tags
    if _numpy_inference(layer, emissions):
        log_probs = torch_module(layer).span_log_probs_numpy(
            emissions, numpy.asarray(span_docs, dtype="int64"), numpy.asarray(span_starts, dtype="int64"), padded,
            temperature,
        )
        return numpy.exp(log_probs).clip(0.0, 1.0)
    device = _device(layer)
    with torch.inference_mode():
        log_probs = torch_module(layer).span_log_probs(
            _to_torch_list(layer, emissions),
            torch.as_tensor(numpy.asarray(span_docs, dtype="int64"), device=device),
            torch.as_tensor(numpy.asarray(span_starts, dtype="int64"), device=device),
            torch.as_tensor(padded, device=device),
            temperature,
        )
    return log_probs.exp().clamp(0.0, 1.0).cpu().numpy()


# --- the character CNN layer: List[Doc] -> List[Floats2d] -----------------------------------


@lru_cache(maxsize=2**18)
def _char_ids(text: str, n_rows: int, max_chars: int) -> Tuple[int, ...]:
    if len(text) > max_chars:
        # Keep both ends: prefixes and suffixes carry most of the signal.
        n_tail = max_chars // 2
        text = text[: max_chars - n_tail] + text[len(text) - n_tail :]
    return tuple(ord(c) % (n_rows - 1) + 1 for c in text)


def char_ids_of_docs(docs, n_rows: int, max_chars: int) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """The distinct token strings of the docs as (U, C) char ids (0 = padding) and (U,) char
    counts, and for each token of the docs in order (N,) the row of its string. The CNN then
    runs once per distinct string in a batch rather than once per token."""
    orths = [doc.to_array(ORTH) for doc in docs if len(doc)]
    if not orths:
        empty = numpy.zeros(0, dtype="int64")
        return numpy.zeros((0, 0), dtype="int64"), empty, empty
    unique_orths, token_rows = numpy.unique(numpy.concatenate(orths), return_inverse=True)
    char_ids, lengths = char_ids_of_strings(
        [docs[0].vocab.strings[int(orth)] for orth in unique_orths], n_rows, max_chars
    )
    return char_ids, lengths, token_rows.reshape(-1).astype("int64")


def char_ids_of_strings(strings: Sequence[str], n_rows: int, max_chars: int) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """(U, C) char ids (0 = padding) and (U,) char counts of U strings."""
    unique_ids = [_char_ids(string, n_rows, max_chars) for string in strings]
    lengths = numpy.fromiter((len(ids) for ids in unique_ids), dtype="int64", count=len(unique_ids))
    char_ids = numpy.zeros((len(unique_ids), int(lengths.max())), dtype="int64")
    char_ids[numpy.arange(int(lengths.max())) < lengths[:, None]] = numpy.fromiter(
        (c for ids in unique_ids for c in ids), dtype="int64", count=int(lengths.sum())
    )
    return char_ids, lengths


def _docs_to_chars(layer: Model, docs, is_train: bool):
    char_ids, lengths, token_rows = char_ids_of_docs(docs, layer.attrs["n_char_rows"], layer.attrs["max_chars"])
    device = _device(layer)
    tensors = (torch.as_tensor(char_ids, device=device), torch.as_tensor(lengths, device=device))
    inputs = ArgsKwargs(args=(*tensors, torch.as_tensor(token_rows, device=device)), kwargs={})
    return inputs, lambda d_inputs: []


def _char_features_from_torch(layer: Model, inputs_outputs, is_train: bool):
    docs, features = inputs_outputs
    doc_lengths = [len(doc) for doc in docs]
    flat = torch2xp(features)
    boundaries = numpy.cumsum(doc_lengths)[:-1]
    outputs = layer.ops.xp.split(flat, boundaries) if docs else []
    device = _device(layer)

    def backprop(d_outputs: List[Floats2d]) -> ArgsKwargs:
        grad = layer.ops.xp.concatenate(d_outputs) if d_outputs else layer.ops.alloc2f(0, features.shape[1])
        return ArgsKwargs(args=(features,), kwargs={"grad_tensors": xp2torch(grad, device=device)})

    return list(outputs), backprop


class CharFeatureCache:
    """The char CNN's output for each token string met at inference (CPU), by ORTH, so that a
    word is convolved once, not in every batch it appears in: most tokens of a text are words
    seen before, and for one sentence at a time the CNN's torch calls were about a tenth of
    the tagging time. Valid for the weights it was filled with (`key`, from the shim)."""

    def __init__(self, key: Tuple, width: int, max_strings: int):
        self.key = key
        self.max_strings = max_strings
        self.row_of_orth: Dict[int, int] = {}
        self.table = numpy.zeros((min(1024, max_strings), width), dtype="float32")
        # Rows in use: more than len(row_of_orth) when two threads added the same word.
        self.used = 0

    def rows(self, orths: List[int]) -> numpy.ndarray:
        """Each orth's row in `table`, -1 where it has none."""
        row_of_orth = self.row_of_orth
        return numpy.fromiter((row_of_orth.get(orth, -1) for orth in orths), dtype="int64", count=len(orths))

    def has_room_for(self, n_strings: int) -> bool:
        return self.used + n_strings <= self.max_strings

    def add(self, orths: List[int], features: numpy.ndarray) -> None:
        with _CACHE_ADDING:
            first = self.used
            needed = first + len(orths)
            if needed > self.table.shape[0]:
                # Grown into a new array: a reader holding the old one still finds its rows there.
                grown = numpy.zeros((max(needed, min(2 * self.table.shape[0], self.max_strings)), self.table.shape[1]),
                                    dtype=self.table.dtype)
                grown[:first] = self.table[:first]
                self.table = grown
            self.table[first:needed] = features
            self.used = needed
            self.row_of_orth.update(zip(orths, range(first, needed)))


# 100,000 strings of 64 filters (the default width) take 25.6 MB, and their index about 10 MB more
# (tracemalloc: 34 MB in all, 50 MB at the peak of the last growth).
CHAR_CACHE_MAX_STRINGS = 100_000
# Two threads tagging with one pipeline must not claim the same rows. One lock for all caches,
# made anew in a forked child: a child forked while another thread held it would wait forever.
_CACHE_ADDING = threading.Lock()


def _new_cache_lock_after_fork() -> None:
    global _CACHE_ADDING
    _CACHE_ADDING = threading.Lock()


os.register_at_fork(after_in_child=_new_cache_lock_after_fork)


def _char_cnn_forward(layer: Model, docs, is_train: bool):
    if is_train or _device(layer).type != "cpu":
        return pytorch_forward(layer, docs, is_train)
    orths = numpy.concatenate([doc.to_array(ORTH) for doc in docs]).tolist() if docs else []
    cache = _char_feature_cache(layer)
    rows = cache.rows(orths)
    missing = rows < 0
    if missing.any():
        new_orths = sorted(set(orth for orth, is_missing in zip(orths, missing.tolist()) if is_missing))
        if not cache.has_room_for(len(new_orths)):
            cache = _char_feature_cache(layer, renew=True)
            if not cache.has_room_for(len(set(orths))):
                # More distinct words in one batch than the cache holds: compute as in training.
                return pytorch_forward(layer, docs, is_train)
            new_orths = sorted(set(orths))
        strings = docs[0].vocab.strings
        char_ids, lengths = char_ids_of_strings(
            [strings[orth] for orth in new_orths], layer.attrs["n_char_rows"], layer.attrs["max_chars"]
        )
        tensors = (torch.as_tensor(char_ids), torch.as_tensor(lengths), torch.arange(len(new_orths)))
        cache.add(new_orths, layer.shims[0].predict(ArgsKwargs(args=tensors, kwargs={})).numpy())
        rows = cache.rows(orths)
    features = cache.table[rows]
    outputs = numpy.split(features, numpy.cumsum([len(doc) for doc in docs])[:-1]) if docs else []
    return outputs, lambda d_outputs: []


def _char_feature_cache(layer: Model, renew: bool = False) -> CharFeatureCache:
    shim = layer.shims[0]
    key = shim.weights_key()
    cache = getattr(shim, "char_feature_cache", None)
    if renew or cache is None or cache.key != key:
        cache = shim.char_feature_cache = CharFeatureCache(key, layer.get_dim("nO"), CHAR_CACHE_MAX_STRINGS)
    return cache


def char_cnn_layer(module: CharCNN, n_char_rows: int, max_chars: int) -> Model:
    layer = torch_layer("char_cnn", module, _docs_to_chars, _char_features_from_torch, {"nO": module.output_width},
                        forward=_char_cnn_forward)
    layer.attrs["n_char_rows"] = n_char_rows
    layer.attrs["max_chars"] = max_chars
    return layer
