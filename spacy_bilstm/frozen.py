"""Training beside a frozen transformer: loading it, and computing its outputs once.

`spacy train` initializes only the components it trains: those in `[training]
frozen_components` are left as they are, because spaCy expects them to be sourced from a
trained pipeline. A spacy-transformers component built from a config is not: its model loads
the Hugging Face weights (`name`) in its `initialize`, and without that it cannot run, nor can
its listeners learn their width. This callback, in `[initialize] before_init` (so that the
listening components, initialized next, find the width), initializes such transformers. A
transformer that already holds its weights (sourced, or loaded) is left exactly as it is.

A frozen transformer gives the same output for the same document every time, yet `spacy train`
runs it (as an annotating component) over every batch of every epoch and over the dev set at
every evaluation: on a CPU that is nearly all of the training time. The second callback, in
`[training] before_update`, makes each frozen transformer keep its output per document (by
words and spaces), so that it runs once per distinct document.
"""
from typing import Any, Callable, Dict, Iterable, Iterator, List, Tuple

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch, registry

from .errors import ConfigError


@registry.callbacks("spacy-bilstm.InitializeFrozenTransformers.v1")
def make_initialize_frozen_transformers(components: List[str]) -> Callable[[Language], Language]:
    """components: the frozen components to look at (the shipped config passes
    `${training.frozen_components}`); those that are not spacy-transformers components,
    or whose transformer is loaded already, are skipped."""
    names = list(components)

    def initialize_frozen_transformers(nlp: Language) -> Language:
        for name in names:
            component = _named_component(nlp, name, "spacy-bilstm.InitializeFrozenTransformers.v1")
            if _holds_unloaded_transformer(component):
                # The Transformer component infers nothing from examples: it loads the weights and
                # its width from one dummy doc.
                component.initialize(lambda: [], nlp=nlp)
                # Its listeners were linked when the pipeline was built, before the width was
                # known, and the frozen (disabled) transformer does not relink them: tell them.
                for listening_component, listeners in component.listener_map.items():
                    for listener in listeners:
                        component.add_listener(listener, listening_component)
        return nlp

    return initialize_frozen_transformers


def _named_component(nlp: Language, name: str, callback: str):
    """The pipeline's component `name`, which a callback's config named; an error naming both if
    the pipeline has none (in `nlp.component_names`, so disabled components count)."""
    if name not in nlp.component_names:
        raise ConfigError(
            f"{callback}: no component {name!r} in the pipeline (components: {', '.join(nlp.component_names)})."
        )
    return nlp.get_pipe(name)


def _holds_unloaded_transformer(component) -> bool:
    model = getattr(component, "model", None)
    if model is None or not hasattr(component, "listener_map"):
        return False
    return any(node.attrs.get("has_transformer") is False for node in model.walk())


@registry.callbacks("spacy-bilstm.CacheFrozenTransformerOutputs.v1")
def make_cache_frozen_transformer_outputs(
    components: List[str], max_docs: int = 200_000
) -> Callable[[Language, Dict[str, Any]], None]:
    """components: the frozen components to look at (the shipped config passes
    `${training.frozen_components}`); those that are not spacy-transformers components are
    skipped. max_docs: how many documents' outputs each transformer keeps: the first max_docs
    it meets; later ones are computed each time. An output is the document's wordpieces, padded
    to the longest of its batch, times the transformer's width, in 32-bit floats: about 90 KiB
    for a sentence under all-MiniLM-L6-v2 (width 384).

    Only for transformers that no step updates: the training loop calls this before every
    update, and the first call makes the transformers named keep their outputs for the rest of
    the process."""
    names = list(components)
    if max_docs < 1:
        raise ConfigError(f"spacy-bilstm.CacheFrozenTransformerOutputs.v1: max_docs must be at least 1, not {max_docs}.")

    def cache_frozen_transformer_outputs(nlp: Language, info: Dict[str, Any]) -> None:
        for name in names:
            component = _named_component(nlp, name, "spacy-bilstm.CacheFrozenTransformerOutputs.v1")
            if _is_transformer(component) and not isinstance(component.__dict__.get("pipe"), TransformerOutputCache):
                component.pipe = TransformerOutputCache(component.pipe, max_docs)

    return cache_frozen_transformer_outputs


DocKey = Tuple[Tuple[str, ...], Tuple[bool, ...]]


def _doc_key(doc: Doc) -> DocKey:
    return tuple(token.text for token in doc), tuple(bool(token.whitespace_) for token in doc)


class TransformerOutputCache:
    """Stands in for a frozen transformer component's `pipe`: documents whose words and spaces
    it has kept get the output computed then (`doc._.trf_data`), the others go through the
    component's own `pipe`, in the batches it was given. It keeps the first `max_docs`
    documents' outputs and no others: training reads the corpus round and round, and a cache
    that made room for new documents (least recently used first) would, on a corpus larger than
    itself, drop each document before it came round again and never be hit."""

    def __init__(self, compute: Callable[..., Iterator[Doc]], max_docs: int):
        self.compute = compute
        self.max_docs = max_docs
        self.outputs: Dict[DocKey, Any] = {}
        self.n_computed = 0

    def __call__(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        for batch in minibatch(stream, size=batch_size):
            keys = [_doc_key(doc) for doc in batch]
            missing = [doc for doc, key in zip(batch, keys) if key not in self.outputs]
            computed = {id(doc) for doc in missing}
            if missing:
                for _ in self.compute(missing, batch_size=batch_size):
                    pass
                self.n_computed += len(missing)
            for doc, key in zip(batch, keys):
                if id(doc) not in computed:
                    doc._.trf_data = self.outputs[key]
                elif len(self.outputs) < self.max_docs:
                    self.outputs[key] = doc._.trf_data
            yield from batch


def _is_transformer(component) -> bool:
    try:
        from spacy_transformers import Transformer
    except ImportError:
        return False
    return isinstance(component, Transformer)
