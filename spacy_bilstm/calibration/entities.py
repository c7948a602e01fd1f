"""The scored entities of predicted docs, each judged right or wrong against the gold docs."""
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

from ..errors import ScoreError
from ..span_scores import span_scores


@dataclass
class ScoredEntities:
    """The predicted entities that carry a score, each judged against the gold data."""

    scores: List[float]
    correct: List[bool]
    n_gold: int
    spans_keys: List[str]
    # Entities of doc.ents found in no scored span group: they have no score to judge.
    n_unscored: int = 0
    # Predictions over tokens whose gold entity annotation is missing: their correctness is
    # unknown, so (like spaCy's scorer) they are left out.
    n_unannotated: int = 0
    # One (doc index, start char, end char, label) per score, to check that re-scoring keeps them.
    spans: List[Tuple[int, int, int, str]] = field(default_factory=list, repr=False)

    def notes(self) -> List[str]:
        notes = []
        if self.n_unscored:
            notes.append(f"{self.n_unscored} entities in doc.ents have no score (they are in no scored span "
                         f"group) and are not part of these figures.")
        if self.n_unannotated:
            notes.append(f"{self.n_unannotated} predicted entities cover tokens whose gold annotation is missing; "
                         f"their correctness is unknown and they are not part of these figures.")
        return notes


def collect_scored_entities(examples, spans_keys: Sequence[str]) -> ScoredEntities:
    """Every scored entity of the predicted docs' span groups `spans_keys` (below-threshold ones
    included), correct when the reference doc has an entity with the same characters and label.
    An entity present in several groups counts once, with its highest score."""
    scores: List[float] = []
    correct: List[bool] = []
    spans: List[Tuple[int, int, int, str]] = []
    n_gold = n_unscored = n_unannotated = 0
    for doc_index, example in enumerate(examples):
        predicted, reference = example.predicted, example.reference
        gold = {(ent.start_char, ent.end_char, ent.label_) for ent in reference.ents}
        n_gold += len(gold)
        try:
            best = span_scores(predicted, spans_keys)
        except ScoreError as error:
            raise ScoreError(f"doc {doc_index}: {error}") from None
        n_unscored += sum(1 for ent in predicted.ents if (ent.start_char, ent.end_char, ent.label_) not in best)
        for (start_char, end_char, label), score in sorted(best.items()):
            gold_span = reference.char_span(start_char, end_char, alignment_mode="expand")
            if gold_span is None or any(token.ent_iob_ == "" for token in gold_span):
                n_unannotated += 1
                continue
            scores.append(score)
            correct.append((start_char, end_char, label) in gold)
            spans.append((doc_index, start_char, end_char, label))
    return ScoredEntities(scores, correct, n_gold, list(spans_keys), n_unscored, n_unannotated, spans)
