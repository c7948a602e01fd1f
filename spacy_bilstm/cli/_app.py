"""The one typer app; each command module registers itself on it."""
import typer

from ..about import __version__

app = typer.Typer(
    name="spacy-bilstm",
    help="BiLSTM-CRF named-entity recognition for spaCy: convert corpora, train, evaluate, package, process.",
    no_args_is_help=True,
    add_completion=False,
)


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
