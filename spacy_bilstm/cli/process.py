"""`spacy-bilstm process`: run a pipeline over many documents, locally or on Dask."""
from pathlib import Path
from typing import Optional

import typer

from ..process import process
from ._app import THREADS_HELP, app, echo_warning, use_threads, user_errors


@app.command("process")
def process_cli(
    model: str = typer.Argument(
        ..., metavar="MODEL", help="Pipeline: a directory path or an installed package name."
    ),
    input_spec: str = typer.Argument(
        ..., metavar="INPUT",
        help="A .txt (one document per line), .jsonl or .spacy file, a .gz of one, a directory or a glob (quote it).",
    ),
    output: Path = typer.Argument(..., metavar="OUTPUT", help="Output file: .jsonl or .spacy."),
    text_key: str = typer.Option("text", "--text-key", "-tk", help="JSONL field holding the text."),
    id_key: str = typer.Option("id", "--id-key", help="JSONL field holding the record id."),
    batch_size: int = typer.Option(1000, "--batch-size", "-b", help="Documents per nlp.pipe batch (as spaCy's nlp.batch_size)."),
    n_process: int = typer.Option(1, "--n-process", "-n", help="Processes for nlp.pipe (local engine)."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to use; -1 for CPU."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    on_error: str = typer.Option(
        "raise", "--on-error",
        help="Bad records: 'raise' stops at the first one; 'skip' writes each to OUTPUT.errors.jsonl and goes on.",
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run after its last complete record."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUTPUT."),
    engine: str = typer.Option("local", "--engine", help="'local' or 'dask'."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (existing cluster)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Workers of a Dask LocalCluster on this machine."),
    partition_size: int = typer.Option(1000, "--partition-size", help="Records per task for a worker process (--n-process > 1) or a Dask worker."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary."),
) -> None:
    """Find entities in every document of INPUT and write them to OUTPUT, in input order,
    one output record per input record. An empty INPUT writes an empty OUTPUT, with a warning."""
    use_threads(threads)
    with user_errors():
        summary = process(
            model, input_spec, output,
            text_key=text_key, id_key=id_key, batch_size=batch_size, n_process=n_process,
            gpu_id=gpu_id, on_error=on_error, resume=resume, overwrite=overwrite, engine=engine,
            scheduler=scheduler, workers=workers, partition_size=partition_size, quiet=quiet,
            threads=threads,
        )
    if summary.records == 0 and not summary.resumed_after:
        echo_warning(f"{input_spec}: the input holds no documents, so {output} holds none either.")
