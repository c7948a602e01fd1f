"""What every command shares: --threads, one way of reporting a user error, spaCy's short
flags, and the warnings a user must not miss."""
import pytest
import typer
from typer.testing import CliRunner

from spacy_bilstm import threads
from spacy_bilstm.cli import app

from ..helpers import SAMPLE_DEV

runner = CliRunner()


def options_of(name: str):
    command = typer.main.get_command(app).commands[name]
    return {option: param.name for param in command.params for option in getattr(param, "opts", [])}


# The least each command needs to get past argument parsing; it then fails on a missing pipeline or config.
ARGUMENTS = {
    "train": ["no-such-config.cfg", "--output", "out"],
    "evaluate": ["no-such-model", "data.conll"],
    "calibrate": ["no-such-model", "dev.conll", "--output", "out"],
    "process": ["no-such-model", "in.txt", "out.jsonl"],
}


@pytest.mark.parametrize("name", sorted(ARGUMENTS))
def test_threads_reaches_set_threads_before_the_work_starts(name, monkeypatch, tmp_path):
    chosen = []
    monkeypatch.setattr(threads, "set_threads", chosen.append)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("Apple\n")
    result = runner.invoke(app, [name, *ARGUMENTS[name], "--threads", "3"])
    assert chosen == [3]
    assert result.exit_code == 1 and result.stderr.startswith("Error: "), result.output
    runner.invoke(app, [name, *ARGUMENTS[name]])
    assert chosen == [3, None]  # without --threads: the package's default


def test_a_bad_thread_count_is_a_user_error(tmp_path):
    result = runner.invoke(app, ["evaluate", "no-such-model", str(SAMPLE_DEV), "--threads", "0"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --threads: ") and "Traceback" not in result.output


def test_process_has_spacys_short_flags_and_calibrate_leaves_c_to_code():
    process = options_of("process")
    assert (process["-b"], process["-n"], process["-g"]) == ("batch_size", "n_process", "gpu_id")
    assert options_of("evaluate")["-b"] == "batch_size" and options_of("evaluate")["-g"] == "gpu_id"
    assert "-c" not in options_of("calibrate") and "--component" in options_of("calibrate")


def test_a_failed_write_of_the_scores_is_a_user_error_not_a_traceback(ruler_model, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = runner.invoke(app, ["evaluate", str(ruler_model), str(SAMPLE_DEV), "--output", str(blocker / "scores.json")])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and "scores.json" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_process_warns_that_an_empty_input_gave_an_empty_output(ruler_model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_bytes(b"")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["process", str(ruler_model), str(source), str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Warning: ") and "holds no documents" in result.stderr
    assert out.read_bytes() == b""


def test_process_does_not_warn_about_an_input_with_documents(ruler_model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("Apple\n")
    result = runner.invoke(app, ["process", str(ruler_model), str(source), str(tmp_path / "out.jsonl"), "--quiet"])
    assert result.exit_code == 0 and "Warning" not in result.output
