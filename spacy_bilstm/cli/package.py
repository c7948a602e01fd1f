"""`spacy-bilstm package`: an installable pipeline package (wheel, sdist on request)."""
from pathlib import Path

import typer

from ..packaging import package
from ._app import app, user_errors


@app.command("package")
def package_cli(
    model: Path = typer.Argument(..., metavar="MODEL", help="Trained pipeline directory, e.g. training/model-best."),
    output_dir: Path = typer.Argument(
        ..., metavar="OUTPUT_DIR", help="Folder to create the package folder <lang>_<name>-<version> in."
    ),
    name: str = typer.Option(..., "--name", "-n", help="Package name; spacy.load takes <lang>_<name>, e.g. en_sample_ner."),
    version: str = typer.Option(..., "--version", "-v", help="Package version, MAJOR.MINOR.PATCH."),
    wheel: bool = typer.Option(True, "--wheel/--no-wheel", help="Build a wheel in <package>/dist."),
    sdist: bool = typer.Option(False, "--sdist", help="Also build a source distribution."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing package folder."),
) -> None:
    """Package a trained pipeline with spaCy's `spacy package`; the wheel requires a compatible
    spacy-bilstm, so `pip install` it and `spacy.load("<lang>_<name>")`."""
    with user_errors():
        result = package(model, output_dir, name=name, version=version, wheel=wheel, sdist=sdist, force=force,
                         log=typer.echo)
    typer.echo(f"Install it with: pip install {result.wheel or result.sdist or result.package_dir}")
    typer.echo(f"Load it with:    spacy.load({result.name!r})")
