"""Registered, versioned model architectures. A released name (`...v1`) never changes
behaviour: a change gets a new version, as a thin wrapper over the private builders here."""
from typing import List, Optional, Tuple, Union

from spacy.ml.featureextractor import FeatureExtractor
from spacy.ml.models.tok2vec import MultiHashEmbed
from spacy.ml.staticvectors import StaticVectors
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import HashEmbed, Maxout, Model, chain, concatenate, list2ragged, ragged2list, with_array
from thinc.types import Floats2d

from . import layers
from .errors import ConfigError
from .layers import TaggerOutput
from .nn import CharCNN, SequenceTagger
from .nn.tagger import OUTPUT_LAYERS
from .segments import READINGS


@registry.architectures("spacy-bilstm.BiLSTMCRF.v1")
def build_bilstm_crf_v1(
    tok2vec: Model[List[Doc], List[Floats2d]],
    hidden_width: int = 128,
    depth: int = 1,
    dropout: float = 0.3,
    bidirectional: bool = True,
    output: str = "crf",
) -> Model[List[Doc], TaggerOutput]:
    """Token features -> (Bi)LSTM -> per-token emission scores for a CRF (or softmax) output.

    hidden_width: LSTM units per direction. output: "crf" (default) or "softmax"; both decode
    with the tag scheme's constraints, so predicted entities are always well formed.
    The tag set is attached when the component is initialized with its labels.
    """
    return _build_bilstm_tagger(tok2vec, hidden_width, depth, dropout, bidirectional, output)


@registry.architectures("spacy-bilstm.BiLSTMCRF.v2")
def build_bilstm_crf_v2(
    tok2vec: Model[List[Doc], List[Floats2d]],
    hidden_width: int = 128,
    depth: int = 1,
    dropout: float = 0.3,
    bidirectional: bool = True,
    output: str = "crf",
    locked_dropout: float = 0.0,
    word_dropout: float = 0.0,
) -> Model[List[Doc], TaggerOutput]:
    """BiLSTMCRF.v1 with two more kinds of dropout on the LSTM, both off by default (so that
    with the defaults it is v1):

    locked_dropout: dropout with one mask per sentence, shared by all its tokens ("variational"
        dropout), on the LSTM's input and output; applied before the ordinary `dropout`.
    word_dropout: the probability of zeroing a token's whole input vector in training (the
        tokens kept are scaled by 1 / (1 - word_dropout), as ordinary dropout scales features).
    """
    return _build_bilstm_tagger(
        tok2vec, hidden_width, depth, dropout, bidirectional, output, locked_dropout=locked_dropout,
        word_dropout=word_dropout, name="spacy-bilstm.BiLSTMCRF.v2",
    )


@registry.architectures("spacy-bilstm.BiLSTMCRF.v3")
def build_bilstm_crf_v3(
    tok2vec: Model[List[Doc], List[Floats2d]],
    hidden_width: int = 128,
    depth: int = 1,
    dropout: float = 0.3,
    bidirectional: bool = True,
    output: str = "crf",
    locked_dropout: float = 0.0,
    word_dropout: float = 0.0,
    reading: str = "document",
    context: str = "sentence",
    window: Optional[int] = 200,
) -> Model[List[Doc], TaggerOutput]:
    """BiLSTMCRF.v2 that chooses what the CRF and the LSTM read (see segments.py):

    reading: what the CRF decodes at once: "document" (default), so that no entity is ever cut
        by a sentencizer's mistake, or "sentence", as v1 and v2 read when the pipeline sets
        sentence boundaries (an entity never crosses one).
    context: what the LSTM reads at once: each "sentence" (default) or the whole "document"
        (only with reading = "document").
    window: the most tokens the LSTM reads at once (None: no limit). Longer pieces are read in
        windows that overlap by half a window at prediction.
    """
    name = "spacy-bilstm.BiLSTMCRF.v3"
    for setting, value in (("reading", reading), ("context", context)):
        if value not in READINGS:
            raise ConfigError(f"{name}: {setting} must be one of {', '.join(READINGS)}, got {value!r}.")
    if reading == "sentence" and context == "document":
        raise ConfigError(f"{name}: context = \"document\" needs reading = \"document\": the LSTM cannot read "
                         f"past the units the CRF decodes.")
    if window is not None and window < 2:
        raise ConfigError(f"{name}: window must be at least 2 tokens (or null), got {window}.")
    return _build_bilstm_tagger(
        tok2vec, hidden_width, depth, dropout, bidirectional, output, locked_dropout=locked_dropout,
        word_dropout=word_dropout, name=name, reading=reading, context=context, window=window,
    )


