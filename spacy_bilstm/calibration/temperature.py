"""Temperature scaling: the temperature T of a component (its `cfg["temperature"]`, which
divides the model's scores before probabilities are computed) that minimises the negative
log-likelihood of entity correctness on dev data. T changes the scores, never which entities
are predicted, so the set of judged entities stays fixed while T is searched."""
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from spacy.training import Example

from ..evaluation import EvaluationError, unannotated_copies
from .entities import ScoredEntities, collect_scored_entities
from .maths import (
    DEFAULT_BINS, ECE_DEFINITION, ReliabilityBin, binary_nll, expected_calibration_error, golden_section_minimize,
    reliability_table,
)

# Temperature search range and tolerance, on log T (0.01 is about 1% of T).
DEFAULT_MIN_TEMPERATURE = 0.25
DEFAULT_MAX_TEMPERATURE = 10.0
DEFAULT_LOG_TOLERANCE = 0.01


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
            f"No component of this pipeline has a temperature to fit (components: "
            f"{', '.join(nlp.pipe_names) or 'none'}). Temperature scaling needs a bilstm_ner component."
        )
    if len(candidates) > 1:
        raise EvaluationError(
            f"Several components have a temperature ({', '.join(candidates)}); choose one with --component."
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
    if not 0 < min_temperature < max_temperature:
        raise EvaluationError(
            f"The temperature range [{min_temperature}, {max_temperature}] is invalid: it needs "
            f"0 < minimum < maximum."
        )
    name = temperature_component(nlp, component)
    pipe = nlp.get_pipe(name)
    words = unannotated_copies(gold_docs, nlp)

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
            f"Component '{name}' predicts no scored entity on the dev data, so there is nothing to fit the "
            f"temperature on. Check that the dev data and the model match (labels, language)."
        )
    if all(baseline.correct) or not any(baseline.correct):
        # Correctness without variation has no finite optimum: the NLL keeps falling as T goes to
        # an end of the range. Fitting would just pick that end.
        log(f"Warning: all {len(baseline.scores)} dev entities are {'right' if baseline.correct[0] else 'wrong'}; "
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
                f"Component '{name}' predicted different entities at temperature {temperature:.4g} than at "
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
