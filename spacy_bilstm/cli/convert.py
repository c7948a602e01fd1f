"""`spacy-bilstm convert`: NER corpora (and annotation-tool exports) to DocBin, CoNLL columns,
JSONL, or Label Studio, Prodigy and brat data."""
from pathlib import Path
from typing import Optional

import typer

from ..corpora import Summary, convert
from ..corpora.writers import infer_output_format
from ..errors import SpacyBilstmError
from ._app import app


def convert_command(input_path: Path, output_path: str, *, to: Optional[str] = None, **options) -> Summary:
    """What the command does, callable from tests: `to` defaults to the output's suffix
    (.spacy, .conll/.txt/.tsv, .jsonl, .json for Label Studio), else a DocBin."""
    if to is None:
        to = infer_output_format(Path(output_path)) or "spacy"
    return convert(input_path, output_path, to=to, **options)


@app.command("convert")
def convert_cli(
    input_path: Path = typer.Argument(..., help="Corpus file, .gz file or directory (a folder of brat .txt/.ann pairs is one corpus)."),
    output_path: str = typer.Argument(..., help="Output file, or a directory (existing, or ending in /) to write <input name>.<ext> into; for --to brat, the folder to write."),
    to: Optional[str] = typer.Option(None, "--to", "-t", help="Output: spacy, conll, jsonl, labelstudio (a JSON list of tasks), prodigy (JSONL tasks) or brat (a folder of .txt/.ann pairs) (default: from the output suffix, .json being labelstudio, else spacy)."),
    format: str = typer.Option("auto", "--format", "-f", help="Input: auto, conll, columns, jsonl, prodigy, labelstudio, brat or spacy. auto reads a Label Studio export (a JSON list of tasks), brat (a .ann file or a folder with .ann files), Prodigy (JSONL lines with \"answer\"; only accept is gold) by their content."),
    scheme: str = typer.Option("auto", "--scheme", "-s", help="Input tag scheme: auto, iob1, iob2, bioes, biluo or io."),
    output_scheme: str = typer.Option("iob2", "--output-scheme", help="Tag scheme for --to conll."),
    lang: str = typer.Option("en", "--lang", "-l", help="spaCy language code for the vocab (and the JSONL tokenizer)."),
    tag_column: Optional[int] = typer.Option(None, "--tag-column", help="1-based column holding the tag (default: the last; the summary says which it read)."),
    token_column: Optional[int] = typer.Option(None, "--token-column", help="1-based column holding the token (default: the first, or the second after a column numbering each sentence's tokens 1, 2, 3...)."),
    n_sents: Optional[int] = typer.Option(None, "--n-sents", "-n", help="Sentences per document when the corpus has no -DOCSTART- markers."),
    strip_prefix: str = typer.Option("auto", "--strip-prefix", help="auto (strip a language prefix like en: shared by every token), none, or a prefix to strip."),
    alignment: str = typer.Option("strict", "--alignment", help="Character-offset spans (JSONL, Prodigy, Label Studio, brat) off token boundaries: strict (error), expand or contract."),
    text_key: str = typer.Option("text", "--text-key", help="Label Studio: the key of each task's data holding the text."),
    discontinuous: str = typer.Option("error", "--discontinuous", help="brat entities in several fragments: error, span (one entity from the first start to the last end) or drop (left out, counted)."),
    overlaps: str = typer.Option("error", "--overlaps", help="brat entities that overlap: error, keep-longest or keep-first (the one starting first); those left out are counted."),
    repair: bool = typer.Option(False, "--repair", help="Read invalid tag sequences as the nearest valid one (counted in the summary)."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of the input."),
    tokens: str = typer.Option("gold", "--tokens", help="Column files: what training reads, the file's own tokens (gold) or spaCy's re-tokenisation of their text (spacy). gold scores higher on gold tokens, spacy on raw text in some corpora (benchmarks/README.md, study 16)."),
    comment_prefix: Optional[str] = typer.Option(None, "--comment-prefix", help="Skip column lines starting with this (e.g. '#' for GermEval)."),
) -> None:
    """Convert an NER corpus, check it, and print what it holds.

    Tokens marked as not annotated (a `-` tag in column files; tokens outside the "annotated"
    character ranges of a JSONL, Prodigy or Label Studio record) become missing values: training
    learns neither O nor an entity there. The summary counts them as "unannotated"."""
    try:
        summary = convert_command(
            input_path, output_path, to=to, output_scheme=output_scheme, format=format, scheme=scheme, lang=lang,
            tag_column=tag_column, token_column=token_column, n_sents=n_sents,
            strip_prefix=None if strip_prefix == "none" else strip_prefix, alignment=alignment, repair=repair,
            encoding=encoding, comment_prefix=comment_prefix, text_key=text_key, discontinuous=discontinuous,
            overlaps=overlaps, tokens=tokens,
        )
    except SpacyBilstmError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1)
    typer.echo(summary.format_table())
