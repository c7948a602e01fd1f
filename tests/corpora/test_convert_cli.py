"""`spacy-bilstm convert`: the summary on stdout, errors on stderr with exit code 1, nothing written on failure."""
import json

import pytest
from typer.testing import CliRunner

from spacy_bilstm.cli import app

from .corpus_files import CONLL_2003_STYLE, write


def test_cli_prints_the_summary_and_infers_the_output_format(tmp_path):
    source = write(tmp_path, "a.txt", CONLL_2003_STYLE)
    result = CliRunner().invoke(app, ["convert", str(source), str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    assert "documents   2" in result.stdout and "entities    4" in result.stdout
    assert json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["text"].startswith("EU rejects")


def test_cli_writes_into_a_directory_named_with_a_trailing_slash(tmp_path):
    source = write(tmp_path, "train.txt", CONLL_2003_STYLE)
    result = CliRunner().invoke(app, ["convert", str(source), str(tmp_path / "out") + "/"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "train.spacy").is_file()


def test_cli_error_exits_non_zero_names_the_line_and_writes_nothing(tmp_path):
    source = write(tmp_path, "bad.txt", "Ann B-PER\nBob\n")
    result = CliRunner().invoke(app, ["convert", str(source), str(tmp_path / "out.spacy")])
    assert result.exit_code == 1
    assert f"{source}, line 2" in result.stderr
    assert not (tmp_path / "out.spacy").exists()


@pytest.mark.parametrize(
    "name,data,line",
    [
        ("cols.txt", "EU B-ORG\nrejects VBZ O\n", 2),
        ("binary.txt", b"\x00\x01\x02\x03", 1),
        ("empty.txt", "", None),
        ("docstart.txt", "-DOCSTART- -X- -X- O\n", None),
        ("bad.jsonl", '{"text": "Ann sings", "spans": [{"start": 0, "end": 30, "label": "PER"}]}\n', 1),
        ("bad.iob", "Ann O\nLee I-PER\n\nBob B-PER\n", 2),
    ],
)
@pytest.mark.parametrize("to", ["spacy", "conll", "jsonl"])
def test_convert_cli_exits_1_names_the_place_and_leaves_no_output(tmp_path, name, data, line, to):
    source = write(tmp_path, name, data)
    out = tmp_path / "out" / f"corpus.{to}"
    result = CliRunner().invoke(app, ["convert", str(source), str(out), "--to", to])
    assert result.exit_code == 1, result.output
    assert str(source) in result.stderr
    if line is not None:
        assert f"line {line}" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_output_directory_that_cannot_be_created_is_an_error_not_a_traceback(tmp_path):
    source = write(tmp_path, "a.txt", "EU B-ORG\n")
    blocker = write(tmp_path, "not-a-directory", "")
    result = CliRunner().invoke(app, ["convert", str(source), str(blocker / "sub" / "a.spacy")])
    assert result.exit_code == 1, result.output
    assert "cannot write the output here" in result.stderr and str(blocker / "sub" / "a.spacy") in result.stderr
    assert "Traceback" not in result.output
    assert source.read_text() == "EU B-ORG\n"


def test_cli_converts_a_germeval_style_file_and_prints_the_column_choices(tmp_path):
    source = write(tmp_path, "g.tsv", "#\tsource [2009]\n1\tSchartau\tB-PER\tO\n2\tsagte\tO\tO\t\n")
    result = CliRunner().invoke(app, ["convert", str(source), str(tmp_path / "g.spacy"), "--comment-prefix", "#"])
    assert result.exit_code == 0, result.output
    assert "numbers the tokens" in result.stdout and "tags were read from column 4" in result.stdout
    assert "empty columns at the end of 1 line(s)" in result.stdout


def test_cli_without_comment_prefix_exits_1_and_names_the_option(tmp_path):
    source = write(tmp_path, "g.tsv", "#\tsource [2009]\n1\tSchartau\tB-PER\tO\n")
    result = CliRunner().invoke(app, ["convert", str(source), str(tmp_path / "g.spacy")])
    assert result.exit_code == 1
    assert f"{source}, line 2:" in result.stderr and "--comment-prefix '#'" in result.stderr
    assert not (tmp_path / "g.spacy").exists()
