"""Every command's --help, as printed: nothing the help texts say may be lost on the way
(rich markup once swallowed "[system]" and "[training]"), and the usage line names the
arguments one way."""
import re

import pytest
import typer
from typer.testing import CliRunner

from spacy_bilstm.cli import app

runner = CliRunner()
BRACKETED = re.compile(r"\[[A-Za-z_.]+\]")


def commands(group, path=()):
    """(words after `spacy-bilstm`, command) for every command, in subcommand groups too."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer has its own copy of click's classes)
            yield from commands(command, path + (name,))
        else:
            yield path + (name,), command


COMMANDS = list(commands(typer.main.get_command(app)))


def written_help(command) -> str:
    texts = [command.help or ""] + [getattr(param, "help", None) or "" for param in command.params]
    return " ".join(texts)


def test_every_command_is_checked():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"train", "evaluate", "calibrate", "process", "package", "convert", "corpora list", "export"} <= names


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(path) for path, _ in COMMANDS])
def test_help_prints_every_bracketed_name_it_was_written_with(path, command):
    result = runner.invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())
    for name in BRACKETED.findall(written_help(command)):
        assert name in shown, f"{name} is lost from `{' '.join(path)} --help`"


def test_the_seed_help_names_both_sections():
    result = runner.invoke(app, ["train", "--help"], terminal_width=200)
    assert "Random seed (overrides [system] / [training] seed)" in " ".join(result.output.split())


@pytest.mark.parametrize("name", ["train", "evaluate", "calibrate", "process", "package", "export"])
def test_the_usage_line_names_every_argument_in_capitals(name):
    result = runner.invoke(app, [name, "--help"], terminal_width=200)
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    arguments = re.findall(r"\{([^}]*)\}", usage)
    assert arguments and all(argument == argument.upper() for argument in arguments), usage
