"""The torch modules' shortcuts give what the plain torch operations give."""
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from spacy_bilstm.nn import CharCNN
from spacy_bilstm.nn.crf import positions_mask
from spacy_bilstm.nn.encoder import LockedDropout, LSTMEncoder, WordDropout


def char_batch(n_words=7, n_chars=9, n_rows=50, seed=0):
    generator = torch.Generator().manual_seed(seed)
    char_ids = torch.randint(1, n_rows, (n_words, n_chars), generator=generator)
    lengths = torch.randint(1, n_chars + 1, (n_words,), generator=generator)
    char_ids[positions_mask(lengths, n_chars).logical_not()] = 0
    return char_ids, lengths


@pytest.mark.parametrize("window", [1, 3, 5])
def test_char_cnn_computes_conv1d_and_its_gradients(window):
    torch.manual_seed(window)
    cnn = CharCNN(n_char_rows=50, embed_width=8, n_filters=6, window=window, dropout=0.0)
    char_ids, lengths = char_batch()
    token_rows = torch.tensor([0, 1, 2, 3, 4, 5, 6, 0, 3])
    features = cnn(char_ids, lengths, token_rows)
    features.square().sum().backward()
    ours = [p.grad.clone() for p in cnn.parameters()]
    cnn.zero_grad()

    convolved = cnn.conv(cnn.embed(char_ids).transpose(1, 2))
    real = positions_mask(lengths, char_ids.shape[1]).unsqueeze(1)
    expected = convolved.masked_fill(~real, float("-inf")).amax(dim=2)[token_rows]
    expected.square().sum().backward()
    assert torch.allclose(features, expected, atol=1e-5)
    for grad, parameter in zip(ours, cnn.parameters()):
        assert torch.allclose(grad, parameter.grad, atol=1e-4)


def test_encoder_without_padding_skips_packing_and_gives_the_packed_result():
    torch.manual_seed(0)
    encoder = LSTMEncoder(input_width=5, hidden_width=4, depth=2, dropout=0.0, bidirectional=True).eval()
    inputs = torch.randn(3, 6, 5)
    lengths = torch.tensor([6, 6, 6])
    packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = pad_packed_sequence(encoder.lstm(packed)[0], batch_first=True, total_length=6)
    assert torch.allclose(encoder(inputs, lengths), expected, atol=1e-6)
    # With padding the packed path runs: padded positions are zeros, real ones unchanged.
    short = encoder(inputs, torch.tensor([6, 2, 6]))
    assert torch.all(short[1, 2:] == 0)
    assert torch.allclose(short[0], expected[0], atol=1e-6)
    # A lone padded row too: its backward direction must not start in the padding.
    alone = encoder(inputs[1:2], torch.tensor([2]))
    assert torch.allclose(alone[0, :2], encoder(inputs[1:2, :2], torch.tensor([2]))[0], atol=1e-6)


def test_modules_report_the_device_their_weights_are_on_after_a_move():
    cnn = CharCNN(n_char_rows=10, embed_width=4, n_filters=3, window=3, dropout=0.0)
    encoder = LSTMEncoder(input_width=3, hidden_width=2, depth=1, dropout=0.0, bidirectional=True)
    assert cnn.device.type == encoder.device.type == "cpu"
    # "meta" stands in for a GPU here: .to() may replace the parameter objects.
    assert cnn.to("meta").device.type == encoder.to("meta").device.type == "meta"


def test_locked_dropout_drops_the_same_features_at_every_position_of_a_sentence():
    torch.manual_seed(0)
    dropout = LockedDropout(0.5).train()
    dropped = dropout(torch.ones(4, 30, 16))
    assert torch.all(dropped == dropped[:, :1, :])  # one mask per sentence
    assert set(dropped.unique().tolist()) == {0.0, 2.0}  # kept features are rescaled by 1 / (1 - p)
    assert not torch.all(dropped[0] == dropped[1])  # but a mask of its own for each sentence


def test_word_dropout_drops_whole_tokens():
    torch.manual_seed(0)
    dropout = WordDropout(0.25).train()
    dropped = dropout(torch.ones(3, 40, 8))
    assert torch.all(dropped == dropped[:, :, :1])  # a token keeps all its features or none
    kept = dropped[:, :, 0]
    assert kept.unique().tolist() == pytest.approx([0.0, 1 / 0.75])
    assert 0.1 < (kept == 0).float().mean() < 0.4


@pytest.mark.parametrize("module", [LockedDropout(0.5), WordDropout(0.5)])
def test_sequence_dropouts_are_the_identity_at_evaluation(module):
    inputs = torch.randn(2, 5, 3)
    assert torch.equal(module.eval()(inputs), inputs)


@pytest.mark.parametrize("p", [-0.1, 1.0])
def test_sequence_dropouts_reject_a_probability_outside_0_to_1(p):
    with pytest.raises(ValueError, match="dropout"):
        LockedDropout(p)
    with pytest.raises(ValueError, match="dropout"):
        WordDropout(p)


def test_encoder_without_the_new_dropouts_draws_the_same_random_numbers_as_before():
    # Runs trained with BiLSTMCRF.v1 must be reproducible bit for bit: the two new dropouts,
    # when off, must neither change the result nor consume random numbers.
    torch.manual_seed(0)
    encoder = LSTMEncoder(input_width=5, hidden_width=4, depth=1, dropout=0.3, bidirectional=True).train()
    inputs, lengths = torch.randn(3, 6, 5), torch.tensor([6, 3, 5])
    torch.manual_seed(1)
    result = encoder(inputs, lengths)
    after = torch.rand(1)
    torch.manual_seed(1)
    packed = pack_padded_sequence(encoder.input_dropout(inputs), lengths, batch_first=True, enforce_sorted=False)
    hidden, _ = pad_packed_sequence(encoder.lstm(packed)[0], batch_first=True, total_length=6)
    assert torch.equal(result, encoder.output_dropout(hidden))
    assert torch.equal(after, torch.rand(1))


def _lstm_inputs(encoder):
    seen = []
    encoder.lstm.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    return seen


def test_encoder_applies_locked_dropout_to_its_input_and_output_in_training_only():
    torch.manual_seed(0)
    encoder = LSTMEncoder(input_width=5, hidden_width=4, depth=1, dropout=0.0, bidirectional=True,
                          locked_dropout=0.5, word_dropout=0.0)
    lstm_inputs = _lstm_inputs(encoder)
    inputs, lengths = torch.randn(2, 7, 5), torch.tensor([7, 7])
    trained = encoder.train()(inputs, lengths)
    # A dropped feature is zero at every position of its sentence, on the way in and out.
    assert torch.any(torch.all(lstm_inputs[0] == 0, dim=1))
    assert torch.any(torch.all(trained == 0, dim=1))
    evaluated = encoder.eval()(inputs, lengths)
    assert torch.allclose(evaluated, encoder.lstm(inputs)[0])


def test_encoder_applies_word_dropout_to_whole_input_tokens_in_training():
    torch.manual_seed(0)
    encoder = LSTMEncoder(input_width=5, hidden_width=4, depth=1, dropout=0.0, bidirectional=True,
                          locked_dropout=0.0, word_dropout=0.5)
    lstm_inputs = _lstm_inputs(encoder)
    inputs, lengths = torch.randn(2, 9, 5), torch.tensor([9, 9])
    encoder.train()(inputs, lengths)
    dropped_tokens = torch.all(lstm_inputs[0] == 0, dim=2)
    assert dropped_tokens.any() and not dropped_tokens.all()
    encoder.eval()(inputs, lengths)
    assert torch.equal(lstm_inputs[1], inputs)
