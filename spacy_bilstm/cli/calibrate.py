"""`spacy-bilstm calibrate`: temperature scaling of entity scores, fitted on dev data."""
from pathlib import Path
from typing import Optional

import typer

from ..calibration import (
    DEFAULT_BINS, DEFAULT_LOG_TOLERANCE, DEFAULT_MAX_TEMPERATURE, DEFAULT_MIN_TEMPERATURE, calibrate,
)
from ._app import THREADS_HELP, app, use_threads, user_errors


@app.command("calibrate")
def calibrate_cli(
    model: str = typer.Argument(
        ..., metavar="MODEL", help="Pipeline directory (e.g. training/model-best) or installed package name."
    ),
    dev: Path = typer.Argument(..., metavar="DEV", help="Gold dev data: .spacy, or a raw corpus `convert` reads."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory to save the calibrated pipeline to."),
    # No short flag: spaCy's -c is --code.
    component: Optional[str] = typer.Option(
        None, "--component", help="Component to calibrate (default: the only one with a temperature)."
    ),
    min_temperature: float = typer.Option(DEFAULT_MIN_TEMPERATURE, "--min-temperature", help="Lowest T searched."),
    max_temperature: float = typer.Option(DEFAULT_MAX_TEMPERATURE, "--max-temperature", help="Highest T searched."),
    tolerance: float = typer.Option(
        DEFAULT_LOG_TOLERANCE, "--tolerance", help="Stop when the search interval on log T is this narrow."
    ),
    bins: int = typer.Option(DEFAULT_BINS, "--bins", help="Score bins for the calibration error."),
    calibration_plot: Optional[Path] = typer.Option(
        None, "--calibration-plot", help="Write the dev reliability diagram before and after (PNG) here."
    ),
    batch_size: int = typer.Option(256, "--batch-size", "-b", help="Documents per batch."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to run on, or -1 for the CPU."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
) -> None:
    """Fit the temperature T that divides the model's scores before entity probabilities are
    computed, minimising the negative log-likelihood of entity correctness on DEV (golden-section
    search over log T; each step re-runs prediction). T changes scores, never the entities.
    Saves the pipeline with T in the component's cfg and prints the calibration error before and after."""
    use_threads(threads)
    with user_errors():
        fit = calibrate(
            model, dev, output, component=component, min_temperature=min_temperature,
            max_temperature=max_temperature, tolerance=tolerance, n_bins=bins, calibration_plot=calibration_plot,
            batch_size=batch_size, gpu_id=gpu_id, log=lambda text: typer.echo(text, err=True),
        )
    typer.echo(fit.format_summary())
    typer.echo(f"Saved the calibrated pipeline to {output}")
    if calibration_plot is not None:
        typer.echo(f"Wrote the reliability diagram to {calibration_plot}")
