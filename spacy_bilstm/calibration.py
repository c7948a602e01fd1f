"""Entity confidence: is a score of 0.8 right 80% of the time?

Three parts, usable on their own:

- The maths (plain numpy, no model): expected calibration error, the reliability table,
  precision/recall/F1 over score thresholds, the binary negative log-likelihood, and a
  golden-section search.
- Reading scored entities out of predicted docs: every entity of the span group of any pipe
  with a `spans_key` attribute (scores in `attrs["scores"]`, below-threshold entities included),
  judged correct when the gold data hold the same span (same start, end and label).
- Temperature scaling (`calibrate`): the temperature T of a component (its
  `cfg["temperature"]`, which divides the model's scores before probabilities are computed)
  that minimises the negative log-likelihood of entity correctness on dev data. T changes the
  scores, never which entities are predicted, so the set of judged entities stays fixed while
  T is searched.

Expected calibration error (ECE), as used throughout: the scores are put in B equal-width
bins over [0, 1] (bin k holds k/B <= score < (k+1)/B; the last bin also holds 1.0), and

    ECE = sum over bins b of (n_b / N) * |accuracy_b - mean score_b|

where n_b is the number of entities in bin b, N the number of entities, accuracy_b the
fraction of them that are correct and mean score_b their mean score. 0 is perfect.
"""
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy

from .corpora.writers import atomic_write
from .process.records import score_span_keys

PathLike = Union[str, Path]
DEFAULT_BINS = 10
DEFAULT_THRESHOLDS = (0.0, 0.95, 0.05)  # start, stop (inclusive), step
# Temperature search range and tolerance, on log T (0.01 is about 1% of T).
DEFAULT_MIN_TEMPERATURE = 0.25
DEFAULT_MAX_TEMPERATURE = 10.0
DEFAULT_LOG_TOLERANCE = 0.01
# Scores of exactly 0 or 1 would make a wrong (or right) entity cost infinitely much.
PROBABILITY_FLOOR = 1e-7
ECE_DEFINITION = (
    "ECE = sum over {bins} equal-width score bins of (entities in bin / all entities) * "
    "|accuracy in bin - mean score in bin|"
)


# --------------------------------------------------------------------------- the maths


def _as_arrays(scores: Sequence[float], correct: Sequence[bool]) -> Tuple[numpy.ndarray, numpy.ndarray]:
    score_array = numpy.asarray(scores, dtype="float64").reshape(-1)
    correct_array = numpy.asarray(correct, dtype=bool).reshape(-1)
    if score_array.shape != correct_array.shape:
        raise ValueError(f"{score_array.size} scores but {correct_array.size} correctness values; they must pair up.")
    if score_array.size and (numpy.isnan(score_array).any() or score_array.min() < 0.0 or score_array.max() > 1.0):
        raise ValueError("scores must be probabilities between 0 and 1 (got values outside [0, 1] or NaN).")
    return score_array, correct_array


def _check_bins(n_bins: int) -> None:
    if n_bins < 1:
        raise ValueError(f"the number of bins must be 1 or more, not {n_bins}.")


def bin_indices(scores: Sequence[float], n_bins: int = DEFAULT_BINS) -> numpy.ndarray:
    """Bin k holds k/n_bins <= score < (k+1)/n_bins; the last bin also holds 1.0."""
    _check_bins(n_bins)
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
    """ECE as defined in the module docstring. Undefined (ValueError) without any score."""
    score_array, _ = _as_arrays(scores, correct)
    if score_array.size == 0:
        raise ValueError("the expected calibration error is undefined without any scored entity.")
    table = reliability_table(scores, correct, n_bins)
    return float(sum(b.count * b.gap for b in table if b.count) / score_array.size)


