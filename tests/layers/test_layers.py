"""The thinc layers over the torch modules: character ids, averaged weights, dropout at
prediction, and the character CNN's inference cache."""
import numpy
import pytest
import spacy

from spacy_bilstm.layers.char_ids import char_ids_of_docs


def test_char_ids_cover_each_distinct_word_once_and_map_every_token():
    nlp = spacy.blank("en")
    docs = [nlp("the cat saw the dog"), nlp(""), nlp("the end")]
    char_ids, lengths, token_rows = char_ids_of_docs(docs, n_rows=64, max_chars=20)
    tokens = [token.text for doc in docs for token in doc]
    assert len(token_rows) == len(tokens) == 7
    assert char_ids.shape[0] == len(set(tokens)) == 5
    for text, row in zip(tokens, token_rows):
        assert lengths[row] == len(text)
        assert numpy.all(char_ids[row, : len(text)] > 0) and numpy.all(char_ids[row, len(text) :] == 0)
    assert token_rows[0] == token_rows[3] == token_rows[5]  # "the"


def test_long_words_keep_both_ends():
    nlp = spacy.blank("en")
    word = "antidisestablishmentarianism"
    char_ids, lengths, _ = char_ids_of_docs([nlp(word)], n_rows=1000, max_chars=10)
    assert lengths[0] == 10
    expected = [ord(c) % 999 + 1 for c in word[:5] + word[-5:]]
    assert char_ids[0].tolist() == expected


@pytest.mark.parametrize("max_chars, kept", [(1, "a"), (2, "am"), (3, "anm")])
def test_a_word_cut_to_very_few_characters_keeps_both_ends(max_chars, kept):
    nlp = spacy.blank("en")
    word = "antidisestablishmentarianism"
    char_ids, lengths, _ = char_ids_of_docs([nlp(word)], n_rows=1000, max_chars=max_chars)
    assert lengths[0] == max_chars
    assert char_ids[0].tolist() == [ord(c) % 999 + 1 for c in kept]


def test_no_tokens_gives_empty_arrays():
    nlp = spacy.blank("en")
    char_ids, lengths, token_rows = char_ids_of_docs([nlp("")], n_rows=64, max_chars=20)
    assert char_ids.shape[0] == lengths.shape[0] == token_rows.shape[0] == 0


def test_parameter_averages_reach_the_torch_weights_and_are_undone_after():
    import torch
    from thinc.api import Adam

    from spacy_bilstm.layers.torch_layer import torch_layer, torch_module

    layer = torch_layer("linear", torch.nn.Linear(3, 2), None, None, dims={})
    module = torch_module(layer)
    optimizer = Adam(0.1, use_averages=True)
    for step in range(4):
        for parameter in module.parameters():
            parameter.grad = torch.full_like(parameter, float(step + 1))
        layer.finish_update(optimizer)
    current = {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}
    shim_id = layer.shims[0].id
    averages = {name: numpy.asarray(optimizer.averages[(shim_id, name)]) for name in current}
    assert not any(numpy.allclose(averages[name], current[name].numpy()) for name in current)
    with layer.use_params(optimizer.averages):
        for name, tensor in module.state_dict().items():
            assert numpy.allclose(tensor.numpy(), averages[name])
    for name, tensor in module.state_dict().items():
        assert torch.equal(tensor, current[name])


def test_prediction_runs_without_dropout_and_training_with_it():
    import torch
    from thinc.api import ArgsKwargs

    from spacy_bilstm.layers.torch_layer import torch_layer

    layer = torch_layer("dropout", torch.nn.Dropout(0.5), None, None, dims={})
    shim = layer.shims[0]
    inputs = ArgsKwargs(args=(torch.ones(1000),), kwargs={})
    assert torch.equal(shim.predict(inputs), torch.ones(1000))
    trained, _ = shim.begin_update(inputs)
    assert (trained == 0).any()
    assert torch.equal(shim.predict(inputs), torch.ones(1000))


# --- the char CNN's features at inference come from a cache of the words seen ------------------


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


def test_hidden_tokens_leave_every_row_at_prediction():
    from spacy_bilstm.layers import hidden_tokens

    layer = hidden_tokens(0.5)
    rows = numpy.arange(12, dtype="f").reshape(4, 3) + 1
    output, backprop = layer(rows, is_train=False)
    assert numpy.array_equal(output, rows)
    assert numpy.array_equal(backprop(rows), rows)


def test_hidden_tokens_zero_whole_rows_in_training_and_pass_no_gradient_to_them():
    from spacy_bilstm.layers import hidden_tokens

    numpy.random.seed(0)
    rows = numpy.random.uniform(1.0, 2.0, (4000, 5)).astype("f")
    output, backprop = hidden_tokens(0.3)(rows, is_train=True)
    hidden = numpy.all(output == 0.0, axis=1)
    kept = ~hidden
    assert numpy.array_equal(output[kept], rows[kept])  # kept rows are not rescaled
    assert 0.27 < hidden.mean() < 0.33
    d_rows = backprop(numpy.ones_like(rows))
    assert numpy.all(d_rows[hidden] == 0.0) and numpy.all(d_rows[kept] == 1.0)


@pytest.mark.parametrize("probability", [-0.1, 1.0])
def test_hidden_tokens_refuse_a_probability_outside_0_to_1(probability):
    from spacy_bilstm.layers import hidden_tokens

    with pytest.raises(ValueError, match="at least 0 and below 1"):
        hidden_tokens(probability)
