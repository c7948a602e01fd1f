"""Study 16 (benchmarks/tokenisation.py): the readings it compares and what it records."""
import json

import spacy
from spacy.training import Corpus

from benchmarks import datasets, tokenisation


def _shared_with_a_small_conll2003(tmp_path):
    shared = tmp_path / "shared"
    folder = shared / "corpora" / "conll2003"
    folder.mkdir(parents=True)
    text = "-DOCSTART- O\n\nParis-based B-MISC\nfirms O\n. O\n\nThey O\ngrew O\n"
    for name in ("train.txt", "valid.txt", "test.txt"):
        (folder / name).write_text(text, encoding="utf-8")
    return shared


def test_the_gold_readings_keep_tokens_entities_and_whole_documents_and_retokenised_does_not(tmp_path):
    shared, work = _shared_with_a_small_conll2003(tmp_path), tmp_path / "work"
    nlp = spacy.blank("en")
    gold = datasets.prepare_corpus(shared, work, "conll2003", tokens=tokenisation.CONVERT_TOKENS["gold_documents"])
    examples = list(Corpus(gold["train"])(nlp))
    assert len(examples) == 1
    assert [t.text for t in examples[0].predicted] == ["Paris-based", "firms", ".", "They", "grew"]
    assert [(e.start, e.end, e.label_) for e in examples[0].reference.ents] == [(0, 1, "MISC")]
    spacy_tokens = datasets.prepare_corpus(shared, work, "conll2003", tokens=tokenisation.CONVERT_TOKENS["retokenised"])
    assert spacy_tokens["train"] != gold["train"]
    retokenised = list(Corpus(spacy_tokens["train"])(nlp))
    assert [t.text for t in retokenised[0].predicted][:3] == ["Paris", "-", "based"]


def test_a_conversion_cached_without_its_reading_is_made_again(tmp_path):
    shared, work = _shared_with_a_small_conll2003(tmp_path), tmp_path / "work"
    train = datasets.prepare_corpus(shared, work, "conll2003")["train"]
    manifest = train.with_suffix(".json")
    record = json.loads(manifest.read_text())
    del record["stamp"]["tokens"]  # as written before `convert` kept column tokens
    manifest.write_text(json.dumps(record))
    datasets.prepare_corpus(shared, work, "conll2003")
    assert json.loads(manifest.read_text())["stamp"]["tokens"] == "gold"


def test_the_recorded_command_leaves_out_where_the_data_and_results_are():
    arguments = ["--corpora", "wnut17", "--work", "/tmp/w", "--results=/tmp/r.json", "--seeds", "1", "--shared", "/d"]
    assert tokenisation._what_was_run(arguments) == ["--corpora", "wnut17", "--seeds", "1"]


def test_the_table_gives_mean_and_std_over_seeds():
    runs = [{"corpus": "wnut17", "reading": "retokenised", "seed": seed, "gold_tokens_f1": f1, "spacy_tokens_f1": f1}
            for seed, f1 in ((0, 40.0), (1, 42.0))]
    assert "| wnut17 | retokenised | 2 | 41.00 ± 1.41 | 41.00 ± 1.41 |" in tokenisation.summary(runs)
