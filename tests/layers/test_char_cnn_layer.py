"""The char CNN layer at inference: its features come from a cache of the words seen."""
import numpy
import pytest
import spacy


def _char_layer():
    from spacy_bilstm.layers.char_cnn_layer import char_cnn_layer
    from spacy_bilstm.nn import CharCNN

    layer = char_cnn_layer(CharCNN(n_char_rows=64, embed_width=8, n_filters=6, window=3, dropout=0.0), 64, 20)
    layer.initialize()
    return layer


def _convolved(layer, docs):
    """The features computed by the CNN itself, as in training (no cache)."""
    from thinc.layers.pytorchwrapper import forward as pytorch_forward

    return pytorch_forward(layer, docs, False)[0]


def _assert_same_features(actual, expected):
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        assert got.shape == want.shape
        assert numpy.allclose(got, want, atol=1e-6)


def test_char_features_at_inference_are_the_cnns_and_each_word_is_convolved_once():
    from spacy_bilstm.layers.torch_layer import torch_module

    nlp = spacy.blank("en")
    layer = _char_layer()
    calls = []
    torch_module(layer).register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[0]))
    docs = [nlp("the cat saw the dog"), nlp(""), nlp("the end")]
    first = layer.predict(docs)
    assert calls == [5]  # five distinct words
    _assert_same_features(first, _convolved(layer, docs))
    again = layer.predict([nlp("the dog saw the end")])
    assert calls == [5, 5]  # the reference above; nothing new for the cache
    _assert_same_features(again, _convolved(layer, [nlp("the dog saw the end")]))
    layer.predict([nlp("a dog")])
    assert calls[-1] == 1  # only "a"


def _optimizer_step(layer, docs):
    from thinc.api import Adam

    features, backprop = layer(docs, is_train=True)
    backprop([numpy.ones_like(f) for f in features])
    layer.finish_update(Adam(0.5))


def _in_place_edit(layer, docs):
    import torch

    from spacy_bilstm.layers.torch_layer import torch_module

    with torch.no_grad():
        torch_module(layer).embed.weight.mul_(-1.0)


def _load_state_dict(layer, docs):
    from spacy_bilstm.layers.torch_layer import torch_module

    torch_module(layer).load_state_dict(torch_module(_char_layer()).state_dict())


def _from_bytes(layer, docs):
    layer.from_bytes(_char_layer().to_bytes())


def _averages_in_use(layer, docs):
    import contextlib

    from thinc.api import Adam

    optimizer = Adam(0.5, use_averages=True)
    for _ in range(2):
        features, backprop = layer(docs, is_train=True)
        backprop([numpy.ones_like(f) for f in features])
        layer.finish_update(optimizer)
    layer.predict(docs)  # the cache now holds the current weights' features
    stack = contextlib.ExitStack()
    stack.enter_context(layer.use_params(optimizer.averages))
    return stack


@pytest.mark.parametrize(
    "change", [_optimizer_step, _in_place_edit, _load_state_dict, _from_bytes, _averages_in_use]
)
def test_char_feature_cache_never_outlives_the_weights_it_was_filled_with(change):
    nlp = spacy.blank("en")
    layer = _char_layer()
    docs = [nlp("the cat saw the dog"), nlp("the end")]
    before = layer.predict(docs)
    context = change(layer, docs)
    after = layer.predict(docs)
    _assert_same_features(after, _convolved(layer, docs))
    assert not numpy.allclose(after[0], before[0])
    if context is not None:  # parameter averages: once they are swapped out, back to the weights
        context.close()
        _assert_same_features(layer.predict(docs), _convolved(layer, docs))


def test_char_feature_cache_full_or_too_small_for_a_batch_still_gives_the_cnns_features(monkeypatch):
    from spacy_bilstm.layers import char_cnn

    monkeypatch.setattr(char_cnn, "CHAR_CACHE_MAX_STRINGS", 4)
    nlp = spacy.blank("en")
    layer = _char_layer()
    for text in ["the cat saw", "the dog", "a bird and a fox", "one two three four five six"]:
        docs = [nlp(text), nlp("the end")]
        _assert_same_features(layer.predict(docs), _convolved(layer, docs))
        assert len(layer.shims[0].char_feature_cache.row_of_orth) <= 4


def test_char_feature_cache_is_neither_copied_nor_pickled():
    import pickle

    nlp = spacy.blank("en")
    layer = _char_layer()
    layer.predict([nlp("the cat saw the dog")])
    assert len(layer.shims[0].char_feature_cache.row_of_orth) == 4
    assert not hasattr(pickle.loads(pickle.dumps(layer.shims[0])), "char_feature_cache")
    copied = layer.copy()
    assert not hasattr(copied.shims[0], "char_feature_cache")
    _assert_same_features(copied.predict([nlp("the dog")]), _convolved(layer, [nlp("the dog")]))


def test_threads_tagging_with_one_layer_get_the_cnns_features():
    from concurrent.futures import ThreadPoolExecutor

    nlp = spacy.blank("en")
    layer = _char_layer()
    texts = [" ".join(f"w{(i * 7 + j) % 300}" for j in range(12)) for i in range(200)]
    docs = [nlp(text) for text in texts]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda doc: layer.predict([doc])[0], docs))
    for doc, features in zip(docs, results):
        _assert_same_features([features], _convolved(layer, [doc]))


def test_a_child_forked_while_a_thread_adds_to_the_cache_can_still_add():
    import os
    import signal
    import threading
    import time

    from spacy_bilstm.layers import char_cache

    nlp = spacy.blank("en")
    layer = _char_layer()
    layer.predict([nlp("warm")])
    holding = threading.Event()

    def hold_the_lock():
        with char_cache._CACHE_ADDING:
            holding.set()
            time.sleep(2)

    thread = threading.Thread(target=hold_the_lock)
    thread.start()
    holding.wait()
    pid = os.fork()
    if pid == 0:  # the child: a new word needs the lock the parent's thread held at the fork
        signal.alarm(10)
        layer.predict([nlp("newword")])
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    thread.join()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_moving_the_layer_starts_a_new_cache():
    nlp = spacy.blank("en")
    layer = _char_layer()
    layer.predict([nlp("the cat")])
    cache = layer.shims[0].char_feature_cache
    layer.to_cpu()
    layer.predict([nlp("the cat")])
    assert layer.shims[0].char_feature_cache is not cache
