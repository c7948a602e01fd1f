"""How many gold entities a reading makes unreachable: an entity that crosses the boundary of a
reading unit can never be predicted, whatever the model learns. `spacy-bilstm evaluate` reports
the count for the pipeline it scores."""
import inspect
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

import spacy
from spacy.tokens import Doc, Span
from spacy.util import registry

from .segments import units_of_docs


@dataclass
class Reachability:
    entities: int
    unreachable: int


def unreachable_entities(
    docs: Iterable[Doc], reading: str, gold_docs: Optional[Iterable[Doc]] = None
) -> Reachability:
    """Count the entities that no single reading unit of `docs` holds: the entities of
    `gold_docs` (the same tokens, e.g. the gold side of evaluation examples whose `docs` carry
    the pipeline's sentence boundaries) or, without them, the docs' own doc.ents."""
    docs = list(docs)
    gold_docs = docs if gold_docs is None else list(gold_docs)
    units_by_doc: Dict[int, List[Tuple[int, int]]] = {}
    for doc_index, start, end in units_of_docs(docs, reading):
        units_by_doc.setdefault(doc_index, []).append((start, end))
    entities = unreachable = 0
    for doc_index, doc in enumerate(gold_docs):
        for ent in doc.ents:
            entities += 1
            if not any(start <= ent.start and ent.end <= end for start, end in units_by_doc.get(doc_index, [])):
                unreachable += 1
    return Reachability(entities, unreachable)


def with_sentencizer_sentences(docs: Iterable[Doc], lang: str) -> Iterable[Doc]:
    """The docs with the sentence boundaries spaCy's rule-based sentencizer gives their tokens
    (what a shipped pipeline reads at prediction), their gold entities kept."""
    sentencizer = spacy.blank(lang).add_pipe("sentencizer")
    for doc in docs:
        copy = Doc(doc.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])
        copy.ents = [Span(copy, ent.start, ent.end, label=ent.label_) for ent in doc.ents]
        yield sentencizer(copy)


def config_reading(model_config: dict) -> str:
    """What a bilstm_ner model block reads: its `reading`, else its architecture's default
    ("sentence" for the versions before BiLSTMCRF.v3, which have no such setting)."""
    if "reading" in model_config:
        return model_config["reading"]
    parameter = inspect.signature(registry.architectures.get(model_config["@architectures"])).parameters.get("reading")
    return "sentence" if parameter is None else parameter.default


def shipped_reading() -> str:
    """The reading of every shipped config's bilstm_ner (they all read the same way)."""
    from .training import load_training_config, shipped_config_names, shipped_configs_dir

    readings = {
        config_reading(load_training_config(shipped_configs_dir() / f"{name}.cfg", {})["components"]["bilstm_ner"]["model"])
        for name in shipped_config_names()
    }
    if len(readings) != 1:
        raise RuntimeError(f"the shipped configs read in different ways: {sorted(readings)}")
    return readings.pop()
