"""`spacy-bilstm process` with the local engine, against ordinary spaCy pipelines that
set doc.ents: the command must work for any of them."""
import errno
import gzip
import io
import re
import subprocess
import json
import os
import signal
import sys
from pathlib import Path

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from typer.testing import CliRunner

from spacy_bilstm.cli import app
from spacy_bilstm.loading import PipelineLoadError
from spacy_bilstm.process import BadRecordError, ProcessError, process
from spacy_bilstm.process import outputs
from spacy_bilstm.process.input_records import iter_records, parse_raw_record, resolve_inputs
from spacy_bilstm.process.local_engine import process_records
from spacy_bilstm.process.records import Record, dumps_line, output_record
from spacy_bilstm.process.resume import last_output_index

from .helpers import TEXTS, read_jsonl, write_jsonl

@pytest.fixture(scope="module")
def ruler_nlp(ruler_model) -> Language:
    return spacy.load(ruler_model)


def expected_entities(nlp: Language, text: str):
    return [
        {"start": e.start_char, "end": e.end_char, "label": e.label_, "text": e.text} for e in nlp(text).ents
    ]


def test_jsonl_to_jsonl_keeps_order_ids_and_carried_fields(tmp_path, ruler_model, ruler_nlp):
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [{"id": f"doc-{i}", "text": text, "meta": {"n": i}, "lang": "en"} for i, text in enumerate(TEXTS)],
    )
    out = tmp_path / "out.jsonl"
    summary = process(ruler_model, source, out, quiet=True)
    records = read_jsonl(out)
    assert [r["id"] for r in records] == [f"doc-{i}" for i in range(len(TEXTS))]
    assert [r["meta"] for r in records] == [{"n": i} for i in range(len(TEXTS))]
    assert all(list(r) == ["id", "meta", "lang", "entities"] for r in records)
    assert [r["entities"] for r in records] == [expected_entities(ruler_nlp, t) for t in TEXTS]
    for record, text in zip(records, TEXTS):
        for entity in record["entities"]:
            assert text[entity["start"]:entity["end"]] == entity["text"]
            assert "score" not in entity
    assert records[2]["entities"] == []  # empty text is a valid record
    assert summary.docs == len(TEXTS) and summary.errors == 0
    assert summary.entities == sum(len(r["entities"]) for r in records) == 6
    assert summary.words == sum(len(ruler_nlp(t)) for t in TEXTS)


def test_custom_text_and_id_keys(tmp_path, ruler_model):
    source = write_jsonl(tmp_path / "in.jsonl", [{"key": 7, "body": "Apple", "other": True}, {"body": "x"}])
    out = tmp_path / "out.jsonl"
    process(ruler_model, source, out, text_key="body", id_key="key", quiet=True)
    assert read_jsonl(out) == [
        {"id": 7, "other": True, "entities": [{"start": 0, "end": 5, "label": "ORG", "text": "Apple"}]},
        {"id": "in.jsonl:2", "entities": []},
    ]


def test_a_carried_field_named_id_is_refused_rather_than_overwritten(tmp_path, ruler_model):
    source = write_jsonl(tmp_path / "in.jsonl", [{"key": 7, "text": "Apple", "id": "mine"}])
    with pytest.raises(BadRecordError, match="'id' would be overwritten"):
        process(ruler_model, source, tmp_path / "out.jsonl", id_key="key", quiet=True)


def test_txt_lines_get_stable_ids_and_crlf_is_not_text(tmp_path, ruler_model):
    source = tmp_path / "docs.txt"
    source.write_bytes(b"Apple here\r\n\r\nin New York\nlast line without newline Apple")
    out = tmp_path / "out.jsonl"
    process(ruler_model, source, out, quiet=True)
    records = read_jsonl(out)
    assert [r["id"] for r in records] == ["docs.txt:1", "docs.txt:2", "docs.txt:3", "docs.txt:4"]
    assert [[e["text"] for e in r["entities"]] for r in records] == [["Apple"], [], ["New York"], ["Apple"]]
    assert records[3]["entities"][0]["start"] == len("last line without newline ")