@registry.architectures("spacy-bilstm.WordCharEmbed.v1")
def build_word_char_embed_v1(
    width: int = 96,
    attrs: Union[List[str], Tuple[str, ...]] = ("NORM", "PREFIX", "SUFFIX", "SHAPE"),
    rows: Union[List[int], Tuple[int, ...]] = (5000, 1000, 2500, 2500),
    include_static_vectors: bool = False,
    include_char_cnn: bool = True,
    char_embed_width: int = 32,
    char_filters: int = 64,
    char_window: int = 3,
    char_rows: int = 1024,
    max_chars: int = 20,
) -> Model[List[Doc], List[Floats2d]]:
    """spaCy's MultiHashEmbed (hashed lexical attributes, optional static vectors), concatenated
    with a character CNN over each token's characters (unless include_char_cnn is false)."""
    return _build_word_char_embed(
        width, list(attrs), list(rows), include_static_vectors, include_char_cnn,
        char_embed_width, char_filters, char_window, char_rows, max_chars,
    )


@registry.architectures("spacy-bilstm.WordCharEmbed.v2")
def build_word_char_embed_v2(
    width: int = 96,
    attrs: Union[List[str], Tuple[str, ...]] = ("NORM", "PREFIX", "SUFFIX", "SHAPE"),
    rows: Union[List[int], Tuple[int, ...]] = (5000, 1000, 2500, 2500),
    include_static_vectors: bool = False,
    include_char_cnn: bool = True,
    char_embed_width: int = 32,
    char_filters: int = 64,
    char_window: int = 3,
    char_rows: int = 1024,
    max_chars: int = 20,
) -> Model[List[Doc], List[Floats2d]]:
    """WordCharEmbed.v1 that also takes no hashed attributes at all (`attrs = []`, `rows = []`):
    the words are then described by the static vectors alone (projected to `width`, then
    MultiHashEmbed's Maxout and LayerNorm), beside the character CNN if it is on. With
    attributes it is v1."""
    attrs, rows = _paired_attrs_and_rows("spacy-bilstm.WordCharEmbed.v2", attrs, rows)
    if attrs:
        return _build_word_char_embed(
            width, attrs, rows, include_static_vectors, include_char_cnn,
            char_embed_width, char_filters, char_window, char_rows, max_chars,
        )
    if not include_static_vectors:
        raise ConfigError(
            "spacy-bilstm.WordCharEmbed.v2 with no hashed attributes (attrs = []) needs the static vectors "
            "(include_static_vectors = true): otherwise nothing but the characters would describe a word. For "
            "characters alone, use spacy-bilstm.CharCNN.v1 as the tok2vec."
        )
    return _with_char_cnn(_static_vector_words(width), width, include_char_cnn, char_embed_width, char_filters,
                          char_window, char_rows, max_chars)


# The hashed attributes that name the word itself, as opposed to its spelling (PREFIX, SUFFIX,
# SHAPE): with the static vector, what WordCharEmbed.v3's identity_dropout hides.
IDENTITY_ATTRS = ("ORTH", "LOWER", "NORM")


