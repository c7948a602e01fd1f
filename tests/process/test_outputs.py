"""The .spacy output goes through the package's one atomic_write: a temporary of its own, so a
file that happens to sit where a fixed temporary name would fall is left alone."""
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from spacy_bilstm.process.outputs import DocBinOutput
from spacy_bilstm.process.records import Outcome, Record


def test_a_spacy_output_leaves_the_files_beside_it_alone(tmp_path):
    neighbour = tmp_path / "out.spacy.tmp"
    neighbour.write_text("another job's output", encoding="utf-8")
    output = DocBinOutput(tmp_path / "out.spacy")
    doc = Doc(Vocab(), words=["Paris", "is", "big"])
    output.write(Outcome(record=Record(index=0, source="in.jsonl", line=1, id=0, text=doc.text), doc=doc))
    output.close()
    assert neighbour.read_text(encoding="utf-8") == "another job's output"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.spacy", "out.spacy.tmp"]
    [written] = DocBin().from_disk(tmp_path / "out.spacy").get_docs(Vocab())
    assert [token.text for token in written] == ["Paris", "is", "big"]
