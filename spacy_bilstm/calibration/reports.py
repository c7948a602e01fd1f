"""The calibration report and the threshold table, as data and as text."""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .entities import ScoredEntities
from .maths import (
    DEFAULT_BINS, ECE_DEFINITION, ReliabilityBin, ThresholdRow, binary_nll, expected_calibration_error,
    reliability_table,
)


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