@registry.architectures("spacy-bilstm.WordCharEmbed.v3")
def build_word_char_embed_v3(
    width: int = 96,
    attrs: Union[List[str], Tuple[str, ...]] = ("NORM", "PREFIX", "SUFFIX", "SHAPE"),
    rows: Union[List[int], Tuple[int, ...]] = (5000, 1000, 2500, 2500),
    include_static_vectors: bool = False,
    include_char_cnn: bool = True,
    char_embed_width: int = 32,
    char_filters: int = 64,
    char_window: int = 3,
    char_rows: int = 1024,
    max_chars: int = 20,
    identity_dropout: float = 0.0,
) -> Model[List[Doc], List[Floats2d]]:
    """WordCharEmbed.v2 that can hide a word's identity in training: with probability
    identity_dropout, a token's hashed NORM (or LOWER, ORTH) embedding and its static vector are
    each replaced by zeros, as if the word were unknown, while its affixes, shape and characters
    stay. Most entities of new text are words the training data never showed, or that the vectors
    lack (a missing vector is zeros at prediction too), and a model that can always look a word
    up learns too little about tagging the others. At prediction nothing is hidden. With
    identity_dropout = 0 it is v2."""
    if identity_dropout == 0.0:
        return build_word_char_embed_v2(
            width, attrs, rows, include_static_vectors, include_char_cnn,
            char_embed_width, char_filters, char_window, char_rows, max_chars,
        )
    name = "spacy-bilstm.WordCharEmbed.v3"
    if not 0.0 < identity_dropout < 1.0:
        raise ConfigError(f"{name}: identity_dropout must be at least 0 and below 1, got {identity_dropout}.")
    attrs, rows = _paired_attrs_and_rows(name, attrs, rows)
    if not include_static_vectors and not any(_names_the_word(attr) for attr in attrs):
        raise ConfigError(
            f"{name}: identity_dropout = {identity_dropout} hides the static vectors and the word-identity tables "
            f"({', '.join(IDENTITY_ATTRS)}), but there are no vectors and attrs {attrs} has none of those tables. "
            f"Add NORM to attrs (and its rows), or set identity_dropout = 0."
        )
    if attrs:
        words = _multi_hash_embed(width, attrs, rows, include_static_vectors, identity_dropout)
    else:
        words = _static_vector_words(width, identity_dropout)
    return _with_char_cnn(words, width, include_char_cnn, char_embed_width, char_filters, char_window, char_rows,
                          max_chars)


def _paired_attrs_and_rows(architecture: str, attrs, rows) -> Tuple[List[str], List[int]]:
    attrs, rows = list(attrs), list(rows)
    if len(attrs) != len(rows):
        raise ConfigError(
            f"{architecture}: attrs {attrs} and rows {rows} must pair up, one table size per "
            f"hashed attribute. For no hashed table at all, set both to [] (with include_static_vectors = true)."
        )
    return attrs, rows


def _names_the_word(attr) -> bool:
    return str(attr).upper() in IDENTITY_ATTRS


@registry.architectures("spacy-bilstm.Tok2VecCharEmbed.v1")
def build_tok2vec_char_embed_v1(
    tok2vec: Model[List[Doc], List[Floats2d]],
    tok2vec_width: int,
    char_embed_width: int = 32,
    char_filters: int = 64,
    char_window: int = 3,
    char_rows: int = 1024,
    max_chars: int = 20,
) -> Model[List[Doc], List[Floats2d]]:
    """An upstream tok2vec (typically a listener: spacy-transformers.TransformerListener.v1 or
    spacy.Tok2VecListener.v1) concatenated with the character CNN, which keeps case and
    spelling beside features that may have lost them (an uncased transformer, say).

    tok2vec_width: the upstream's output width (a transformer's hidden size, 384 for
        all-MiniLM-L6-v2). It must be given because a transformer listener learns its width
        only when the pipeline is initialized, while the LSTM is built with the model; a
        mismatch is reported by name at the first batch.
    """
    return _build_tok2vec_char_embed(
        "spacy-bilstm.Tok2VecCharEmbed.v1", tok2vec, tok2vec_width, None,
        char_embed_width, char_filters, char_window, char_rows, max_chars,
    )


@registry.architectures("spacy-bilstm.Tok2VecCharEmbed.v2")
def build_tok2vec_char_embed_v2(
    tok2vec: Model[List[Doc], List[Floats2d]],
    tok2vec_width: int,
    include_static_vectors: bool = False,
    vectors_width: int = 96,
    char_embed_width: int = 32,
    char_filters: int = 64,
    char_window: int = 3,
    char_rows: int = 1024,
    max_chars: int = 20,
) -> Model[List[Doc], List[Floats2d]]:
    """Tok2VecCharEmbed.v1 that can also put the pipeline's static vectors beside the upstream
    tok2vec and the character CNN (include_static_vectors): each token's vector projected to
    vectors_width, as WordCharEmbed.v2 does with no hashed attributes. A small transformer
    trained on other text knows less about a corpus' names than vectors trained on billions of
    words; with the vectors off it is v1.

    tok2vec_width: the upstream's output width alone (a transformer's hidden size), without
        vectors_width or the char CNN's char_filters.
    """
    return _build_tok2vec_char_embed(
        "spacy-bilstm.Tok2VecCharEmbed.v2", tok2vec, tok2vec_width, vectors_width if include_static_vectors else None,
        char_embed_width, char_filters, char_window, char_rows, max_chars,
    )


