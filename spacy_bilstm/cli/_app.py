"""The one typer app; each command module registers itself on it. Also the one way every
command reports a user error and sets the package's thread count."""
import contextlib
from typing import Iterator, Optional

import typer

from ..about import __version__
from ..corpora import CorpusError
from ..errors import SpacyBilstmError
from .. import threads

# Help texts are printed as they are written: with rich markup on, "[training] seed" loses its
# bracketed section name.
app = typer.Typer(
    name="spacy-bilstm",
    help="BiLSTM-CRF named-entity recognition for spaCy: convert corpora, train, evaluate, package, process.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

# CorpusError is a user error too; it predates SpacyBilstmError and is named until it derives from it.
USER_ERRORS = (SpacyBilstmError, CorpusError)

THREADS_HELP = (
    "Torch threads for this process (default: OMP_NUM_THREADS if set, else the cores other jobs leave free; "
    "one per worker process)."
)


def echo_error(message: str) -> None:
    """Every command prints a user error this way, on stderr."""
    typer.echo(f"Error: {message}", err=True)


def echo_warning(message: str) -> None:
    typer.echo(f"Warning: {message}", err=True)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Print a user error (bad file, argument, config; a failed write) and exit 1, without a traceback."""
    try:
        yield
    except USER_ERRORS as error:
        echo_error(str(error))
        raise typer.Exit(1)


def use_threads(n_threads: Optional[int]) -> None:
    """--threads: the torch thread count for this command's work (None: the package's default)."""
    try:
        threads.set_threads(n_threads)
    except ValueError as error:
        echo_error(f"--threads: {error}")
        raise typer.Exit(1)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"spacy-bilstm {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """BiLSTM-CRF named-entity recognition for spaCy."""
