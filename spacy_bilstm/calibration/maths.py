"""The maths of entity confidence, plain numpy and no model: expected calibration error, the
reliability table, precision/recall/F1 over score thresholds, the binary negative
log-likelihood, and a golden-section search.

Expected calibration error (ECE), as used throughout: the scores are put in B equal-width
bins over [0, 1] (bin k holds k/B <= score < (k+1)/B; the last bin also holds 1.0), and

    ECE = sum over bins b of (n_b / N) * |accuracy_b - mean score_b|

where n_b is the number of entities in bin b, N the number of entities, accuracy_b the
fraction of them that are correct and mean score_b their mean score. 0 is perfect.
"""
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy

from ..errors import ConfigError, ScoreError

DEFAULT_BINS = 10
DEFAULT_THRESHOLDS = (0.0, 0.95, 0.05)  # start, stop (inclusive), step
# Scores of exactly 0 or 1 would make a wrong (or right) entity cost infinitely much.
PROBABILITY_FLOOR = 1e-7
ECE_DEFINITION = (
    "ECE = sum over {bins} equal-width score bins of (entities in bin / all entities) * "
    "|accuracy in bin - mean score in bin|"
)


def _as_arrays(scores: Sequence[float], correct: Sequence[bool]) -> Tuple[numpy.ndarray, numpy.ndarray]:
    score_array = numpy.asarray(scores, dtype="float64").reshape(-1)
    correct_array = numpy.asarray(correct, dtype=bool).reshape(-1)
    if score_array.shape != correct_array.shape:
        raise ScoreError(f"{score_array.size} scores but {correct_array.size} correctness values; they must pair up.")
    if score_array.size and (numpy.isnan(score_array).any() or score_array.min() < 0.0 or score_array.max() > 1.0):
        raise ScoreError("scores must be probabilities between 0 and 1 (got values outside [0, 1] or NaN).")
    return score_array, correct_array


def check_bins(n_bins: int) -> None:
    if n_bins < 1:
        raise ConfigError(f"the number of bins must be 1 or more, not {n_bins}.")


def bin_indices(scores: Sequence[float], n_bins: int = DEFAULT_BINS) -> numpy.ndarray:
    """Bin k holds k/n_bins <= score < (k+1)/n_bins; the last bin also holds 1.0."""
    check_bins(n_bins)
    score_array = numpy.asarray(scores, dtype="float64").reshape(-1)
    return numpy.minimum(numpy.floor(score_array * n_bins).astype("int64"), n_bins - 1)


@dataclass
class ReliabilityBin:
    lower: float
    upper: float
    count: int
    mean_score: Optional[float]  # None for an empty bin
    accuracy: Optional[float]

    @property
    def gap(self) -> Optional[float]:
        return None if self.count == 0 else abs(self.accuracy - self.mean_score)

    def to_dict(self) -> Dict[str, Any]:
        return {"lower": self.lower, "upper": self.upper, "count": self.count,
                "mean_score": self.mean_score, "accuracy": self.accuracy}


def reliability_table(
    scores: Sequence[float], correct: Sequence[bool], n_bins: int = DEFAULT_BINS
) -> List[ReliabilityBin]:
    """Per equal-width score bin: how many entities, their mean score, the fraction correct."""
    score_array, correct_array = _as_arrays(scores, correct)
    indices = bin_indices(score_array, n_bins)
    table = []
    for k in range(n_bins):
        in_bin = indices == k
        count = int(in_bin.sum())
        table.append(ReliabilityBin(
            lower=k / n_bins,
            upper=(k + 1) / n_bins,
            count=count,
            mean_score=float(score_array[in_bin].mean()) if count else None,
            accuracy=float(correct_array[in_bin].mean()) if count else None,
        ))
    return table


def expected_calibration_error(
    scores: Sequence[float], correct: Sequence[bool], n_bins: int = DEFAULT_BINS
) -> float:
    """ECE as defined in the module docstring. Undefined (ScoreError) without any score."""
    score_array, _ = _as_arrays(scores, correct)
    if score_array.size == 0:
        raise ScoreError("the expected calibration error is undefined without any scored entity.")
    table = reliability_table(scores, correct, n_bins)
    return float(sum(b.count * b.gap for b in table if b.count) / score_array.size)