def _build_tok2vec_char_embed(architecture, tok2vec, tok2vec_width, vectors_width,
                              char_embed_width, char_filters, char_window, char_rows, max_chars) -> Model:
    if tok2vec_width < 1:
        raise ConfigError(f"{architecture}: tok2vec_width must be at least 1, got {tok2vec_width}.")
    if vectors_width is not None and vectors_width < 1:
        raise ConfigError(f"{architecture}: vectors_width must be at least 1, got {vectors_width}.")
    if tok2vec.has_dim("nO") is True and tok2vec.get_dim("nO") != tok2vec_width:
        raise ConfigError(
            f"{architecture}: tok2vec_width = {tok2vec_width}, but the tok2vec layer "
            f"{tok2vec.name!r} gives {tok2vec.get_dim('nO')} features per token."
        )
    width = tok2vec_width
    if vectors_width is not None:
        tok2vec = concatenate(tok2vec, _static_vector_words(vectors_width))
        width += vectors_width
    chars = _build_char_cnn(char_embed_width, char_filters, char_window, char_rows, max_chars)
    joined = concatenate(tok2vec, chars)
    return Model(
        "tok2vec_char_embed",
        _checked_width_forward,
        init=_checked_width_init,
        layers=[joined],
        dims={"nO": width + char_filters},
        attrs={"tok2vec_width": tok2vec_width, "architecture": architecture},
    )


def _checked_width_init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    model.layers[0].initialize(X=X)


def _checked_width_forward(model: Model, docs: List[Doc], is_train: bool):
    features, backprop = model.layers[0](docs, is_train)
    expected = model.get_dim("nO")
    for doc_features in features:
        if doc_features.shape[1] != expected:
            raise ConfigError(
                f"{model.attrs['architecture']}: the upstream tok2vec gives "
                f"{doc_features.shape[1] - (expected - model.attrs['tok2vec_width'])} features per token, but "
                f"tok2vec_width is {model.attrs['tok2vec_width']}: set tok2vec_width to the upstream's width "
                f"(a transformer's hidden_size in its config.json)."
            )
    return features, backprop


@registry.architectures("spacy-bilstm.CharCNN.v1")
def build_char_cnn_v1(
    embed_width: int = 32, n_filters: int = 64, window: int = 3, n_rows: int = 1024, max_chars: int = 20
) -> Model[List[Doc], List[Floats2d]]:
    """A character CNN (embed, convolve, max-pool) giving each token an n_filters vector.
    Characters are hashed into n_rows buckets; words longer than max_chars keep both ends."""
    return _build_char_cnn(embed_width, n_filters, window, n_rows, max_chars)


def _build_char_cnn(embed_width, n_filters, window, n_rows, max_chars) -> Model:
    if n_rows < 2:
        raise ConfigError(f"char CNN n_rows must be at least 2 (row 0 is padding), got {n_rows}")
    if max_chars < 1:
        raise ConfigError(f"char CNN max_chars (the characters kept of a long word) must be at least 1, got {max_chars}")
    module = CharCNN(n_rows, embed_width, n_filters, window, dropout=0.0)
    return layers.char_cnn_layer(module, n_rows, max_chars)


def _build_word_char_embed(
    width, attrs, rows, include_static_vectors, include_char_cnn,
    char_embed_width, char_filters, char_window, char_rows, max_chars,
) -> Model:
    words = MultiHashEmbed(width=width, attrs=attrs, rows=rows, include_static_vectors=include_static_vectors)
    words.set_dim("nO", width)
    return _with_char_cnn(words, width, include_char_cnn, char_embed_width, char_filters, char_window, char_rows,
                          max_chars)


