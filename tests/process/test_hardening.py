"""`spacy-bilstm process` against bad records and a failing disk: each bad record stops the run
(or, with --on-error skip, lands in the errors file) naming file, line and reason; nothing is
dropped; the output always ends on a complete record; the CLI exits 1 without a traceback."""
import errno
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spacy_bilstm.cli import app
from spacy_bilstm.loading import PipelineLoadError
from spacy_bilstm.process import BadRecordError, ProcessError, outputs, process
from spacy_bilstm.process.errors import errors_path_for

from .helpers import read_jsonl

def write_lines(path: Path, lines) -> Path:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode("utf8")) + b"\n" for line in lines))
    return path


GOOD = json.dumps({"id": "good", "text": "Apple is in Paris."})

BAD_RECORDS = [
    ("{not json", "invalid JSON"),
    ('{"text": "Apple"', "invalid JSON"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('"just a string"', "expected a JSON object, got str"),
    ('{"body": "Apple"}', "missing text field 'text'"),
    ('{"text": null}', "text field 'text' is NoneType, not a string"),
    ('{"text": 42}', "text field 'text' is int, not a string"),
    ('{"text": ["Apple"]}', "text field 'text' is list, not a string"),
    ('{"text": "Apple", "entities": []}', "would be overwritten"),
    ('{"text": "Apple", "score": NaN}', "NaN is not valid JSON"),
    ('{"text": "Apple", "score": -Infinity}', "-Infinity is not valid JSON"),
    ('{"text": "Apple \\ud800"}', "lone surrogate"),
    ('{"id": "\\udc00", "text": "Apple"}', "lone surrogate"),
    ('{"text": "Apple", "meta": {"k": "\\udfff"}}', "lone surrogate"),
    ("[" * 50_000, "invalid JSON"),
    (b'{"text": "caf\xe9"}', "invalid JSON"),
    # Checked before tokenizing: spaCy's default nlp.max_length is 1,000,000 characters.
    (json.dumps({"text": "a" * 1_000_001}), "more than the pipeline's nlp.max_length (1000000)"),
]


@pytest.mark.parametrize("bad,reason", BAD_RECORDS)
def test_bad_record_stops_the_run_naming_file_line_and_reason(tmp_path, ruler_model, bad, reason):
    source = write_lines(tmp_path / "in.jsonl", [GOOD, bad, GOOD])
    out = tmp_path / "out.jsonl"
    with pytest.raises(BadRecordError) as info:
        process(ruler_model, source, out, quiet=True)
    error = info.value
    assert (error.source, error.line) == ("in.jsonl", 2)
    assert reason in str(error) and "--resume" in str(error)
    # The record before the bad one is complete on disk; resuming continues at the bad one.
    assert [r["id"] for r in read_jsonl(out)] == ["good"]


@pytest.mark.parametrize("bad,reason", BAD_RECORDS)
def test_skip_puts_every_bad_record_in_the_errors_file_and_drops_nothing(tmp_path, ruler_model, bad, reason):
    source = write_lines(tmp_path / "in.jsonl", [GOOD, bad, GOOD])
    out = tmp_path / "out.jsonl"
    summary = process(ruler_model, source, out, quiet=True, on_error="skip")
    assert (summary.docs, summary.errors) == (2, 1)
    assert [r["id"] for r in read_jsonl(out)] == ["good", "good"]
    (error,) = read_jsonl(errors_path_for(out))
    assert (error["index"], error["file"], error["line"]) == (1, "in.jsonl", 2)
    assert reason in error["reason"]
    # Both files are strict UTF-8 JSON: no NaN, no lone surrogate slipped through.
    for path in (out, errors_path_for(out)):
        for line in path.read_bytes().decode("utf8", errors="strict").splitlines():
            json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} written to {path}"))


def test_empty_text_is_a_record_with_no_entities_not_a_dropped_one(tmp_path, ruler_model):
    source = write_lines(tmp_path / "in.jsonl", [GOOD, '{"id": "empty", "text": ""}', '{"id": "blank", "text": "  "}'])
    out = tmp_path / "out.jsonl"
    process(ruler_model, source, out, quiet=True)
    assert [(r["id"], r["entities"]) for r in read_jsonl(out)][1:] == [("empty", []), ("blank", [])]


def test_empty_lines_of_a_txt_file_are_empty_documents_in_order(tmp_path, ruler_model):
    source = write_lines(tmp_path / "in.txt", ["Apple", "", "Paris"])
    out = tmp_path / "out.jsonl"
    process(ruler_model, source, out, quiet=True)
    assert [(r["id"], [e["text"] for e in r["entities"]]) for r in read_jsonl(out)] == [
        ("in.txt:1", ["Apple"]),
        ("in.txt:2", []),
        ("in.txt:3", ["Paris"]),
    ]