def binary_nll(scores: Sequence[float], correct: Sequence[bool]) -> float:
    """Mean binary cross-entropy of the scores against correctness (natural log)."""
    score_array, correct_array = _as_arrays(scores, correct)
    if score_array.size == 0:
        raise ValueError("the negative log-likelihood is undefined without any scored entity.")
    clipped = numpy.clip(score_array, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    return float(-numpy.where(correct_array, numpy.log(clipped), numpy.log1p(-clipped)).mean())


def threshold_range(start: float, stop: float, step: float) -> List[float]:
    """start, start + step, ... up to stop inclusive, rounded so that 0.1 + 0.2 prints as 0.3."""
    if not (0.0 <= start <= 1.0 and 0.0 <= stop <= 1.0):
        raise ValueError(f"thresholds must lie between 0 and 1 (got start {start}, stop {stop}).")
    if step <= 0:
        raise ValueError(f"the threshold step must be positive, not {step}.")
    if stop < start:
        raise ValueError(f"the last threshold ({stop}) is below the first ({start}).")
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
        raise ValueError(f"{int(correct_array.sum())} correct entities but only {n_gold} gold ones.")
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
        raise ValueError(f"the search interval [{low}, {high}] is empty.")
    if tolerance <= 0:
        raise ValueError(f"the tolerance must be positive, not {tolerance}.")
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


# --------------------------------------------------------------------------- scored entities


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
        best: Dict[Tuple[int, int, str], float] = {}
        for key in spans_keys:
            if key not in predicted.spans:
                continue
            group = predicted.spans[key]
            group_scores = group.attrs.get("scores")
            if group_scores is None:
                continue
            if len(group_scores) != len(group):
                raise ValueError(
                    f"doc {doc_index}: the span group '{key}' holds {len(group)} spans but {len(group_scores)} "
                    f"scores; the component that wrote it is broken."
                )
            for span, score in zip(group, group_scores):
                span_id = (span.start_char, span.end_char, span.label_)
                best[span_id] = max(float(score), best.get(span_id, -1.0))
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


# --------------------------------------------------------------------------- reports


@dataclass
class CalibrationReport:
    n_bins: int
    n_entities: int
    n_correct: int
    ece: Optional[float]  # None when no entity has a score
    nll: Optional[float]
    bins: List[ReliabilityBin]
    spans_keys: List[str]
    notes: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "ece": self.ece,
            "ece_definition": ECE_DEFINITION.format(bins=self.n_bins),
            "nll": self.nll,
            "bins": self.n_bins,
            "entities": self.n_entities,
            "correct": self.n_correct,
            "spans_keys": self.spans_keys,
            "reliability": [b.to_dict() for b in self.bins],
            "notes": self.notes,
        }

    def format_table(self) -> str:
        if self.ece is None:
            return "\n".join(["Calibration: no predicted entity has a score, so there is nothing to calibrate."]
                             + self.notes)
        lines = [
            f"Calibration of {self.n_entities:,} scored entities ({self.n_correct:,} correct; span groups: "
            f"{', '.join(self.spans_keys)})",
            f"ECE     {self.ece:.4f}   ({ECE_DEFINITION.format(bins=self.n_bins)})",
            f"NLL     {self.nll:.4f}   (mean binary cross-entropy of score against correctness)",
            "",
            f"{'bin':<13} {'count':>7} {'mean score':>11} {'accuracy':>9} {'gap':>7}",
        ]
        for b in self.bins:
            closing = "]" if b.upper >= 1.0 else ")"
            label = f"[{b.lower:.2f}, {b.upper:.2f}{closing}"
            if b.count:
                lines.append(f"{label:<13} {b.count:>7,} {b.mean_score:>11.4f} {b.accuracy:>9.4f} {b.gap:>7.4f}")
            else:
                lines.append(f"{label:<13} {0:>7} {'-':>11} {'-':>9} {'-':>7}")
        return "\n".join(lines + self.notes)


def calibration_report(entities: ScoredEntities, n_bins: int = DEFAULT_BINS) -> CalibrationReport:
    has_scores = bool(entities.scores)
    return CalibrationReport(
        n_bins=n_bins,
        n_entities=len(entities.scores),
        n_correct=int(sum(entities.correct)),
        ece=expected_calibration_error(entities.scores, entities.correct, n_bins) if has_scores else None,
        nll=binary_nll(entities.scores, entities.correct) if has_scores else None,
        bins=reliability_table(entities.scores, entities.correct, n_bins),
        spans_keys=entities.spans_keys,
        notes=entities.notes(),
    )


