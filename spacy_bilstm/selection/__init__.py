"""`spacy-bilstm select`: choose the unlabelled documents most worth annotating.

Modules: scoring (the strategies' scores and the duplicate key), heap (the bounded top N),
runner (`select()`: the workers' partitions on the process engines, merging, writing)."""
from .heap import Candidate, TopN
from .scoring import STRATEGIES, duplicate_key, entity_score, normalised_text, random_score, uncertainty_score
from .runner import OUTPUT_FORMATS, SelectionSummary, select

__all__ = [
    "Candidate", "OUTPUT_FORMATS", "STRATEGIES", "SelectionSummary", "TopN", "duplicate_key", "entity_score",
    "normalised_text", "random_score", "select", "uncertainty_score",
]