def test_directory_of_mixed_and_gzipped_files_is_read_in_sorted_order(tmp_path, ruler_model):
    folder = tmp_path / "inputs"
    (folder / "sub").mkdir(parents=True)
    with gzip.open(folder / "b.jsonl.gz", "wt") as stream:
        stream.write(json.dumps({"id": "b1", "text": "Apple"}) + "\n")
    (folder / "a.txt").write_text("New York\n")
    (folder / "sub" / "c.txt").write_text("Ada Lovelace\n")
    with gzip.open(folder / "c.txt.gz", "wt") as stream:
        stream.write("nothing\n")
    out = tmp_path / "out.jsonl"
    process(ruler_model, folder, out, quiet=True)
    assert [r["id"] for r in read_jsonl(out)] == ["a.txt:1", "b1", "c.txt.gz:1", "sub/c.txt:1"]

    out_glob = tmp_path / "glob.jsonl"
    process(ruler_model, str(folder / "*.txt*"), out_glob, quiet=True)
    assert [r["id"] for r in read_jsonl(out_glob)] == ["a.txt:1", "c.txt.gz:1"]


def test_unsupported_file_in_directory_is_refused_not_skipped(tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    (tmp_path / "notes.md").write_text("x\n")
    with pytest.raises(ProcessError, match="notes.md"):
        resolve_inputs(str(tmp_path))


def test_spacy_input_keeps_its_tokenisation_and_spacy_output_round_trips(tmp_path, ruler_model):
    vocab = spacy.blank("en").vocab
    doc_bin = DocBin()
    doc_bin.add(Doc(vocab, words=["New", "York", "-", "Apple"], spaces=[True, False, False, False]))
    doc_bin.add(Doc(vocab, words=["Ada", "Lovelace"], spaces=[True, False]))
    source = tmp_path / "in.spacy"
    doc_bin.to_disk(source)

    out = tmp_path / "out.jsonl"
    process(ruler_model, source, out, quiet=True)
    assert read_jsonl(out) == [
        {"id": "in.spacy:1", "entities": [
            {"start": 0, "end": 8, "label": "GPE", "text": "New York"},
            {"start": 9, "end": 14, "label": "ORG", "text": "Apple"},
        ]},
        {"id": "in.spacy:2", "entities": [{"start": 0, "end": 12, "label": "PERSON", "text": "Ada Lovelace"}]},
    ]

    out_spacy = tmp_path / "out.spacy"
    process(ruler_model, source, out_spacy, quiet=True)
    docs = list(DocBin().from_disk(out_spacy).get_docs(vocab))
    assert [[t.text for t in doc] for doc in docs] == [["New", "York", "-", "Apple"], ["Ada", "Lovelace"]]
    assert [[(e.text, e.label_) for e in doc.ents] for doc in docs] == [
        [("New York", "GPE"), ("Apple", "ORG")], [("Ada Lovelace", "PERSON")]
    ]


BAD_LINES = [
    ("not json at all", "invalid JSON"),
    ('["a list"]', "expected a JSON object"),
    ('{"id": 1}', "missing text field 'text'"),
    ('{"id": 1, "text": 42}', "not a string"),
    ('{"id": 1, "text": "x", "entities": []}', "would be overwritten"),
    ("", "invalid JSON"),
]


@pytest.mark.parametrize("bad_line,reason", BAD_LINES)
def test_first_bad_record_stops_the_run_with_file_line_and_reason(tmp_path, ruler_model, bad_line, reason):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "Apple"}, {"text": "New York"}, bad_line, {"text": "x"}])
    out = tmp_path / "out.jsonl"
    with pytest.raises(BadRecordError) as caught:
        process(ruler_model, source, out, quiet=True)
    assert (caught.value.source, caught.value.line) == ("in.jsonl", 3)
    assert reason in str(caught.value) and "in.jsonl, line 3" in str(caught.value)
    # The records before the bad one are written, nothing after it.
    assert [r["id"] for r in read_jsonl(out)] == ["in.jsonl:1", "in.jsonl:2"]


