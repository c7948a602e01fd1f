"""`spacy-bilstm evaluate`: entity P/R/F of any pipeline that sets doc.ents."""
from pathlib import Path
from typing import Optional

import typer

from ..evaluation import EvaluationError, evaluate
from ._app import app


@app.command("evaluate")
def evaluate_cli(
    model: str = typer.Argument(..., help="Pipeline directory (e.g. training/model-best) or installed package name."),
    data: Path = typer.Argument(..., help="Gold data: .spacy, or a raw corpus `convert` reads (CoNLL, columns, JSONL)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the scores as JSON here."),
    predictions: Optional[Path] = typer.Option(
        None, "--predictions", "-p", help="Write TOKEN GOLD PREDICTED columns (IOB2) here, for conlleval/seqeval."
    ),
    batch_size: int = typer.Option(256, "--batch-size", "-b", help="Documents per batch."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to run on, or -1 for the CPU."),
) -> None:
    """Score the entities a pipeline predicts (micro and per type) and its speed. Works with
    any component that sets doc.ents, so spaCy's own `ner` can be compared on the same data."""
    try:
        result = evaluate(
            model, data, output=output, predictions=predictions, batch_size=batch_size, gpu_id=gpu_id,
            log=lambda text: typer.echo(text, err=True),
        )
    except EvaluationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1)
    typer.echo(result.format_table())
    for label, path in (("scores", output), ("predictions", predictions)):
        if path is not None:
            typer.echo(f"Wrote {label} to {path}")
