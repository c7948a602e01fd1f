"""The plain functions behind `evaluate --calibration/--thresholds` and `calibrate`."""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from spacy.language import Language

from ..evaluation import EvaluationError, evaluate, load_gold_docs, write_scores_json
from ..loading import pipeline_of
from ..span_scores import score_span_keys
from .entities import ScoredEntities, collect_scored_entities
from .maths import DEFAULT_BINS, ThresholdRow, check_bins, threshold_table
from .plotting import write_reliability_plot
from .reports import CalibrationReport, calibration_report
from .temperature import (
    DEFAULT_LOG_TOLERANCE, DEFAULT_MAX_TEMPERATURE, DEFAULT_MIN_TEMPERATURE, TemperatureFit, fit_temperature,
)

PathLike = Union[str, Path]


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
    nlp = _checked_pipeline(model, n_bins, gpu_id)
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
                log(f"Warning: no scored entity, so no reliability diagram was written to {calibration_plot}.")
            else:
                write_reliability_plot({"model": evaluation.calibration.bins}, calibration_plot,
                            f"{result.model} on {Path(str(data)).name}: ECE {evaluation.calibration.ece:.4f}")
    if thresholds is not None:
        evaluation.thresholds = threshold_table(entities.scores, entities.correct, entities.n_gold, thresholds)
    if output is not None:
        write_scores_json(output, evaluation.to_dict())
    return evaluation


def _checked_pipeline(model: Union[PathLike, Language], n_bins: int, gpu_id: int) -> Language:
    """The pipeline, once the number of bins is known to be good (no pipeline loads for nothing)."""
    try:
        check_bins(n_bins)
    except ValueError as error:
        raise EvaluationError(f"--bins: {error}") from None
    return pipeline_of(model, gpu_id)


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
    nlp = _checked_pipeline(model, n_bins, gpu_id)
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
        write_reliability_plot({f"T = {fit.temperature_before:.3g}": fit.bins_before, f"T = {fit.temperature:.3g}": fit.bins_after},
                    calibration_plot, "dev reliability before/after temperature scaling")
    return fit
