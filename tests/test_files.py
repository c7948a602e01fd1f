"""Atomic outputs: a file or directory appears whole or not at all, and writers working beside
each other (even on the same output) never share a temporary."""
import os
import stat

import pytest

from spacy_bilstm.errors import OutputWriteError
from spacy_bilstm.files import atomic_write, atomic_write_dir


def _write_text(text):
    def write(temp):
        temp.write_text(text, encoding="utf-8")
    return write


def test_two_writers_of_the_same_file_at_once_do_not_collide(tmp_path):
    output = tmp_path / "out.spacy"
    temporaries = []

    def first_writer(temp):
        temporaries.append(temp)
        temp.write_text("first", encoding="utf-8")
        # A second writer runs to completion while the first one's temporary is open.
        atomic_write(output, lambda other_temp: (temporaries.append(other_temp), _write_text("second")(other_temp)))
        assert temp.read_text(encoding="utf-8") == "first"

    atomic_write(output, first_writer)
    assert temporaries[0] != temporaries[1]
    assert all(temp.parent == tmp_path for temp in temporaries)
    assert output.read_text(encoding="utf-8") == "first"  # the last rename wins, whole
    assert os.listdir(tmp_path) == ["out.spacy"]


def test_writers_of_neighbouring_files_each_get_their_own_output(tmp_path):
    def write_both(temp):
        temp.write_text("a", encoding="utf-8")
        atomic_write(tmp_path / "a.spacy.tmp", _write_text("b"))

    atomic_write(tmp_path / "a.spacy", write_both)
    assert (tmp_path / "a.spacy").read_text(encoding="utf-8") == "a"
    assert (tmp_path / "a.spacy.tmp").read_text(encoding="utf-8") == "b"
    assert sorted(os.listdir(tmp_path)) == ["a.spacy", "a.spacy.tmp"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    output = tmp_path / "scores.json"
    output.write_text("old", encoding="utf-8")

    def full_disk(temp):
        temp.write_text("half", encoding="utf-8")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputWriteError, match="No space left on device"):
        atomic_write(output, full_disk)
    assert output.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["scores.json"]


def _fill_directory(text):
    def write(directory):
        (directory / "part").write_text(text, encoding="utf-8")
    return write


def test_a_directory_replaces_the_old_one_whole(tmp_path):
    output = tmp_path / "cache"
    atomic_write_dir(output, _fill_directory("old"))
    (output / "stale").write_text("only in the old one", encoding="utf-8")
    atomic_write_dir(output, _fill_directory("new"))
    assert sorted(os.listdir(output)) == ["part"]
    assert (output / "part").read_text(encoding="utf-8") == "new"
    assert os.listdir(tmp_path) == ["cache"]


def test_two_writers_of_the_same_directory_at_once_do_not_collide(tmp_path):
    output = tmp_path / "cache"

    def first_writer(directory):
        _fill_directory("first")(directory)
        atomic_write_dir(output, _fill_directory("second"))
        assert (directory / "part").read_text(encoding="utf-8") == "first"

    atomic_write_dir(output, first_writer)
    assert (output / "part").read_text(encoding="utf-8") == "first"
    assert os.listdir(tmp_path) == ["cache"]


def test_a_failed_directory_write_keeps_the_old_directory_and_leaves_no_temporary(tmp_path):
    output = tmp_path / "cache"
    atomic_write_dir(output, _fill_directory("old"))

    def interrupted(directory):
        _fill_directory("half")(directory)
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputWriteError, match=str(output)):
        atomic_write_dir(output, interrupted)
    assert (output / "part").read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["cache"]


def test_a_written_directory_has_the_permissions_of_any_new_directory(tmp_path):
    mask = os.umask(0o022)
    try:
        atomic_write_dir(tmp_path / "cache", _fill_directory("x"))
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o755
