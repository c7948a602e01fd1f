"""`spacy-bilstm select`: choose the unlabelled documents most worth annotating."""
from pathlib import Path
from typing import Optional

import typer

from ..selection import select
from ._app import THREADS_HELP, app, echo_warning, use_threads, user_errors


@app.command("select")
def select_cli(
    model: str = typer.Argument(
        ..., metavar="MODEL", help="Pipeline with a bilstm_ner component: a directory path or an installed package name."
    ),
    input_spec: str = typer.Argument(
        ..., metavar="INPUT",
        help="Unlabelled documents: a .txt (one per line), .jsonl or .spacy file, a .gz of one, a directory or a glob (quote it).",
    ),
    output: Path = typer.Argument(..., metavar="OUTPUT", help="Output file of pre-annotated tasks, best first."),
    n: int = typer.Option(500, "--n", help="How many documents to choose."),
    strategy: str = typer.Option(
        "uncertainty", "--strategy",
        help="'uncertainty' (1 - per-token geometric mean of P(best tag path)), 'entity' (1 - the lowest "
        "entity probability) or 'random' (seeded).",
    ),
    to: str = typer.Option("jsonl", "--to", help="Task format: jsonl, labelstudio (a JSON list of tasks to import) or prodigy (JSONL)."),
    seed: int = typer.Option(0, "--seed", help="Seed of --strategy random."),
    dedupe: bool = typer.Option(
        True, "--dedupe/--no-dedupe",
        help="Choose one document per text, after casefolding, digits to 0 and collapsing whitespace.",
    ),
    component: Optional[str] = typer.Option(None, "--component", help="The bilstm_ner component to rank by, if there are several."),
    text_key: str = typer.Option("text", "--text-key", "-tk", help="JSONL field holding the text."),
    id_key: str = typer.Option("id", "--id-key", help="JSONL field holding the record id."),
    batch_size: int = typer.Option(256, "--batch-size", "-b", help="Documents per batch."),
    n_process: int = typer.Option(1, "--n-process", "-n", help="Worker processes (local engine)."),
    partition_size: int = typer.Option(1000, "--partition-size", help="Records per task for a worker process or a Dask worker."),
    engine: str = typer.Option("local", "--engine", help="'local' or 'dask'."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (existing cluster)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Workers of a Dask LocalCluster on this machine."),
    on_error: str = typer.Option(
        "raise", "--on-error", help="Bad records: 'raise' stops at the first one; 'skip' counts them in the summary and goes on."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUTPUT."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to use; -1 for CPU."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary."),
) -> None:
    """Rank the documents of INPUT by how much the model would learn from them and write the
    top N to OUTPUT as pre-annotated tasks (entities with their probabilities, each task with
    its score and rank). Memory stays bounded whatever the size of INPUT."""
    use_threads(threads)
    with user_errors():
        summary = select(
            model, input_spec, output,
            n=n, strategy=strategy, to=to, engine=engine, n_process=n_process, batch_size=batch_size,
            partition_size=partition_size, seed=seed, dedupe=dedupe, component=component, text_key=text_key,
            id_key=id_key, on_error=on_error, overwrite=overwrite, gpu_id=gpu_id, scheduler=scheduler,
            workers=workers, threads=threads, quiet=quiet,
        )
    if summary.chosen == 0:
        echo_warning(f"{input_spec}: no document could be chosen, so {output} holds none.")
