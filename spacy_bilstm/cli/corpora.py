"""`spacy-bilstm corpora list|fetch`: the catalogue of public NER corpora."""
from pathlib import Path
from typing import List, Optional

import typer

from ..corpora import fetch_corpus, load_catalogue
from ..errors import SpacyBilstmError
from ._app import app

corpora_app = typer.Typer(help="List and fetch public NER corpora.", no_args_is_help=True)
app.add_typer(corpora_app, name="corpora")


def list_corpora(catalogue: Optional[Path] = None) -> List[str]:
    """One line per catalogue entry: name, language, how to get it, licence."""
    entries = load_catalogue(catalogue)
    width = max(len(name) for name in entries)
    lines = []
    for name, entry in entries.items():
        how = "fetch" if entry.downloadable and entry.files else "manual"
        verified = ""
        if entry.downloadable and entry.files:
            verified = " (sha256 known)" if all(f.sha256 for f in entry.files) else " (no sha256: needs --no-verify)"
        lines.append(f"{name:<{width}}  {entry.language:<5}  {how}{verified}  {entry.title}")
        lines.append(f"{'':<{width}}  licence: {entry.licence}")
    return lines


@corpora_app.command("list")
def list_cli(
    catalogue: Optional[Path] = typer.Option(None, "--catalogue", help="Catalogue JSON (default: $SPACY_BILSTM_CATALOGUE or the packaged one)."),
) -> None:
    """List the catalogued corpora and whether `fetch` can download them."""
    try:
        lines = list_corpora(catalogue)
    except SpacyBilstmError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1)
    typer.echo("\n".join(lines))


@corpora_app.command("fetch")
def fetch_cli(
    name: str = typer.Argument(..., help="Catalogue name (see `spacy-bilstm corpora list`)."),
    to: Optional[Path] = typer.Option(None, "--to", help="Folder for raw/ and <split>.spacy (default: data/NAME)."),
    catalogue: Optional[Path] = typer.Option(None, "--catalogue", help="Catalogue JSON (default: $SPACY_BILSTM_CATALOGUE or the packaged one)."),
    no_verify: bool = typer.Option(False, "--no-verify", help="Keep downloads the catalogue has no sha256 for."),
) -> None:
    """Download a corpus (progress on stderr), verify its sha256, and convert it to .spacy."""
    try:
        summaries = fetch_corpus(name, to or Path("data") / name, catalogue=catalogue, verify=not no_verify)
    except SpacyBilstmError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1)
    for summary in summaries.values():
        typer.echo(summary.format_table())