def format_threshold_table(rows: List[ThresholdRow], n_gold: int) -> str:
    lines = [
        f"Precision, recall and F1 when only entities scoring >= threshold are kept ({n_gold:,} gold entities)",
        f"{'threshold':>9} {'P':>7} {'R':>7} {'F':>7} {'pred':>7} {'correct':>7}",
    ]
    for row in rows:
        lines.append(f"{row.threshold:>9.2f} {100 * row.precision:>7.2f} {100 * row.recall:>7.2f} "
                     f"{100 * row.f_score:>7.2f} {row.predicted:>7,} {row.correct:>7,}")
    return "\n".join(lines)


def plot_reliability(tables: Dict[str, List[ReliabilityBin]], path: PathLike, title: str = "Reliability diagram") -> None:
    """Accuracy against mean score per bin (one line per table, e.g. before/after temperature
    scaling) over the diagonal of perfect calibration, and the entities per bin below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(5.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect calibration")
    n_tables = max(len(tables), 1)
    for index, (name, table) in enumerate(tables.items()):
        filled = [b for b in table if b.count]
        top.plot([b.mean_score for b in filled], [b.accuracy for b in filled], marker="o", label=name)
        width = (table[0].upper - table[0].lower) / n_tables if table else 0.1
        bottom.bar([b.lower + (index + 0.5) * width for b in table], [b.count for b in table],
                   width=width, label=name)
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("fraction correct")
    top.set_title(title)
    top.legend(loc="upper left", fontsize="small")
    bottom.set_yscale("symlog")
    bottom.set_xlabel("entity score")
    bottom.set_ylabel("entities")
    figure.tight_layout()
    target = Path(path)
    atomic_write(target, lambda temp: figure.savefig(temp, format="png", dpi=120))
    plt.close(figure)


# --------------------------------------------------------------------------- evaluate, with confidence


@dataclass
class ConfidenceEvaluation:
    result: Any  # evaluation.EvaluationResult
    entities: ScoredEntities
    calibration: Optional[CalibrationReport] = None
    thresholds: Optional[List[ThresholdRow]] = None

    def to_dict(self) -> Dict[str, Any]:
        data = self.result.to_dict()
        if self.calibration is not None:
            data["calibration"] = self.calibration.to_dict()
            data["ece"] = self.calibration.ece
        if self.thresholds is not None:
            data["thresholds"] = [row.to_dict() for row in self.thresholds]
        return data


def evaluate_confidence(
    model,
    data: PathLike,
    *,
    calibration: bool = True,
    calibration_plot: Optional[PathLike] = None,
    n_bins: int = DEFAULT_BINS,
    thresholds: Optional[Sequence[float]] = None,
    output: Optional[PathLike] = None,
    predictions: Optional[PathLike] = None,
    batch_size: int = 256,
    gpu_id: int = -1,
    log: Callable[[str], None] = lambda text: None,
) -> ConfidenceEvaluation:
    """`evaluation.evaluate`, plus the calibration report (and reliability diagram) and/or the
    threshold table of the scored entities. `output` gets the evaluation's JSON with `ece`,
    `calibration` and `thresholds` added."""
    from spacy.language import Language

    from .evaluation import EvaluationError, evaluate, load_pipeline

    try:
        _check_bins(n_bins)
    except ValueError as error:
        raise EvaluationError(f"--bins: {error}") from None
    nlp = model if isinstance(model, Language) else load_pipeline(model, gpu_id)
    keys = score_span_keys(nlp)
    if not keys:
        raise EvaluationError(
            f"{model}: no component of this pipeline writes scored entities to a span group (components: "
            f"{', '.join(nlp.pipe_names) or 'none'}), so there is no confidence to evaluate. Use a pipeline "
            f"with bilstm_ner, or leave out --calibration and --thresholds."
        )
    if calibration_plot is not None:
        calibration = True
    result = evaluate(nlp, data, output=None, predictions=predictions, batch_size=batch_size, gpu_id=gpu_id, log=log)
    if not isinstance(model, Language):
        result.model = str(model)
    try:
        entities = collect_scored_entities(result.examples, keys)
    except ValueError as error:
        raise EvaluationError(f"{model}: {error}") from None
    evaluation = ConfidenceEvaluation(result=result, entities=entities)
    if calibration:
        evaluation.calibration = calibration_report(entities, n_bins)
        if calibration_plot is not None:
            if evaluation.calibration.ece is None:
                log(f"warning: no scored entity, so no reliability diagram was written to {calibration_plot}.")
            else:
                _write_plot({"model": evaluation.calibration.bins}, calibration_plot,
                            f"{result.model} on {Path(str(data)).name}: ECE {evaluation.calibration.ece:.4f}")
    if thresholds is not None:
        evaluation.thresholds = threshold_table(entities.scores, entities.correct, entities.n_gold, thresholds)
    if output is not None:
        _write_json(output, evaluation.to_dict())
    return evaluation


def _write_plot(tables: Dict[str, List[ReliabilityBin]], path: PathLike, title: str) -> None:
    from .evaluation import EvaluationError

    try:
        plot_reliability(tables, path, title)
    except Exception as error:
        raise EvaluationError(f"{path}: cannot write the reliability diagram ({type(error).__name__}: {error}). "
                              f"Choose another path.") from None


def _write_json(path: PathLike, data: Dict[str, Any]) -> None:
    from .evaluation import EvaluationError

    text = json.dumps(data, indent=2) + "\n"
    try:
        atomic_write(Path(path), lambda temp: temp.write_text(text, encoding="utf-8"))
    except Exception as error:
        raise EvaluationError(f"{path}: cannot write the scores ({error}). Choose another path.") from None


# --------------------------------------------------------------------------- temperature scaling


@dataclass
class TemperatureFit:
    component: str
    temperature_before: float
    temperature: float
    nll_before: float
    nll_after: float
    ece_before: float
    ece_after: float
    n_entities: int
    n_correct: int
    n_bins: int
    # (temperature, NLL) of every prediction run of the search, in order.
    evaluations: List[Tuple[float, float]] = field(default_factory=list)
    bins_before: List[ReliabilityBin] = field(default_factory=list, repr=False)
    bins_after: List[ReliabilityBin] = field(default_factory=list, repr=False)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "component": self.component,
            "temperature_before": self.temperature_before,
            "temperature": self.temperature,
            "nll_before": self.nll_before,
            "nll_after": self.nll_after,
            "ece_before": self.ece_before,
            "ece_after": self.ece_after,
            "ece_definition": ECE_DEFINITION.format(bins=self.n_bins),
            "entities": self.n_entities,
            "correct": self.n_correct,
            "evaluations": [{"temperature": t, "nll": nll} for t, nll in self.evaluations],
            "reliability_before": [b.to_dict() for b in self.bins_before],
            "reliability_after": [b.to_dict() for b in self.bins_after],
        }

    def format_summary(self) -> str:
        return "\n".join([
            f"Component    {self.component}: {self.n_entities:,} scored dev entities ({self.n_correct:,} correct)",
            f"Temperature  {self.temperature_before:.4g} -> {self.temperature:.4g} "
            f"({len(self.evaluations)} prediction runs on dev)",
            f"NLL          {self.nll_before:.4f} -> {self.nll_after:.4f}",
            f"ECE          {self.ece_before:.4f} -> {self.ece_after:.4f}   "
            f"({ECE_DEFINITION.format(bins=self.n_bins)})",
        ])


def temperature_component(nlp, component: Optional[str] = None) -> str:
    """The component whose temperature is fitted: `component`, or the only one with a
    temperature in its cfg and a span group."""
    from .evaluation import EvaluationError

    candidates = [
        name for name, pipe in nlp.pipeline
        if isinstance(getattr(pipe, "cfg", None), dict) and "temperature" in pipe.cfg
        and isinstance(getattr(pipe, "spans_key", None), str)
    ]
    if component is not None:
        if component not in candidates:
            raise EvaluationError(
                f"--component {component}: the pipeline has no such component with a temperature (components "
                f"with one: {', '.join(candidates) or 'none'}; all: {', '.join(nlp.pipe_names)})."
            )
        return component
    if not candidates:
        raise EvaluationError(
            f"no component of this pipeline has a temperature to fit (components: "
            f"{', '.join(nlp.pipe_names) or 'none'}). Temperature scaling needs a bilstm_ner component."
        )
    if len(candidates) > 1:
        raise EvaluationError(
            f"several components have a temperature ({', '.join(candidates)}); choose one with --component."
        )
    return candidates[0]


def fit_temperature(
    nlp,
    gold_docs,
    *,
    component: Optional[str] = None,
    min_temperature: float = DEFAULT_MIN_TEMPERATURE,
    max_temperature: float = DEFAULT_MAX_TEMPERATURE,
    tolerance: float = DEFAULT_LOG_TOLERANCE,
    n_bins: int = DEFAULT_BINS,
    batch_size: int = 256,
    log: Callable[[str], None] = lambda text: None,
) -> TemperatureFit:
    """Find, by golden-section search over log T in [log min_temperature, log max_temperature],
    the temperature of `component` that minimises the NLL of entity correctness on `gold_docs`,
    and leave it set in the component's cfg. Each step re-runs prediction on (copies of) the
    same docs; the predicted entities must not change, only their scores."""
    from spacy.tokens import Doc
    from spacy.training import Example

    from .evaluation import EvaluationError

    if not 0 < min_temperature < max_temperature:
        raise EvaluationError(
            f"the temperature range [{min_temperature}, {max_temperature}] is invalid: it needs "
            f"0 < minimum < maximum."
        )
    name = temperature_component(nlp, component)
    pipe = nlp.get_pipe(name)
    words = [
        Doc(nlp.vocab, words=[token.text for token in doc], spaces=[bool(token.whitespace_) for token in doc])
        for doc in gold_docs
    ]

    def score_at(temperature: float) -> ScoredEntities:
        pipe.cfg["temperature"] = temperature
        predicted = nlp.pipe([doc.copy() for doc in words], batch_size=batch_size)
        examples = [Example(pred, gold) for pred, gold in zip(predicted, gold_docs)]
        return collect_scored_entities(examples, [pipe.spans_key])

    temperature_before = float(pipe.cfg["temperature"])
    baseline = score_at(temperature_before)
    if not baseline.scores:
        pipe.cfg["temperature"] = temperature_before
        raise EvaluationError(
            f"component '{name}' predicts no scored entity on the dev data, so there is nothing to fit the "
            f"temperature on. Check that the dev data and the model match (labels, language)."
        )
    if all(baseline.correct) or not any(baseline.correct):
        # Correctness without variation has no finite optimum: the NLL keeps falling as T goes to
        # an end of the range. Fitting would just pick that end.
        log(f"warning: all {len(baseline.scores)} dev entities are {'right' if baseline.correct[0] else 'wrong'}; "
            f"the fitted temperature will sit at an end of the search range.")
    log(f"T = {temperature_before:.4g}: NLL {binary_nll(baseline.scores, baseline.correct):.4f} "
        f"({len(baseline.scores):,} entities)")

    evaluations: List[Tuple[float, float]] = []
    scored_by_temperature: Dict[float, ScoredEntities] = {temperature_before: baseline}

    def nll_at_log_temperature(log_temperature: float) -> float:
        temperature = math.exp(log_temperature)
        scored = scored_by_temperature[temperature] = score_at(temperature)
        if scored.spans != baseline.spans:
            pipe.cfg["temperature"] = temperature_before
            raise RuntimeError(
                f"component '{name}' predicted different entities at temperature {temperature:.4g} than at "
                f"{temperature_before:.4g}; the temperature must only change scores. This is a bug."
            )
        nll = binary_nll(scored.scores, scored.correct)
        evaluations.append((temperature, nll))
        log(f"T = {temperature:.4g}: NLL {nll:.4f}")
        return nll

    try:
        best_log, _, _ = golden_section_minimize(
            nll_at_log_temperature, math.log(min_temperature), math.log(max_temperature), tolerance
        )
    except BaseException:
        pipe.cfg["temperature"] = temperature_before
        raise
    nll_before = binary_nll(baseline.scores, baseline.correct)
    best_temperature, best_nll = math.exp(best_log), min(nll for _, nll in evaluations)
    if nll_before <= best_nll:  # the search range or a non-unimodal curve missed the current T
        best_temperature, best_nll = temperature_before, nll_before
    pipe.cfg["temperature"] = best_temperature
    after = scored_by_temperature[best_temperature]
    return TemperatureFit(
        component=name,
        temperature_before=temperature_before,
        temperature=best_temperature,
        nll_before=nll_before,
        nll_after=binary_nll(after.scores, after.correct),
        ece_before=expected_calibration_error(baseline.scores, baseline.correct, n_bins),
        ece_after=expected_calibration_error(after.scores, after.correct, n_bins),
        n_entities=len(after.scores),
        n_correct=int(sum(after.correct)),
        n_bins=n_bins,
        evaluations=[(temperature_before, nll_before)] + evaluations,
        bins_before=reliability_table(baseline.scores, baseline.correct, n_bins),
        bins_after=reliability_table(after.scores, after.correct, n_bins),
    )


def calibrate(
    model,
    dev: PathLike,
    output: PathLike,
    *,
    component: Optional[str] = None,
    min_temperature: float = DEFAULT_MIN_TEMPERATURE,
    max_temperature: float = DEFAULT_MAX_TEMPERATURE,
    tolerance: float = DEFAULT_LOG_TOLERANCE,
    n_bins: int = DEFAULT_BINS,
    calibration_plot: Optional[PathLike] = None,
    batch_size: int = 256,
    gpu_id: int = -1,
    log: Callable[[str], None] = lambda text: None,
) -> TemperatureFit:
    """Fit the temperature of `model` on `dev` (see fit_temperature) and save the pipeline,
    with the temperature in the component's cfg, to `output`."""
    from spacy.language import Language

    from .evaluation import EvaluationError, load_gold_docs, load_pipeline

    try:
        _check_bins(n_bins)
    except ValueError as error:
        raise EvaluationError(f"--bins: {error}") from None
    nlp = model if isinstance(model, Language) else load_pipeline(model, gpu_id)
    output_path = Path(output)
    if output_path.exists() and not output_path.is_dir():
        raise EvaluationError(f"{output_path}: exists and is not a directory. Choose a directory for the pipeline.")
    gold_docs = load_gold_docs(dev, nlp)
    if not gold_docs:
        raise EvaluationError(f"{dev}: the dev data holds no documents.")
    if not any(doc.ents for doc in gold_docs):
        raise EvaluationError(f"{dev}: the dev data hold no gold entities, so entity correctness is unknown. "
                              f"Pass annotated dev data.")
    fit = fit_temperature(
        nlp, gold_docs, component=component, min_temperature=min_temperature, max_temperature=max_temperature,
        tolerance=tolerance, n_bins=n_bins, batch_size=batch_size, log=log,
    )
    try:
        nlp.to_disk(output_path)
    except OSError as error:
        raise EvaluationError(f"{output_path}: cannot save the pipeline there ({error.strerror or error}). "
                              f"Choose a directory you can write to.") from None
    if calibration_plot is not None:
        _write_plot({f"T = {fit.temperature_before:.3g}": fit.bins_before, f"T = {fit.temperature:.3g}": fit.bins_after},
                    calibration_plot, f"dev reliability before/after temperature scaling")
    return fit
