"""The thinc layer over a torch module: averaged weights, dropout only in training."""
import numpy


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
