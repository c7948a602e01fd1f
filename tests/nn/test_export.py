"""The ONNX graphs of the char CNN and of the tagger's emissions compute what the torch modules
compute at evaluation, for any batch size and length (the axes are dynamic)."""
import pytest
import torch

from spacy_bilstm.nn import CharCNN, SequenceTagger
from spacy_bilstm.nn.export import char_cnn_graph, emissions_graph

# torch's exporter needs the onnx package; running the graphs, onnxruntime.
pytest.importorskip("onnx", reason='the ONNX extra is not installed: pip install ".[onnx]"')
onnxruntime = pytest.importorskip("onnxruntime", reason='the ONNX extra is not installed: pip install ".[onnx]"')

N_TAGS = 5


def session(graph: bytes):
    return onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("n_words,n_chars", [(1, 1), (1, 6), (9, 13)])
def test_char_cnn_graph_gives_the_modules_word_features(n_words, n_chars):
    torch.manual_seed(0)
    module = CharCNN(n_char_rows=40, embed_width=6, n_filters=8, window=3, dropout=0.0)
    run = session(char_cnn_graph(module))
    module.eval()
    lengths = torch.randint(1, n_chars + 1, (n_words,))
    char_ids = torch.randint(1, 40, (n_words, n_chars))
    char_ids[torch.arange(n_chars).unsqueeze(0) >= lengths.unsqueeze(1)] = 0
    with torch.no_grad():
        expected = module(char_ids, lengths, torch.arange(n_words)).numpy()
    (got,) = run.run(None, {"char_ids": char_ids.numpy(), "char_lengths": lengths.numpy()})
    assert got.shape == expected.shape
    assert abs(got - expected).max() <= 1e-5


@pytest.mark.parametrize("output,depth,bidirectional", [("crf", 1, True), ("softmax", 2, True), ("crf", 1, False)])
def test_emissions_graph_gives_the_modules_emissions(output, depth, bidirectional):
    torch.manual_seed(0)
    module = SequenceTagger(12, 8, depth, 0.3, bidirectional, output)
    allowed = torch.ones(N_TAGS, dtype=torch.bool)
    module.configure_tags(allowed, allowed, torch.ones(N_TAGS, N_TAGS, dtype=torch.bool))
    run = session(emissions_graph(module))
    module.eval()
    for batch_size, length in [(1, 1), (1, 7), (4, 11)]:
        rows = torch.randn(batch_size, length, 12)
        with torch.no_grad():
            expected = torch.stack(module(list(rows))[0]).numpy()
        (got,) = run.run(None, {"features": rows.numpy()})
        assert got.shape == (batch_size, length, N_TAGS)
        assert abs(got - expected).max() <= 1e-5


def test_exporting_leaves_a_training_module_in_training_mode():
    module = SequenceTagger(12, 8, 1, 0.3, True)
    allowed = torch.ones(N_TAGS, dtype=torch.bool)
    module.configure_tags(allowed, allowed, torch.ones(N_TAGS, N_TAGS, dtype=torch.bool))
    module.train()
    emissions_graph(module)
    assert all(submodule.training for submodule in module.modules())


def test_an_untrained_tagger_without_tags_cannot_be_exported():
    with pytest.raises(RuntimeError, match="no tag set"):
        emissions_graph(SequenceTagger(12, 8, 1, 0.0, True))
