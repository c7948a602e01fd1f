"""Rehearsal: keeping a trained model's knowledge while it learns from new data (spaCy's
`rehearse` protocol, against "catastrophic forgetting").

The component's `rehearse` teaches the model what a frozen copy of it, taken when training
resumed, predicts on raw text; `rehearsal_gold` is that target. The callback
`spacy-bilstm.Rehearse.v1`, in `[training] before_update`, runs a rehearsal step on a batch of
raw texts before the training updates; its gradients join those of the update that follows,
and spaCy's loop applies them together.
"""
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple, Union

import numpy
import srsly
from spacy.language import Language
from spacy.training import Example
from spacy.util import registry

from .errors import ConfigError
from .tags import UNKNOWN_TAG_ID, BiluoTags

DEFAULT_MIN_PROBABILITY = 0.5
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")

# (start token, end token exclusive, label, probability): the component's predicted entities.
Entity = Tuple[int, int, str, float]


def rehearsal_gold(tags: BiluoTags, n_tokens: int, entities: Sequence[Entity], min_probability: float) -> numpy.ndarray:
    """The gold tag ids that rehearsal trains on, from the frozen model's entities in one doc.

    Only what the frozen model knew constrains the model: its entities of at least
    `min_probability` get their tags; every other token is unknown (-1, marginalised by the
    loss). Not O, even where the frozen model is sure there is no entity: it only knows its own
    labels, so its O means "none of those", while O in the grown tag set also excludes the labels
    added since; rehearsing it would teach the model to tag their entities O."""
    gold = numpy.full(n_tokens, UNKNOWN_TAG_ID, dtype="int64")
    for start, end, label, probability in entities:
        if probability >= min_probability and label in tags.labels:
            gold[start:end] = tags.span_tag_ids((start, end, label))
    return gold


def read_raw_texts(path: Union[str, Path]) -> List[str]:
    """The texts of a raw text file: one per non-blank line, or for .jsonl one JSON object per
    line with a "text" string (blank lines are skipped). Plain or gzipped UTF-8."""
    # Imported here: pipeline.py imports this module, and `import spacy_bilstm` must not load the corpora package.
    from .corpora.errors import CorpusError
    from .corpora.text import LINE_BREAK, is_blank, read_text

    path = Path(path)
    if not path.is_file():
        raise CorpusError("no such raw text file", path=path, hint="check the raw_text path (--rehearse)")
    is_jsonl = path.name.lower().endswith(JSONL_SUFFIXES)
    texts = []
    for number, line in enumerate(LINE_BREAK.split(read_text(path, "utf-8")), start=1):
        if is_blank(line):
            continue
        if not is_jsonl:
            texts.append(line)
            continue
        try:
            record = srsly.json_loads(line)
        except ValueError as error:
            raise CorpusError(f"the line is not valid JSON ({error})", path=path, line=number,
                              hint='write one object per line, such as {"text": "..."}') from None
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise CorpusError('the line has no "text" string', path=path, line=number,
                              hint='write one object per line, such as {"text": "..."}')
        texts.append(text)
    if not texts:
        raise CorpusError("the raw text file has no text", path=path, hint="give a file with one text per line")
    return texts


def _batches(texts: List[str], batch_size: int) -> Iterator[List[str]]:
    """Consecutive batches of the texts, round and round."""
    position = 0
    while True:
        batch = [texts[(position + i) % len(texts)] for i in range(batch_size)]
        position = (position + batch_size) % len(texts)
        yield batch


@registry.callbacks("spacy-bilstm.Rehearse.v1")
def make_rehearse(
    raw_text: str,
    component: str = "bilstm_ner",
    every_n_steps: int = 1,
    batch_size: int = 32,
    min_probability: float = DEFAULT_MIN_PROBABILITY,
) -> Callable[[Language, Dict[str, Any]], None]:
    """A [training] before_update callback: every `every_n_steps` steps, a rehearsal step of
    `component` on the next `batch_size` texts of `raw_text` (a .txt file, one text per line, or
    .jsonl with a "text" per line; read round and round). The component must have been resumed
    from a trained pipeline (`source` in its config block; `spacy train` then keeps a frozen copy
    of it as sourced, which is never saved). `min_probability`: the least probability of the
    frozen copy's entities that are rehearsed."""
    if every_n_steps < 1 or batch_size < 1:
        raise ConfigError(
            f"spacy-bilstm.Rehearse.v1: every_n_steps and batch_size must be at least 1, got {every_n_steps} "
            f"and {batch_size}."
        )
    if not 0.0 <= min_probability <= 1.0:
        raise ConfigError(f"spacy-bilstm.Rehearse.v1: min_probability must be between 0 and 1, got {min_probability}.")
    batches = _batches(read_raw_texts(raw_text), batch_size)

    def rehearse(nlp: Language, info: Dict[str, Any]) -> None:
        if info["step"] % every_n_steps:
            return
        if component not in nlp.component_names:
            raise ConfigError(
                f"spacy-bilstm.Rehearse.v1: no component {component!r} in the pipeline (components: "
                f"{', '.join(nlp.component_names)}). Set the callback's component."
            )
        pipe = nlp.get_pipe(component)
        if getattr(pipe, "_rehearsal_model", None) is None:
            raise ConfigError(
                f"spacy-bilstm.Rehearse.v1: '{component}' has no frozen copy to rehearse: it was not resumed from a "
                f"trained pipeline. Set `source = \"path/to/model-best\"` in [components.{component}] (or train "
                f"with `spacy-bilstm train --base MODEL`), and leave it out of [training] frozen_components."
            )
        examples = [Example(doc, doc.copy()) for doc in nlp.pipe(next(batches), disable=[component])]
        # No optimizer: the gradients join those of the update that follows, which spaCy's loop
        # applies with finish_update.
        pipe.rehearse(examples, sgd=None, losses=None, min_probability=min_probability)

    return rehearse
