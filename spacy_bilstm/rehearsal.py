"""Rehearsal: keeping a trained model's knowledge while it learns from new data (spaCy's
`rehearse` protocol, against "catastrophic forgetting").

The component's `rehearse` teaches the model what a frozen copy of it, taken when training
resumed, knows of raw text; a `RehearsalTarget` is that knowledge for one text, and
`rehearsal_gold` turns it into gold tag ids of the grown tag set. The callbacks
`spacy-bilstm.Rehearse.v1`/`.v2`, in `[training] before_update`, run a rehearsal step on a batch
of raw texts before the training updates; its gradients join those of the update that follows,
and spaCy's loop applies them together. The frozen copy never changes, so each text's target is
computed once and kept.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
import srsly
from spacy.language import Language
from spacy.util import registry

from .errors import ConfigError
from .tags import OUTSIDE, UNKNOWN_TAG_ID, BiluoTags

DEFAULT_MIN_PROBABILITY = 0.5
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
# The gold id of a token the frozen copy is sure holds none of its entities: the grown model may
# tag it O or with a label added since (row 1 of open_tag_sets), not with an old label.
OUTSIDE_OLD_LABELS_ID = -2

# (start token, end token exclusive, label, probability): the component's predicted entities.
Entity = Tuple[int, int, str, float]


@dataclass(frozen=True, eq=False)
class RehearsalTarget:
    """What the frozen copy knows of one text. `entities`: its entities of at least the least
    probability, (start, end, label). `outside`: per token, whether its probability of being
    outside every entity (tag O) is at least that probability; None when only the entities are
    rehearsed (Rehearse.v1). `labels`: the frozen copy's labels."""

    entities: Tuple[Tuple[int, int, str], ...]
    outside: Optional[numpy.ndarray]
    labels: Tuple[str, ...]


def rehearsal_targets(
    entities: Sequence[Sequence[Entity]], outside_probabilities: Optional[Sequence[numpy.ndarray]],
    labels: Sequence[str], min_probability: float,
) -> List[RehearsalTarget]:
    """The targets of a batch of texts from the frozen copy's entities (with probabilities) and,
    if given, each token's probability of tag O."""
    targets = []
    for index, doc_entities in enumerate(entities):
        confident = tuple((start, end, label) for start, end, label, probability in doc_entities
                          if probability >= min_probability)
        outside = None
        if outside_probabilities is not None:
            outside = numpy.asarray(outside_probabilities[index]) >= min_probability
        targets.append(RehearsalTarget(confident, outside, tuple(labels)))
    return targets


def rehearsal_gold(tags: BiluoTags, n_tokens: int, target: RehearsalTarget) -> numpy.ndarray:
    """The gold tag ids that rehearsal trains on, in the grown tag set `tags`.

    Only what the frozen copy knew constrains the model: its confident entities get their tags,
    and the tokens it is sure are outside its entities get OUTSIDE_OLD_LABELS_ID. Not O: the copy
    only knows its own labels, so its O means "none of those", while O in the grown tag set also
    excludes the labels added since; rehearsing O would teach the model to tag their entities O.
    Every other token is unknown (-1, marginalised by the loss)."""
    gold = numpy.full(n_tokens, UNKNOWN_TAG_ID, dtype="int64")
    if target.outside is not None:
        gold[target.outside[:n_tokens]] = OUTSIDE_OLD_LABELS_ID
    for start, end, label in target.entities:
        if label in tags.labels:
            gold[start:end] = tags.span_tag_ids((start, end, label))
    return gold


def open_tag_sets(tags: BiluoTags, old_labels: Sequence[str]) -> numpy.ndarray:
    """(2, T) bool, the tags a partly known gold id leaves open (see nn.sequence_loss): row 0,
    unknown (-1), every tag; row 1, OUTSIDE_OLD_LABELS_ID, O and the tags of labels not in
    `old_labels`."""
    old = set(old_labels)
    not_old = [name == OUTSIDE or name.split("-", 1)[1] not in old for name in tags.names]
    return numpy.array([[True] * len(tags.names), not_old], dtype=bool)


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


def _batches(n_texts: int, batch_size: int) -> Iterator[List[int]]:
    """The indices of consecutive batches of texts, round and round."""
    position = 0
    while True:
        yield [(position + i) % n_texts for i in range(batch_size)]
        position = (position + batch_size) % n_texts


def _rehearsal_callback(
    raw_text: str, component: str, every_n_steps: int, batch_size: int, min_probability: float, outside: bool,
    name: str,
) -> Callable[[Language, Dict[str, Any]], None]:
    if every_n_steps < 1 or batch_size < 1:
        raise ConfigError(
            f"{name}: every_n_steps and batch_size must be at least 1, got {every_n_steps} and {batch_size}."
        )
    if not 0.0 <= min_probability <= 1.0:
        raise ConfigError(f"{name}: min_probability must be between 0 and 1, got {min_probability}.")
    texts = read_raw_texts(raw_text)
    batches = _batches(len(texts), batch_size)
    # The frozen copy never changes, so a text's target is computed the first time the text is
    # rehearsed and kept (targets are small: spans and a flag per token, not docs).
    targets: Dict[int, RehearsalTarget] = {}

    def rehearse(nlp: Language, info: Dict[str, Any]) -> None:
        if info["step"] % every_n_steps:
            return
        if component not in nlp.component_names:
            raise ConfigError(
                f"{name}: no component {component!r} in the pipeline (components: "
                f"{', '.join(nlp.component_names)}). Set the callback's component."
            )
        pipe = nlp.get_pipe(component)
        if getattr(pipe, "_rehearsal_model", None) is None:
            raise ConfigError(
                f"{name}: '{component}' has no frozen copy to rehearse: it was not resumed from a "
                f"trained pipeline. Set `source = \"path/to/model-best\"` in [components.{component}] (or train "
                f"with `spacy-bilstm train --base MODEL`), and leave it out of [training] frozen_components."
            )
        batch = next(batches)
        docs = list(nlp.pipe([texts[index] for index in batch], disable=[component]))
        new = [position for position, index in enumerate(batch) if index not in targets]
        if new:
            computed = pipe.rehearsal_targets([docs[p] for p in new], min_probability=min_probability, outside=outside)
            targets.update((batch[p], target) for p, target in zip(new, computed))
        # No optimizer: the gradients join those of the update that follows, which spaCy's loop
        # applies with finish_update.
        pipe.rehearse_targets(docs, [targets[index] for index in batch], sgd=None, losses=None)

    return rehearse


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
    frozen copy's entities that are rehearsed; every other token is unknown. Rehearse.v2 also
    rehearses the tokens the copy is sure are outside its entities."""
    return _rehearsal_callback(raw_text, component, every_n_steps, batch_size, min_probability, outside=False,
                               name="spacy-bilstm.Rehearse.v1")


@registry.callbacks("spacy-bilstm.Rehearse.v2")
def make_rehearse_v2(
    raw_text: str,
    component: str = "bilstm_ner",
    every_n_steps: int = 1,
    batch_size: int = 32,
    min_probability: float = DEFAULT_MIN_PROBABILITY,
) -> Callable[[Language, Dict[str, Any]], None]:
    """Rehearse.v1, with a target that also keeps what the frozen copy knows is not an entity:
    a token whose probability of tag O is at least `min_probability` may be O or a label added
    since, not one of the copy's labels (fine-tuning otherwise lets old labels spread to text
    where the copy saw none)."""
    return _rehearsal_callback(raw_text, component, every_n_steps, batch_size, min_probability, outside=True,
                               name="spacy-bilstm.Rehearse.v2")