def test_document_beyond_max_length_is_a_bad_record(tmp_path, ruler_model):
    nlp = spacy.load(ruler_model)
    too_long = "a" * (nlp.max_length + 1)
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "Apple"}, {"text": too_long}, {"text": "New York"}])
    out = tmp_path / "out.jsonl"
    with pytest.raises(BadRecordError, match="line 2: document has .*nlp.max_length"):
        process(ruler_model, source, out, quiet=True)
    summary = process(ruler_model, source, out, quiet=True, on_error="skip", overwrite=True)
    assert [r["id"] for r in read_jsonl(out)] == ["in.jsonl:1", "in.jsonl:3"]
    assert summary.errors == 1


def test_skip_writes_every_bad_record_to_the_errors_file(tmp_path, ruler_model):
    lines = [{"text": "Apple"}] + [line for line, _ in BAD_LINES] + [{"id": "last", "text": "New York"}]
    source = write_jsonl(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out.jsonl"
    summary = process(ruler_model, source, out, on_error="skip", quiet=True)
    assert [r["id"] for r in read_jsonl(out)] == ["in.jsonl:1", "last"]
    errors = read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert [(e["index"], e["file"], e["line"]) for e in errors] == [
        (i, "in.jsonl", i + 1) for i in range(1, len(BAD_LINES) + 1)
    ]
    for error, (_, reason) in zip(errors, BAD_LINES):
        assert reason in error["reason"]
    assert errors[2]["id"] == 1  # the id is kept when it could be read
    assert (summary.docs, summary.errors) == (2, len(BAD_LINES))


def test_existing_output_is_not_replaced_without_resume_or_overwrite(tmp_path, ruler_model):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "Apple"}])
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n")
    with pytest.raises(ProcessError, match="--resume .* --overwrite"):
        process(ruler_model, source, out, quiet=True)
    assert out.read_text() == "precious\n"
    out.unlink()
    stale_errors = tmp_path / "out.jsonl.errors.jsonl"
    stale_errors.write_text("also precious\n")
    with pytest.raises(ProcessError, match="errors.jsonl already exists"):
        process(ruler_model, source, out, quiet=True)
    assert stale_errors.read_text() == "also precious\n"


def mixed_input(tmp_path: Path) -> Path:
    lines = []
    for i in range(40):
        if i % 7 == 3:
            lines.append("{broken")
        else:
            lines.append({"id": i, "text": TEXTS[i % len(TEXTS)]})
    return write_jsonl(tmp_path / "in.jsonl", lines)


def complete_run(tmp_path, model, source):
    reference = tmp_path / "reference.jsonl"
    process(model, source, reference, on_error="skip", quiet=True)
    return reference.read_bytes(), (tmp_path / "reference.jsonl.errors.jsonl").read_bytes()


def test_resume_after_a_crash_at_any_point_neither_loses_nor_duplicates(tmp_path, ruler_model):
    source = mixed_input(tmp_path)
    full_output, full_errors = complete_run(tmp_path, ruler_model, source)
    output_lines = full_output.splitlines(keepends=True)
    error_lines = full_errors.splitlines(keepends=True)
    out = tmp_path / "out.jsonl"
    errors = tmp_path / "out.jsonl.errors.jsonl"
    for n_output in range(len(output_lines) + 1):
        last_index = last_output_index(n_output, [json.loads(e)["index"] for e in error_lines])
        # Errors are flushed as they happen: all those before the last output record are
        # on disk, and possibly some after it. The last output line may be torn.
        for n_errors_after in (0, 1):
            kept = [e for e in error_lines if json.loads(e)["index"] < last_index]
            after = [e for e in error_lines if json.loads(e)["index"] > last_index][:n_errors_after]
            torn = output_lines[n_output][: len(output_lines[n_output]) // 2] if n_output < len(output_lines) else b""
            out.write_bytes(b"".join(output_lines[:n_output]) + torn)
            errors.write_bytes(b"".join(kept + after))
            process(ruler_model, source, out, on_error="skip", resume=True, quiet=True)
            assert out.read_bytes() == full_output, (n_output, n_errors_after)
            assert errors.read_bytes() == full_errors, (n_output, n_errors_after)


def test_resume_after_raise_continues_at_the_bad_record(tmp_path, ruler_model):
    source = mixed_input(tmp_path)
    full_output, full_errors = complete_run(tmp_path, ruler_model, source)
    out = tmp_path / "out.jsonl"
    with pytest.raises(BadRecordError):
        process(ruler_model, source, out, quiet=True)
    summary = process(ruler_model, source, out, on_error="skip", resume=True, quiet=True)
    assert summary.resumed_after == 3
    assert out.read_bytes() == full_output
    assert (tmp_path / "out.jsonl.errors.jsonl").read_bytes() == full_errors
    # Resuming a finished run adds nothing.
    again = process(ruler_model, source, out, on_error="skip", resume=True, quiet=True)
    assert again.docs == 0 and out.read_bytes() == full_output


def test_resume_of_a_spacy_output_adds_only_the_missing_docs(tmp_path, ruler_model):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS] + ["bad"] + [{"text": "Apple"}])
    out = tmp_path / "out.spacy"
    with pytest.raises(BadRecordError):
        process(ruler_model, source, out, quiet=True)
    assert len(DocBin().from_disk(out)) == len(TEXTS)
    summary = process(ruler_model, source, out, on_error="skip", resume=True, quiet=True)
    assert (summary.docs, summary.errors) == (1, 1)
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank("en").vocab))
    assert [d.text for d in docs] == TEXTS + ["Apple"]


