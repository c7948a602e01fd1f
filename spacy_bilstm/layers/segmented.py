"""The whole tagging model's layer: docs -> token features (tok2vec) -> the pieces the LSTM
reads (segments.py) -> the tagger's output per reading unit. Which pieces are read is in the
layer's attrs (`reading`, `context`, `window`): no weight depends on them."""
from typing import Any, List, Optional

from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d

from ..segments import token_sources, units_of_docs, windows_of_units
from .tagger_layer import TaggerGradient, TaggerOutput


def segmented_tagger_layer(
    tok2vec: Model, tagger: Model, *, reading: str, context: str, window: Optional[int]
) -> Model[List[Doc], TaggerOutput]:
    return Model(
        "bilstm_crf",
        _segmented_forward,
        init=_segmented_init,
        layers=[tok2vec, tagger],
        refs={"tok2vec": tok2vec, "tagger": tagger},
        dims={"nO": None},
        attrs={"reading": reading, "context": context, "window": window},
    )


def _segmented_init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    tok2vec, tagger = model.layers
    tok2vec.initialize(X=X)
    tagger.initialize()


def _segmented_forward(model: Model, docs: List[Doc], is_train: bool):
    """Docs -> token features (per doc) -> the tagger's output, one emissions array per reading
    unit (`output.units`), joined from the windows the LSTM read: one after another in
    training, where each token is furthest from an edge at prediction."""
    tok2vec, tagger = model.layers
    features, backprop_features = tok2vec(docs, is_train)
    units = units_of_docs(docs, model.attrs["reading"])
    windows = windows_of_units(docs, units, model.attrs.get("context", "sentence"), model.attrs["window"],
                               overlapping=not is_train, reading=model.attrs["reading"])
    output, backprop_tagger = tagger([features[d][start:end] for d, start, end in windows], is_train)
    sources = token_sources(units, windows)
    window_emissions = output.emissions
    output.emissions = [_joined(model, window_emissions, pieces) for pieces in sources]
    output.units = units

    def backprop(d_output: TaggerGradient) -> Any:
        d_windows = [model.ops.alloc2f(*e.shape) for e in window_emissions]
        for pieces, d_unit in zip(sources, d_output.d_emissions):
            offset = 0
            for window_index, start, end in pieces:
                d_windows[window_index][start:end] += d_unit[offset : offset + end - start]
                offset += end - start
        d_output.d_emissions = d_windows
        d_window_features = backprop_tagger(d_output)
        d_features = [model.ops.alloc2f(*f.shape) for f in features]
        for (d, start, end), d_window in zip(windows, d_window_features):
            d_features[d][start:end] += d_window
        return backprop_features(d_features)

    return output, backprop


def _joined(model: Model, emissions: List[Floats2d], pieces) -> Floats2d:
    if len(pieces) == 1:
        window_index, start, end = pieces[0]
        whole = emissions[window_index]
        return whole if (start, end) == (0, whole.shape[0]) else whole[start:end]
    return model.ops.xp.concatenate([emissions[w][start:end] for w, start, end in pieces])
