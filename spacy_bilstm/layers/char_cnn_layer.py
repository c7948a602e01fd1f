"""The thinc layer over the torch CharCNN (nn/char_cnn.py): List[Doc] -> List[Floats2d], one
(n_tokens, n_filters) array per doc. At CPU inference known words are answered from a cache
(char_cache)."""
from typing import List

import numpy
import torch
from spacy.attrs import ORTH
from thinc.api import ArgsKwargs, Model, torch2xp, xp2torch
from thinc.types import Floats2d

from ..nn import CharCNN
from ..threads import torch_threads
from .char_cache import CHAR_CACHE_MAX_STRINGS, CharFeatureCache
from .char_ids import char_ids_of_docs, char_ids_of_strings
from .torch_layer import module_device, threaded_forward, torch_layer


def _docs_to_chars(layer: Model, docs, is_train: bool):
    char_ids, lengths, token_rows = char_ids_of_docs(docs, layer.attrs["n_char_rows"], layer.attrs["max_chars"])
    device = module_device(layer)
    tensors = (torch.as_tensor(char_ids, device=device), torch.as_tensor(lengths, device=device))
    inputs = ArgsKwargs(args=(*tensors, torch.as_tensor(token_rows, device=device)), kwargs={})
    return inputs, lambda d_inputs: []


def _char_features_from_torch(layer: Model, inputs_outputs, is_train: bool):
    docs, features = inputs_outputs
    doc_lengths = [len(doc) for doc in docs]
    flat = torch2xp(features)
    boundaries = numpy.cumsum(doc_lengths)[:-1]
    outputs = layer.ops.xp.split(flat, boundaries) if docs else []
    device = module_device(layer)

    def backprop(d_outputs: List[Floats2d]) -> ArgsKwargs:
        grad = layer.ops.xp.concatenate(d_outputs) if d_outputs else layer.ops.alloc2f(0, features.shape[1])
        return ArgsKwargs(args=(features,), kwargs={"grad_tensors": xp2torch(grad, device=device)})

    return list(outputs), backprop


def _char_cnn_forward(layer: Model, docs, is_train: bool):
    if is_train or module_device(layer).type != "cpu":
        return threaded_forward(layer, docs, is_train)
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
                return threaded_forward(layer, docs, is_train)
            new_orths = sorted(set(orths))
        strings = docs[0].vocab.strings
        char_ids, lengths = char_ids_of_strings(
            [strings[orth] for orth in new_orths], layer.attrs["n_char_rows"], layer.attrs["max_chars"]
        )
        tensors = (torch.as_tensor(char_ids), torch.as_tensor(lengths), torch.arange(len(new_orths)))
        with torch_threads(inference=True):
            features = layer.shims[0].predict(ArgsKwargs(args=tensors, kwargs={})).numpy()
        cache.add(new_orths, features)
        rows = cache.rows(orths)
    features = cache.table[rows]
    if len(docs) == 1:  # one text at a time: numpy.split costs more than the rest of a cache hit
        return [features], lambda d_outputs: []
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