def test_resume_refuses_an_input_shorter_than_the_output(tmp_path, ruler_model):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "Apple"}])
    out = tmp_path / "out.jsonl"
    write_jsonl(out, [{"id": 1, "entities": []}, {"id": 2, "entities": []}])
    with pytest.raises(ProcessError, match="same input"):
        process(ruler_model, source, out, resume=True, quiet=True)


class DiskFullAfter(io.FileIO):
    """A file whose disk fills up after `limit` bytes: the write that crosses the limit
    writes what fits, the next one fails with ENOSPC."""

    def __init__(self, path, mode, limit):
        super().__init__(path, mode.replace("b", ""))
        self.room = limit

    def write(self, data):
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        data = bytes(data)[: self.room]
        written = super().write(data)
        self.room -= written
        return written


def test_full_disk_leaves_only_complete_records_and_resume_finishes(tmp_path, ruler_model, monkeypatch):
    source = mixed_input(tmp_path)
    full_output, full_errors = complete_run(tmp_path, ruler_model, source)
    out = tmp_path / "out.jsonl"
    limit = len(full_output) // 2 + 3  # mid-record
    real_open = outputs.open_binary

    def open_with_small_disk(path, mode):
        if Path(path) == out:
            return DiskFullAfter(path, mode, limit)
        return real_open(path, mode)

    monkeypatch.setattr(outputs, "open_binary", open_with_small_disk)
    monkeypatch.setattr(outputs, "_FLUSH_BYTES", 200)
    with pytest.raises(ProcessError, match="disk is full.*--resume"):
        process(ruler_model, source, out, on_error="skip", quiet=True)
    written = out.read_bytes()
    assert 0 < len(written) <= limit
    assert written.endswith(b"\n") and full_output.startswith(written)

    monkeypatch.setattr(outputs, "open_binary", real_open)
    process(ruler_model, source, out, on_error="skip", resume=True, quiet=True)
    assert out.read_bytes() == full_output
    assert (tmp_path / "out.jsonl.errors.jsonl").read_bytes() == full_errors


def test_jsonl_writer_cuts_a_torn_record_on_write_failure(tmp_path, monkeypatch):
    path = tmp_path / "out.jsonl"
    monkeypatch.setattr(outputs, "open_binary", lambda p, mode: DiskFullAfter(p, mode, 25))
    writer = outputs.JsonlWriter(path, flush_bytes=1)
    writer.write({"a": "0123456789"})  # 17 bytes
    with pytest.raises(ProcessError, match="holds 1 complete records"):
        writer.write({"b": "0123456789"})
    writer._file.close()
    assert path.read_bytes() == b'{"a":"0123456789"}\n'


@Language.factory("scored_entities_for_test")
class ScoredEntities:
    """Like bilstm_ner: sets doc.ents above a threshold and writes every candidate, with
    its score, to doc.spans[spans_key]."""

    def __init__(self, nlp, name, spans_key: str = "candidates"):
        self.spans_key = spans_key

    def __call__(self, doc: Doc) -> Doc:
        candidates = [Span(doc, i, i + 1, label="CAP") for i, t in enumerate(doc) if t.text[:1].isupper()]
        scores = [0.25 + 0.5 * (len(span.text) > 3) for span in candidates]
        doc.spans[self.spans_key] = candidates
        doc.spans[self.spans_key].attrs["scores"] = scores
        doc.ents = [span for span, score in zip(candidates, scores) if score > 0.5]
        return doc


