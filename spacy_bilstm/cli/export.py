"""`spacy-bilstm export`: a trained pipeline with ONNX graphs for the onnxruntime backend."""
from pathlib import Path
from typing import Optional

import typer

from ..export import export_pipeline
from ._app import THREADS_HELP, app, use_threads, user_errors


@app.command("export")
def export_cli(
    model: Path = typer.Argument(..., metavar="MODEL", help="Trained pipeline directory, e.g. training/model-best."),
    output: Path = typer.Argument(..., metavar="OUT", help="Directory to write the exported copy of MODEL to."),
    to: str = typer.Option("onnx", "--to", help="Format of the exported graphs: onnx."),
    quantize: Optional[str] = typer.Option(
        None, "--quantize", help="Quantize the graphs' weights: int8 (dynamic quantization). Default: float32."
    ),
    backend: str = typer.Option(
        "torch", "--backend",
        help="Backend OUT's config.cfg names, what OUT loads with by default (process, evaluate): torch or onnxruntime.",
    ),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing OUT."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
) -> None:
    """Copy MODEL to OUT with each bilstm_ner component's neural network (char CNN, LSTM, emission
    projection) also saved as ONNX graphs. OUT predicts with torch as before unless loaded with
    the component setting backend = "onnxruntime" (needs pip install "spacy-bilstm[onnx]")."""
    use_threads(threads)
    with user_errors():
        result = export_pipeline(model, output, to=to, quantize=quantize, backend=backend, force=force, log=typer.echo)
    names = list(result.graphs)
    typer.echo(f"Saved the exported pipeline to {result.output_path}")
    typer.echo(
        f"Load it with: spacy.load({str(result.output_path)!r}, config={{'components': "
        f"{{{names[0]!r}: {{'backend': 'onnxruntime'}}}}}})"
    )
