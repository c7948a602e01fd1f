"""`write_docs`, the one writer the commands call: entity scores from a span group, one meta
dict per document where the format keeps it, and a clear refusal where it cannot."""
import json

import pytest
import spacy
from spacy.tokens import DocBin, Span, SpanGroup
from typer.testing import CliRunner

from spacy_bilstm.cli import app
from spacy_bilstm.corpora import OUTPUT_FORMATS, CorpusError, read_corpus, write_docs

from .corpus_files import CONLL_2003_STYLE, ents, write


def predicted_doc(nlp):
    doc = nlp("Ann met Bob in Paris.")
    doc.ents = [Span(doc, 0, 1, "PER"), Span(doc, 4, 5, "LOC")]
    doc.spans["predicted"] = SpanGroup(doc, name="predicted", spans=[Span(doc, 4, 5, "LOC"), Span(doc, 0, 1, "PER")],
                                       attrs={"scores": [0.6, 0.9]})
    return doc


def test_jsonl_keeps_span_scores_and_meta(tmp_path):
    write_docs([predicted_doc(spacy.blank("en"))], tmp_path / "a.jsonl", "jsonl", scores_key="predicted",
               meta=[{"score": 0.7, "strategy": "uncertainty"}])
    (record,) = [json.loads(text) for text in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [(s["label"], s["score"]) for s in record["spans"]] == [("PER", 0.9), ("LOC", 0.6)]
    assert record["meta"] == {"score": 0.7, "strategy": "uncertainty"}


def test_a_docbin_keeps_meta_in_user_data_and_the_scores_in_doc_spans(tmp_path):
    nlp = spacy.blank("en")
    write_docs([predicted_doc(nlp)], tmp_path / "a.spacy", "spacy", scores_key="predicted", meta=[{"score": 0.7}])
    (doc,) = DocBin().from_disk(tmp_path / "a.spacy").get_docs(nlp.vocab)
    assert doc.user_data["meta"] == {"score": 0.7}
    assert doc.spans["predicted"].attrs["scores"] == [0.6, 0.9]


@pytest.mark.parametrize("to,options,fragment", [
    ("conll", {"meta": [{"score": 1.0}]}, "no place for per-document metadata"),
    ("brat", {"meta": [{"score": 1.0}]}, "no place for per-document metadata"),
    ("conll", {"scores_key": "predicted"}, "no place for entity scores"),
    ("jsonl", {"scores_key": "absent"}, "has no span group 'absent'"),
    ("html", {}, "Unknown output format 'html'"),
])
def test_what_a_format_cannot_hold_is_refused_and_nothing_is_written(tmp_path, to, options, fragment):
    with pytest.raises(CorpusError, match=fragment):
        write_docs([predicted_doc(spacy.blank("en"))], tmp_path / "out", to, **options)
    assert not (tmp_path / "out").exists()


def test_meta_needs_one_dict_per_doc(tmp_path):
    with pytest.raises(ValueError, match="one dict per doc"):
        write_docs([predicted_doc(spacy.blank("en"))], tmp_path / "a.jsonl", "jsonl", meta=[{}, {}])


@pytest.mark.parametrize("to", OUTPUT_FORMATS)
def test_every_output_format_reads_back_the_same_entities(tmp_path, to):
    original = read_corpus(write(tmp_path, "a.txt", CONLL_2003_STYLE))
    write_docs(original.docs, tmp_path / "out", to)
    back = read_corpus(tmp_path / "out", format={"spacy": "spacy", "conll": "conll"}.get(to, to))
    assert [ents(d) for d in back.docs] == [ents(d) for d in original.docs]


@pytest.mark.parametrize("to", ["brat", "prodigy", "labelstudio"])
def test_cli_writes_each_tool_format(tmp_path, to):
    source = write(tmp_path, "a.txt", CONLL_2003_STYLE)
    result = CliRunner().invoke(app, ["convert", str(source), str(tmp_path / "out"), "--to", to])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'out'} ({to})" in result.stdout
    assert read_corpus(tmp_path / "out", format=to).summary.entities == 4
