"""Entity confidence: is a score of 0.8 right 80% of the time?

- maths: expected calibration error (defined there), the reliability table, thresholds, NLL,
  golden-section search; plain numpy, no model.
- entities: the scored entities of predicted docs (`span_scores`), judged against gold.
- reports, plotting: the calibration report and threshold table; the reliability diagram.
- temperature: fitting the temperature of a component on dev data.
- commands: the plain functions of `evaluate --calibration/--thresholds` and `calibrate`.
"""
from .commands import ConfidenceEvaluation, calibrate, evaluate_confidence
from .entities import ScoredEntities, collect_scored_entities
from .maths import (
    DEFAULT_BINS, DEFAULT_THRESHOLDS, ECE_DEFINITION, PROBABILITY_FLOOR, ReliabilityBin, ThresholdRow, bin_indices,
    binary_nll, expected_calibration_error, golden_section_minimize, reliability_table, threshold_range,
    threshold_table,
)
from .plotting import plot_reliability
from .reports import CalibrationReport, calibration_report, format_threshold_table
from .temperature import (
    DEFAULT_LOG_TOLERANCE, DEFAULT_MAX_TEMPERATURE, DEFAULT_MIN_TEMPERATURE, TemperatureFit, fit_temperature,
    temperature_component,
)

__all__ = [
    "CalibrationReport", "ConfidenceEvaluation", "DEFAULT_BINS", "DEFAULT_LOG_TOLERANCE", "DEFAULT_MAX_TEMPERATURE",
    "DEFAULT_MIN_TEMPERATURE", "DEFAULT_THRESHOLDS", "ECE_DEFINITION", "PROBABILITY_FLOOR", "ReliabilityBin",
    "ScoredEntities", "TemperatureFit", "ThresholdRow", "bin_indices", "binary_nll", "calibrate",
    "calibration_report", "collect_scored_entities", "evaluate_confidence", "expected_calibration_error",
    "fit_temperature", "format_threshold_table", "golden_section_minimize", "plot_reliability",
    "reliability_table", "temperature_component", "threshold_range", "threshold_table",
]
