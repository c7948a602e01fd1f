"""Loading a frozen transformer that no training step will initialize.

`spacy train` initializes only the components it trains: those in `[training]
frozen_components` are left as they are, because spaCy expects them to be sourced from a
trained pipeline. A spacy-transformers component built from a config is not: its model loads
the Hugging Face weights (`name`) in its `initialize`, and without that it cannot run, nor can
its listeners learn their width. This callback, in `[initialize] before_init` (so that the
listening components, initialized next, find the width), initializes such transformers. A
transformer that already holds its weights (sourced, or loaded) is left exactly as it is.
"""
from typing import Callable, List

from spacy.language import Language
from spacy.util import registry


@registry.callbacks("spacy-bilstm.InitializeFrozenTransformers.v1")
def make_initialize_frozen_transformers(components: List[str]) -> Callable[[Language], Language]:
    """components: the frozen components to look at (the shipped config passes
    `${training.frozen_components}`); those that are not spacy-transformers components,
    or whose transformer is loaded already, are skipped."""
    names = list(components)

    def initialize_frozen_transformers(nlp: Language) -> Language:
        for name in names:
            if name not in nlp.component_names:
                raise ValueError(
                    f"spacy-bilstm.InitializeFrozenTransformers.v1: no component {name!r} in the pipeline "
                    f"(components: {', '.join(nlp.component_names)})."
                )
            component = nlp.get_pipe(name)
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


def _holds_unloaded_transformer(component) -> bool:
    model = getattr(component, "model", None)
    if model is None or not hasattr(component, "listener_map"):
        return False
    return any(node.attrs.get("has_transformer") is False for node in model.walk())
