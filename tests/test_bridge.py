"""thinc <-> torch helpers: character ids of docs."""
import numpy
import spacy

from spacy_bilstm.bridge import char_ids_of_docs


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


def test_no_tokens_gives_empty_arrays():
    nlp = spacy.blank("en")
    char_ids, lengths, token_rows = char_ids_of_docs([nlp("")], n_rows=64, max_chars=20)
    assert char_ids.shape[0] == lengths.shape[0] == token_rows.shape[0] == 0


def test_parameter_averages_reach_the_torch_weights_and_are_undone_after():
    import torch
    from thinc.api import Adam

    from spacy_bilstm.bridge import torch_layer, torch_module

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

    from spacy_bilstm.bridge import torch_layer, torch_module

    layer = torch_layer("dropout", torch.nn.Dropout(0.5), None, None, dims={})
    shim = layer.shims[0]
    inputs = ArgsKwargs(args=(torch.ones(1000),), kwargs={})
    assert torch.equal(shim.predict(inputs), torch.ones(1000))
    trained, _ = shim.begin_update(inputs)
    assert (trained == 0).any()
    assert torch.equal(shim.predict(inputs), torch.ones(1000))
