"""`spacy-bilstm evaluate`: entity P/R/F of any pipeline that sets doc.ents."""
from pathlib import Path
from typing import Optional, Sequence

import typer

from ..calibration import (
    DEFAULT_BINS, DEFAULT_THRESHOLDS, evaluate_confidence, format_threshold_table, threshold_range,
)
from ..evaluation import evaluate
from ._app import THREADS_HELP, app, echo_error, use_threads, user_errors


@app.command("evaluate")
def evaluate_cli(
    model: str = typer.Argument(
        ..., metavar="MODEL", help="Pipeline directory (e.g. training/model-best) or installed package name."
    ),
    data: Path = typer.Argument(
        ..., metavar="DATA", help="Gold data: .spacy, or a raw corpus `convert` reads (CoNLL, columns, JSONL)."
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the scores as JSON here."),
    predictions: Optional[Path] = typer.Option(
        None, "--predictions", "-p", help="Write TOKEN GOLD PREDICTED columns (IOB2) here, for conlleval/seqeval."
    ),
    batch_size: int = typer.Option(256, "--batch-size", "-b", help="Documents per batch."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to run on, or -1 for the CPU."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    calibration: bool = typer.Option(
        False, "--calibration",
        help="Also report how well the entity scores are calibrated: expected calibration error (equal-width "
        "bins, weighted by count) and the reliability table. Needs a component with scored spans (bilstm_ner).",
    ),
    calibration_plot: Optional[Path] = typer.Option(
        None, "--calibration-plot", help="Write the reliability diagram (PNG) here; implies --calibration."
    ),
    bins: int = typer.Option(DEFAULT_BINS, "--bins", help="Score bins for the calibration error and table."),
    thresholds: bool = typer.Option(
        False, "--thresholds", help="Also print precision, recall and F1 when only entities scoring >= t are kept."
    ),
    threshold_min: float = typer.Option(DEFAULT_THRESHOLDS[0], "--threshold-min", help="First threshold."),
    threshold_max: float = typer.Option(DEFAULT_THRESHOLDS[1], "--threshold-max", help="Last threshold."),
    threshold_step: float = typer.Option(DEFAULT_THRESHOLDS[2], "--threshold-step", help="Step between thresholds."),
) -> None:
    """Score the entities a pipeline predicts (micro and per type) and its speed. Works with
    any component that sets doc.ents, so spaCy's own `ner` can be compared on the same data."""
    use_threads(threads)
    if calibration or calibration_plot is not None or thresholds:
        threshold_values = None
        if thresholds:
            try:
                threshold_values = threshold_range(threshold_min, threshold_max, threshold_step)
            except ValueError as error:
                echo_error(f"--threshold-min/--threshold-max/--threshold-step: {error}")
                raise typer.Exit(1)
        _evaluate_confidence_cli(
            model, data, output=output, predictions=predictions, batch_size=batch_size, gpu_id=gpu_id,
            calibration=calibration or calibration_plot is not None, calibration_plot=calibration_plot, bins=bins,
            thresholds=threshold_values,
        )
        return
    with user_errors():
        result = evaluate(
            model, data, output=output, predictions=predictions, batch_size=batch_size, gpu_id=gpu_id,
            log=lambda text: typer.echo(text, err=True),
        )
    typer.echo(result.format_table())
    _echo_written(output, predictions)


def _evaluate_confidence_cli(model: str, data: Path, *, output: Optional[Path], predictions: Optional[Path],
                             batch_size: int, gpu_id: int, calibration: bool, calibration_plot: Optional[Path],
                             bins: int, thresholds: Optional[Sequence[float]]) -> None:
    with user_errors():
        evaluation = evaluate_confidence(
            model, data, calibration=calibration, calibration_plot=calibration_plot, n_bins=bins,
            thresholds=thresholds, output=output, predictions=predictions, batch_size=batch_size,
            gpu_id=gpu_id, log=lambda text: typer.echo(text, err=True),
        )
    typer.echo(evaluation.result.format_table())
    if evaluation.calibration is not None:
        typer.echo("")
        typer.echo(evaluation.calibration.format_table())
    if evaluation.thresholds is not None:
        typer.echo("")
        typer.echo(format_threshold_table(evaluation.thresholds, evaluation.entities.n_gold))
        if evaluation.calibration is None:  # the calibration table already lists the notes
            for note in evaluation.entities.notes():
                typer.echo(note)
    _echo_written(output, predictions)
    if calibration_plot is not None and evaluation.calibration is not None and evaluation.calibration.ece is not None:
        typer.echo(f"Wrote the reliability diagram to {calibration_plot}")


def _echo_written(output: Optional[Path], predictions: Optional[Path]) -> None:
    for label, path in (("scores", output), ("predictions", predictions)):
        if path is not None:
            typer.echo(f"Wrote {label} to {path}")