def test_entities_get_the_score_of_their_span_in_the_components_span_group(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("scored_entities_for_test")
    nlp.add_pipe("entity_ruler", config={"overwrite_ents": False}).add_patterns([{"label": "NUM", "pattern": "42"}])
    model = tmp_path / "scored"
    nlp.to_disk(model)
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "Ada met Bob and Grace at 42"}])
    out = tmp_path / "out.jsonl"
    process(model, source, out, quiet=True)
    [record] = read_jsonl(out)
    assert record["entities"] == [
        {"start": 16, "end": 21, "label": "CAP", "text": "Grace", "score": 0.75},
        {"start": 25, "end": 27, "label": "NUM", "text": "42"},  # no score source: no score key
    ]


def test_n_process_2_writes_the_same_bytes_as_n_process_1(tmp_path, ruler_model):
    source = mixed_input(tmp_path)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    process(ruler_model, source, one, on_error="skip", batch_size=4, quiet=True)
    process(ruler_model, source, two, on_error="skip", batch_size=4, n_process=2, quiet=True)
    assert one.read_bytes() == two.read_bytes()
    assert (tmp_path / "one.jsonl.errors.jsonl").read_bytes() == (tmp_path / "two.jsonl.errors.jsonl").read_bytes()


def test_records_are_streamed_not_materialised(ruler_nlp):
    def endless():
        index = 0
        while True:
            yield Record(index, "endless", index + 1, index, text="Apple in New York")
            index += 1

    outcomes = process_records(ruler_nlp, endless(), batch_size=8)
    first = [next(outcomes) for _ in range(20)]
    assert [o.record.index for o in first] == list(range(20))
    assert all(len(o.entities) == 2 for o in first)


def test_reading_skips_resumed_records_without_parsing_them(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", ["{broken", "{broken", {"text": "ok"}])
    records = list(iter_records(resolve_inputs(str(source)), skip=2))
    assert [(r.index, r.line, r.text, r.error) for r in records] == [(2, 3, "ok", None)]


def test_records_read_unparsed_parse_to_the_same_records_as_read_parsed(tmp_path):
    lines = [
        b'\xef\xbb\xbf{"text": "BOM first", "id": 7}', b"{broken", b'{"text": 3}', b'[1, 2]',
        b'{"text": NaN}', b'{"text": "\\ud800 alone"}', b'{"id": "x", "text": "fine", "source": "web"}',
        b'{"text": "caf\xff"}', b'{"entities": [], "text": "clash"}',
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    text_source = tmp_path / "in.txt"
    text_source.write_bytes(b"\xef\xbb\xbfBOM first\r\nbad \xff byte\nplain\n")

    def fields(record):
        return (record.index, record.line, record.id, record.text, record.carried, record.error)

    for path in (source, text_source):
        files = resolve_inputs(str(path))
        parsed = list(iter_records(files))
        unparsed = list(iter_records(files, parse=False))
        assert all(r.raw is not None and r.text is None and r.error is None for r in unparsed)
        assert [fields(parse_raw_record(r)) for r in unparsed] == [fields(r) for r in parsed]
        assert all(r.raw is None for r in unparsed)
    errors = [r.error for r in iter_records(resolve_inputs(str(source)))]
    assert [e is None for e in errors] == [True, False, False, False, False, False, True, False, False]


def test_worker_serialised_lines_match_the_output_written_from_entities(ruler_nlp):
    records = [Record(i, "in", i + 1, i, text=t, carried={"n": i}) for i, t in enumerate(TEXTS)]
    plain = list(process_records(ruler_nlp, records, batch_size=2))
    serialised = list(process_records(ruler_nlp, records, batch_size=2, json_lines=True))
    assert [o.json_line for o in serialised] == [dumps_line(output_record(o)) for o in plain]
    assert [o.n_entities for o in serialised] == [len(o.entities) for o in plain] == [2, 0, 0, 3, 1]


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal_and_summary_at_the_end(tmp_path, ruler_model):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS])
    terminal = FakeTerminal()
    process(ruler_model, source, tmp_path / "a.jsonl", stderr=terminal)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.getvalue())  # without the terminal's colours
    assert "docs/s" in shown and "words/s" in shown and "ETA" in shown and "5/5 docs" in shown
    assert "Processed 5 docs" in shown and "6 entities, 0 errors" in shown

    not_a_terminal = io.StringIO()
    process(ruler_model, source, tmp_path / "b.jsonl", stderr=not_a_terminal)
    assert "docs/s" not in not_a_terminal.getvalue() and "Processed 5 docs" in not_a_terminal.getvalue()

    quiet_terminal = FakeTerminal()
    process(ruler_model, source, tmp_path / "c.jsonl", stderr=quiet_terminal, quiet=True)
    assert quiet_terminal.getvalue() == ""


def test_cli_exits_non_zero_with_file_line_and_reason(tmp_path, ruler_model):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "Apple"}, "oops"])
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["process", str(ruler_model), str(source), str(out), "--quiet"])
    assert result.exit_code == 1
    assert "in.jsonl, line 2: invalid JSON" in result.output
    result = CliRunner().invoke(
        app, ["process", str(ruler_model), str(source), str(out), "--quiet", "--resume", "--on-error", "skip"]
    )
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(out)) == 1 and len(read_jsonl(tmp_path / "out.jsonl.errors.jsonl")) == 1