def _multi_hash_embed(width, attrs, rows, include_static_vectors, identity_dropout) -> Model:
    """spaCy's MultiHashEmbed (the same tables, seeds, Maxout and LayerNorm), with the rows of its
    word-identity tables hidden in training with probability identity_dropout."""
    tables = []
    for column, (attr, n_rows) in enumerate(zip(attrs, rows)):
        table = HashEmbed(width, n_rows, column=column, seed=8 + column, dropout=0.0)
        if _names_the_word(attr):
            table = _hidden(table, identity_dropout)
        tables.append(table)
    features = chain(FeatureExtractor(attrs), list2ragged(), with_array(concatenate(*tables)))
    if include_static_vectors:
        features = concatenate(features, _hidden(StaticVectors(width, dropout=0.0), identity_dropout))
    n_inputs = width * (len(tables) + include_static_vectors)
    words = chain(features, with_array(Maxout(width, n_inputs, nP=3, dropout=0.0, normalize=True)), ragged2list())
    words.set_dim("nO", width)
    return words


def _static_vector_words(width: int, identity_dropout: float = 0.0) -> Model:
    """Each token's static vector projected to `width` (then MultiHashEmbed's Maxout and LayerNorm),
    hidden in training with probability identity_dropout."""
    words = chain(
        _hidden(StaticVectors(width, dropout=0.0), identity_dropout),
        with_array(Maxout(width, width, nP=3, dropout=0.0, normalize=True)),
        ragged2list(),
    )
    words.set_dim("nO", width)
    return words


def _hidden(embedding: Model, probability: float) -> Model:
    """`embedding` (giving an array or a Ragged) with its tokens hidden in training with `probability`."""
    if probability == 0.0:
        return embedding
    return chain(embedding, with_array(layers.hidden_tokens(probability)))


def _with_char_cnn(words, width, include_char_cnn, char_embed_width, char_filters, char_window, char_rows,
                   max_chars) -> Model:
    if not include_char_cnn:
        return words
    chars = _build_char_cnn(char_embed_width, char_filters, char_window, char_rows, max_chars)
    model = concatenate(words, chars)
    model.set_dim("nO", width + char_filters)
    return model


def _tok2vec_width(tok2vec: Model) -> int:
    if tok2vec.has_dim("nO") is True:
        return tok2vec.get_dim("nO")
    raise ConfigError(
        f"The tok2vec layer {tok2vec.name!r} does not declare its output width (dimension nO), which the "
        f"LSTM needs when it is built. Use a layer with a fixed width (spacy.Tok2VecListener.v1 with `width`, "
        f"spacy.MultiHashEmbed.v2, spacy-bilstm.WordCharEmbed.v1 or v2)."
    )


# How a document is cut into the pieces the LSTM and the CRF read: no weight depends on them,
# so a pipeline loaded with other values (spacy.load(..., config=...)) reads the new way.
READING_ATTRS = ("reading", "context", "window")


def _build_bilstm_tagger(
    tok2vec, hidden_width, depth, dropout, bidirectional, output, *, locked_dropout=0.0, word_dropout=0.0,
    name="spacy-bilstm.BiLSTMCRF.v1", reading="sentence", context="sentence", window=None,
) -> Model:
    if output not in OUTPUT_LAYERS:
        raise ConfigError(f"Unknown output {output!r} in {name}: choose one of {', '.join(OUTPUT_LAYERS)}.")
    if depth < 1 or hidden_width < 1:
        raise ConfigError(f"{name} needs depth >= 1 and hidden_width >= 1, got {depth} and {hidden_width}.")
    for setting, value in (("locked_dropout", locked_dropout), ("word_dropout", word_dropout)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{name}: {setting} must be at least 0 and below 1, got {value}.")
    module = SequenceTagger(
        _tok2vec_width(tok2vec), hidden_width, depth, dropout, bidirectional, output,
        locked_dropout=locked_dropout, word_dropout=word_dropout,
    )
    tagger = layers.sequence_tagger_layer(module)
    return layers.segmented_tagger_layer(tok2vec, tagger, reading=reading, context=context, window=window)
