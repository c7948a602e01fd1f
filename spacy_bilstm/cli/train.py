"""`spacy-bilstm train`: spaCy's training loop with checked inputs, raw corpora and word vectors."""
import sys
from pathlib import Path
from typing import Optional

import typer

from ..training import TrainingInterrupted, parse_overrides, shipped_config_names, train
from ._app import THREADS_HELP, app, use_threads, user_errors

# Conventional exit status of a program stopped by SIGINT.
EXIT_INTERRUPTED = 130


@app.command(
    "train",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def train_cli(
    ctx: typer.Context,
    config: str = typer.Argument(
        ..., metavar="CONFIG",
        help=f"Config file, or the name of a shipped config ({', '.join(shipped_config_names())}).",
    ),
    output_path: Path = typer.Option(..., "--output", "-o", help="Directory for model-best, model-last and converted data."),
    train_path: Optional[Path] = typer.Option(
        None, "--train", help="Training data: .spacy, or a raw corpus `convert` reads (CoNLL, columns, JSONL, .gz)."
    ),
    dev_path: Optional[Path] = typer.Option(None, "--dev", help="Dev data, same formats as --train."),
    vectors: Optional[Path] = typer.Option(
        None, "--vectors", help="GloVe/word2vec text file (.gz too), or a spaCy pipeline or vectors directory."
    ),
    vectors_attr: Optional[str] = typer.Option(
        None,
        "--vectors-attr",
        help="Token attribute the vectors are keyed by: LOWER or ORTH. Default: LOWER when no key in the "
        "first 1000 lines of the file has an uppercase letter (e.g. GloVe 6B), else ORTH.",
    ),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (overrides [system] / [training] seed)."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to train on, or -1 for the CPU."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    base: Optional[Path] = typer.Option(
        None, "--base", help="A trained pipeline (model-best) to train on from: its components keep their weights, "
        "hash tables and vectors; labels only the new data has are added.",
    ),
    rehearse: Optional[Path] = typer.Option(
        None, "--rehearse", help="Raw text (.txt: a text per line; .jsonl: a \"text\" per line) on which the model "
        "rehearses the base model's confident entities before each update, so as not to forget them.",
    ),
) -> None:
    """Train a pipeline. Extra arguments override the config, spaCy style:
    --training.max_epochs 3 --components.bilstm_ner.model.hidden_width 128.
    On a terminal, a progress bar runs up to each evaluation."""
    use_threads(threads)
    try:
        with user_errors():
            train(
                config, output_path, train_path=train_path, dev_path=dev_path, vectors=vectors,
                vectors_attr=vectors_attr, seed=seed, gpu_id=gpu_id, overrides=parse_overrides(ctx.args),
                log=typer.echo, progress_bar=sys.stderr.isatty(), base=base, rehearse=rehearse,
            )
    except TrainingInterrupted as interrupted:
        if interrupted.model_last is not None:
            typer.echo(f"Interrupted: the pipeline as trained so far is saved in {interrupted.model_last}", err=True)
        else:
            typer.echo("Interrupted before any pipeline was saved.", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)