def test_missing_model_is_a_clear_error(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "Apple"}])
    with pytest.raises(PipelineLoadError, match="Cannot load the pipeline"):
        process(tmp_path / "no-such-model", source, tmp_path / "out.jsonl", quiet=True)


def test_dask_engine_without_dask_says_how_to_install_it(tmp_path, ruler_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "Apple"}])
    result = CliRunner().invoke(
        app, ["process", str(ruler_model), str(source), str(tmp_path / "out.jsonl"), "--engine", "dask", "--quiet"]
    )
    assert result.exit_code == 1
    assert 'pip install "spacy-bilstm[dask]"' in result.output


TRAIN_DATA = [
    ("Apple hired Tim Cook in Cupertino.", [(0, 5, "ORG"), (12, 20, "PER"), (24, 33, "LOC")]),
    ("I like London and Berlin.", [(7, 13, "LOC"), (18, 24, "LOC")]),
]


@pytest.fixture(scope="module")
def bilstm_model(tmp_path_factory) -> Path:
    from spacy.training import Example

    nlp = spacy.blank("en")
    try:
        nlp.add_pipe("bilstm_ner")
    except (ValueError, ImportError) as error:
        pytest.skip(f"the bilstm_ner component is not available: {error}")
    examples = [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in TRAIN_DATA]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(30):
        nlp.update(examples, sgd=optimizer)
    path = tmp_path_factory.mktemp("model") / "bilstm"
    nlp.to_disk(path)
    return path


def test_bilstm_ner_entities_carry_scores_and_n_process_2_does_not_hang(tmp_path, bilstm_model):
    source = tmp_path / "in.txt"
    source.write_text("\n".join([text for text, _ in TRAIN_DATA] * 10 + [""]) + "\n")
    one = tmp_path / "one.jsonl"
    process(bilstm_model, source, one, quiet=True)
    records = read_jsonl(one)
    assert len(records) == 21 and records[-1]["entities"] == []
    entities = [e for r in records for e in r["entities"]]
    assert entities and all(0.0 <= e["score"] <= 1.0 for e in entities)
    # A forked nlp.pipe child that inherits PyTorch's thread pool can hang: run it in a
    # subprocess with a deadline rather than risk hanging the test session.
    two = tmp_path / "two.jsonl"
    command = [sys.executable, "-c", "from spacy_bilstm.cli import main; main()", "process", str(bilstm_model),
               str(source), str(two), "--n-process", "2", "--batch-size", "4", "--quiet"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        _, stderr = child.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)  # the forked nlp.pipe workers too
        child.communicate()
        pytest.fail("process --n-process 2 hung")
    assert child.returncode == 0, stderr
    assert two.read_bytes() == one.read_bytes()