def test_byte_order_mark_of_a_txt_file_does_not_shift_offsets(tmp_path, ruler_model):
    source = tmp_path / "in.txt"
    source.write_bytes(b"\xef\xbb\xbfApple rocks\r\nParis\n")
    out = tmp_path / "out.jsonl"
    process(ruler_model, source, out, quiet=True)
    records = read_jsonl(out)
    assert records[0]["entities"] == [{"start": 0, "end": 5, "label": "ORG", "text": "Apple"}]
    assert records[1]["entities"] == [{"start": 0, "end": 5, "label": "GPE", "text": "Paris"}]


def test_empty_input_file_writes_an_empty_output(tmp_path, ruler_model):
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"")
    out = tmp_path / "out.jsonl"
    summary = process(ruler_model, source, out, quiet=True)
    assert summary.docs == 0 and out.read_bytes() == b""


def test_truncated_gzip_input_is_a_clear_error(tmp_path, ruler_model):
    import gzip

    data = gzip.compress(("\n".join([GOOD] * 2000) + "\n").encode())
    source = tmp_path / "in.jsonl.gz"
    source.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProcessError, match=r"Cannot read .*in\.jsonl\.gz"):
        process(ruler_model, source, tmp_path / "out.jsonl", quiet=True)


@pytest.mark.parametrize("fail_after_bytes", [0, 1, 150, 1000, 5000])
def test_disk_full_mid_write_leaves_only_complete_records_then_resume_completes(tmp_path, ruler_model, monkeypatch, fail_after_bytes):
    lines = [json.dumps({"id": i, "text": f"Apple number {i} in Paris."}) for i in range(300)]
    source = write_lines(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out.jsonl"
    real_open = outputs.open_binary

    class FillingDisk:
        def __init__(self, stream):
            self.stream = stream
            self.room = fail_after_bytes

        def write(self, data):
            if self.room <= 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            written = self.stream.write(bytes(data[: self.room]))  # a short write, then a full disk
            self.room -= written
            return written

        def __getattr__(self, name):
            return getattr(self.stream, name)

    monkeypatch.setattr(outputs, "open_binary", lambda path, mode: FillingDisk(real_open(path, mode)))
    monkeypatch.setattr(outputs, "_FLUSH_BYTES", 64)
    with pytest.raises(ProcessError, match="the disk is full") as info:
        process(ruler_model, source, out, quiet=True)
    data = out.read_bytes()
    assert data == b"" or data.endswith(b"\n")
    kept = read_jsonl(out)
    assert [r["id"] for r in kept] == list(range(len(kept)))
    assert f"holds {len(kept)} complete records" in str(info.value)

    monkeypatch.setattr(outputs, "open_binary", real_open)
    process(ruler_model, source, out, quiet=True, resume=True)
    assert [r["id"] for r in read_jsonl(out)] == list(range(300))


def test_cli_exits_1_on_a_bad_record_with_file_line_and_reason(tmp_path, ruler_model):
    source = write_lines(tmp_path / "in.jsonl", [GOOD, '{"text": 5}'])
    result = CliRunner().invoke(app, ["process", str(ruler_model), str(source), str(tmp_path / "out.jsonl"), "--quiet"])
    assert result.exit_code == 1
    assert "in.jsonl, line 2" in result.stderr and "not a string" in result.stderr
    assert "Traceback" not in result.output


def test_cli_with_a_missing_input_or_output_directory_exits_1_and_writes_nothing(tmp_path, ruler_model):
    source = write_lines(tmp_path / "in.jsonl", [GOOD])
    runner = CliRunner()
    result = runner.invoke(app, ["process", str(ruler_model), str(tmp_path / "nope.jsonl"), str(tmp_path / "out.jsonl")])
    assert result.exit_code == 1 and "not found" in result.stderr
    result = runner.invoke(app, ["process", str(ruler_model), str(source), str(tmp_path / "no" / "out.jsonl")])
    assert result.exit_code == 1 and "does not exist" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_failed_model_load_removes_no_earlier_errors_file(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", [GOOD])
    out = tmp_path / "out.jsonl"
    out.write_text("kept\n")
    errors_path_for(out).write_text('{"index": 0}\n')
    with pytest.raises(PipelineLoadError, match="Cannot load the pipeline"):
        process(tmp_path / "missing-model", source, out, quiet=True, overwrite=True)
    assert out.read_text() == "kept\n" and errors_path_for(out).read_text() == '{"index": 0}\n'
