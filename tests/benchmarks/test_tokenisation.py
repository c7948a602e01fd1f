"""Study 16 (benchmarks/tokenisation.py): the readings it compares and what it records."""
import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Corpus

from benchmarks import tokenisation


def test_the_gold_documents_reading_keeps_tokens_entities_and_whole_documents(tmp_path):
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=["Paris-based", "firms", ".", "They", "grew"], spaces=[True, True, True, True, False],
              sent_starts=[True, False, False, True, False])
    doc.ents = [Span(doc, 0, 1, label="MISC")]
    DocBin(docs=[doc]).to_disk(tmp_path / "train.spacy")
    target = tokenisation.with_unknown_spaces(tmp_path / "train.spacy", tmp_path / "gold.spacy", "en")
    examples = list(Corpus(target)(nlp))
    assert len(examples) == 1
    assert [t.text for t in examples[0].predicted] == ["Paris-based", "firms", ".", "They", "grew"]
    assert [(e.start, e.end, e.label_) for e in examples[0].reference.ents] == [(0, 1, "MISC")]
    retokenised = list(Corpus(tmp_path / "train.spacy")(nlp))
    assert [t.text for t in retokenised[0].predicted][:3] == ["Paris", "-", "based"]


def test_the_recorded_command_leaves_out_where_the_data_and_results_are():
    arguments = ["--corpora", "wnut17", "--work", "/tmp/w", "--results=/tmp/r.json", "--seeds", "1", "--shared", "/d"]
    assert tokenisation._what_was_run(arguments) == ["--corpora", "wnut17", "--seeds", "1"]


def test_the_table_gives_mean_and_std_over_seeds():
    runs = [{"corpus": "wnut17", "reading": "retokenised", "seed": seed, "gold_tokens_f1": f1, "spacy_tokens_f1": f1}
            for seed, f1 in ((0, 40.0), (1, 42.0))]
    assert "| wnut17 | retokenised | 2 | 41.00 ± 1.41 | 41.00 ± 1.41 |" in tokenisation.summary(runs)
