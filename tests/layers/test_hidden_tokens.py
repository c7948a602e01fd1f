"""Hiding whole tokens' features in training (WordCharEmbed.v3's identity_dropout)."""
import numpy
import pytest


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
