"""Gold entities that a reading unit makes unreachable, for every corpus in ../shared.

For each file: its gold entities, and how many cross a reading unit's boundary (and so can
never be predicted) when the tagger reads
- the sentences of spaCy's rule-based sentencizer (what `reading = "sentence"` reads in a
  shipped pipeline, whose sentencizer runs before the tagger),
- the corpus's own sentences (its blank lines),
- whole documents (`reading = "document"`, the default of BiLSTMCRF.v3),
- what the shipped configs read (their `reading`, after their sentencizer): the default a
  user trains with; it must leave no entity unreachable.

    python -m benchmarks.reachability           # writes results/reachability.json, prints the table
"""
import argparse
import json
import sys
from pathlib import Path

from spacy_bilstm.corpora.readers import read_corpus
from spacy_bilstm.reachability import shipped_reading, unreachable_entities, with_sentencizer_sentences

from .records import DEFAULT_SHARED, RESULTS

SHARED = DEFAULT_SHARED / "corpora"
# (corpus, files, language, files read with --repair: one entity each continues across a sentence
# break or starts with I-)
CORPORA = [
    ("conll2003", ["train.txt", "valid.txt", "test.txt"], "en", ()),
    ("conll2002", ["esp.train", "esp.testa", "esp.testb"], "es", ("esp.train", "esp.testa", "esp.testb")),
    ("conll2002", ["ned.train", "ned.testa", "ned.testb"], "nl", ()),
    ("wnut17", ["train.conll", "dev.conll", "test.conll"], "en", ("dev.conll",)),
    ("wikiann-en", ["train.txt", "dev.txt", "test.txt"], "en", ()),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=SHARED, help="the corpora folder")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = []
    reading = shipped_reading()
    for corpus, files, lang, repaired in CORPORA:
        for name in files:
            path = args.shared / corpus / name
            if not path.exists():
                print(f"skipped {path}: absent", file=sys.stderr)
                continue
            docs = read_corpus(path, lang=lang, repair=name in repaired).docs
            sentencizer_sentences = list(with_sentencizer_sentences(docs, lang))
            sentencizer = unreachable_entities(sentencizer_sentences, "sentence")
            shipped = unreachable_entities(sentencizer_sentences, reading)
            gold_sentences = unreachable_entities(docs, "sentence")
            documents = unreachable_entities(docs, "document")
            rows.append({
                "file": f"{corpus}/{name}", "entities": documents.entities,
                "sentencizer_sentences": sentencizer.unreachable, "gold_sentences": gold_sentences.unreachable,
                "documents": documents.unreachable, "shipped_reading": reading, "shipped": shipped.unreachable,
            })
            print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reachability.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["| file | gold entities | unreachable: sentencizer sentences | corpus sentences | documents | "
             f"shipped configs (reading = \"{reading}\") |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['file']} | {r['entities']:,} | {r['sentencizer_sentences']:,} | {r['gold_sentences']:,} | "
              f"{r['documents']:,} | {r['shipped']:,} |" for r in rows]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
