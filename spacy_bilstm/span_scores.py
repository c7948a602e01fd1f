"""The one reader of entity scores: a component with a `spans_key` attribute (bilstm_ner)
writes all its predicted entities, below-threshold ones included, to `doc.spans[spans_key]`,
with their scores in the group's `attrs["scores"]`, aligned with the spans."""
from typing import Dict, List, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc

from .errors import ScoreError

SCORES_ATTR = "scores"
# (start char, end char, label): how an entity is matched across span groups and doc.ents.
SpanId = Tuple[int, int, str]


def score_span_keys(nlp: Language) -> List[str]:
    """Span-group keys of the pipeline's components that expose entity scores, in pipeline order."""
    keys = []
    for _, pipe in nlp.pipeline:
        key = getattr(pipe, "spans_key", None)
        if isinstance(key, str) and key not in keys:
            keys.append(key)
    return keys


def span_scores(doc: Doc, span_keys: Sequence[str]) -> Dict[SpanId, float]:
    """The score of every span in the groups `span_keys` of `doc`; a span in several groups gets
    its highest score. A group without scores is skipped; one whose scores do not pair up with its
    spans raises ScoreError (the component that wrote it is broken)."""
    scores: Dict[SpanId, float] = {}
    for key in span_keys:
        if key not in doc.spans:
            continue
        group = doc.spans[key]
        group_scores = group.attrs.get(SCORES_ATTR)
        if group_scores is None:
            continue
        if len(group_scores) != len(group):
            raise ScoreError(
                f"the span group '{key}' holds {len(group)} spans but {len(group_scores)} scores; "
                f"the component that wrote it is broken."
            )
        for span, score in zip(group, group_scores):
            span_id = (span.start_char, span.end_char, span.label_)
            scores[span_id] = max(float(score), scores.get(span_id, -1.0))
    return scores