def binary_nll(scores: Sequence[float], correct: Sequence[bool]) -> float:
    """Mean binary cross-entropy of the scores against correctness (natural log)."""
    score_array, correct_array = _as_arrays(scores, correct)
    if score_array.size == 0:
        raise ScoreError("the negative log-likelihood is undefined without any scored entity.")
    clipped = numpy.clip(score_array, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    return float(-numpy.where(correct_array, numpy.log(clipped), numpy.log1p(-clipped)).mean())


def threshold_range(start: float, stop: float, step: float) -> List[float]:
    """start, start + step, ... up to stop inclusive, rounded so that 0.1 + 0.2 prints as 0.3."""
    if not (0.0 <= start <= 1.0 and 0.0 <= stop <= 1.0):
        raise ConfigError(f"thresholds must lie between 0 and 1 (got start {start}, stop {stop}).")
    if step <= 0:
        raise ConfigError(f"the threshold step must be positive, not {step}.")
    if stop < start:
        raise ConfigError(f"the last threshold ({stop}) is below the first ({start}).")
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    return [round(start + i * step, 10) for i in range(count)]


@dataclass
class ThresholdRow:
    threshold: float
    predicted: int
    correct: int
    precision: float
    recall: float
    f_score: float

    def to_dict(self) -> Dict[str, Any]:
        return {"threshold": self.threshold, "predicted": self.predicted, "correct": self.correct,
                "p": self.precision, "r": self.recall, "f": self.f_score}


def threshold_table(
    scores: Sequence[float], correct: Sequence[bool], n_gold: int, thresholds: Sequence[float]
) -> List[ThresholdRow]:
    """Entity micro precision, recall and F1 when only the entities scoring >= t are kept.
    Precision is 0 when nothing is kept, recall 0 when there is no gold entity (spaCy's convention)."""
    score_array, correct_array = _as_arrays(scores, correct)
    if n_gold < int(correct_array.sum()):
        raise ScoreError(f"{int(correct_array.sum())} correct entities but only {n_gold} gold ones.")
    rows = []
    for threshold in thresholds:
        kept = score_array >= threshold
        predicted = int(kept.sum())
        true_positives = int((kept & correct_array).sum())
        precision = true_positives / predicted if predicted else 0.0
        recall = true_positives / n_gold if n_gold else 0.0
        f_score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append(ThresholdRow(float(threshold), predicted, true_positives, precision, recall, f_score))
    return rows


def golden_section_minimize(
    function: Callable[[float], float], low: float, high: float, tolerance: float
) -> Tuple[float, float, List[Tuple[float, float]]]:
    """Minimise a one-dimensional function on [low, high] (exact for unimodal functions).
    Returns the best point evaluated, its value, and every (x, value) evaluated in order."""
    if not low < high:
        raise ConfigError(f"the search interval [{low}, {high}] is empty.")
    if tolerance <= 0:
        raise ConfigError(f"the tolerance must be positive, not {tolerance}.")
    inverse_phi = (math.sqrt(5.0) - 1.0) / 2.0
    evaluated: List[Tuple[float, float]] = []

    def evaluate(x: float) -> float:
        value = function(x)
        evaluated.append((x, value))
        return value

    a, b = low, high
    c, d = b - inverse_phi * (b - a), a + inverse_phi * (b - a)
    value_c, value_d = evaluate(c), evaluate(d)
    while b - a > tolerance:
        if value_c <= value_d:
            b, d, value_d = d, c, value_c
            c = b - inverse_phi * (b - a)
            value_c = evaluate(c)
        else:
            a, c, value_c = c, d, value_d
            d = a + inverse_phi * (b - a)
            value_d = evaluate(d)
    best_x, best_value = min(evaluated, key=lambda pair: pair[1])
    return best_x, best_value, evaluated
