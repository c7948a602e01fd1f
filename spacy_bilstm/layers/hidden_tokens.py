"""A thinc layer that, in training, hides whole tokens: each row of a (n_tokens, width) array is
replaced by zeros with a given probability. Put after a word-identity table (hashed NORM), it
shows the model known words as if it had never seen them, so that it learns to tag a word from
what stays: its affixes, shape, characters and context. Many entities of a new text are words the
training data never showed (study 5 in benchmarks/README.md gives the share per corpus)."""
from typing import Callable, Tuple

from thinc.api import Model
from thinc.types import Floats2d

from ..errors import ConfigError


def hidden_tokens(probability: float) -> Model[Floats2d, Floats2d]:
    if not 0.0 <= probability < 1.0:
        raise ConfigError(f"The probability of hiding a token must be at least 0 and below 1, got {probability}.")
    # Not "dropout_rate": spaCy's update() sets that attribute, on every layer that has it, to
    # [training] dropout.
    return Model("hidden_tokens", _forward, attrs={"hide_probability": probability})


def _forward(model: Model, rows: Floats2d, is_train: bool) -> Tuple[Floats2d, Callable]:
    probability = model.attrs["hide_probability"]
    if not is_train or probability == 0.0:
        return rows, lambda d_rows: d_rows
    # Unlike dropout, the kept rows are not rescaled: zeros stand for "word unknown", and a
    # word that is kept must look in training as it will at prediction.
    draws = model.ops.xp.random.uniform(0.0, 1.0, (rows.shape[0], 1))
    kept = (draws >= probability).astype(rows.dtype)
    return rows * kept, lambda d_rows: d_rows * kept
