"""Compare two checkouts of spacy-bilstm on one trained pipeline: are the entities identical,
and how fast does each tag, paired (alternating rounds, one thread each, the same texts)?

    python scripts/compare_checkouts.py OLD_CHECKOUT NEW_CHECKOUT MODEL CORPUS [--rounds 3]

OLD_CHECKOUT/NEW_CHECKOUT: repository folders (e.g. `git worktree add ../old <commit>`); each
round imports `spacy_bilstm` from one of them in a fresh process. CORPUS: a column file or
DocBin; its gold tokens are tagged with `nlp.pipe(batch_size=1000)`, so tokenisation plays no part.
Used for the "behaviour unchanged" floors of a refactoring (issue 33).
"""
import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

WORKER = r"""
import json, sys, time
checkout, model, corpus = sys.argv[1:4]
sys.path.insert(0, checkout)
import spacy, spacy_bilstm
from spacy.tokens import Doc
from spacy_bilstm.corpora.readers import read_corpus
assert spacy_bilstm.__file__.startswith(checkout), spacy_bilstm.__file__
nlp = spacy.load(model)
gold = read_corpus(corpus, lang=nlp.lang).docs
docs = [Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]) for d in gold]
list(nlp.pipe(docs[:50]))  # warm-up
start = time.perf_counter()
tagged = list(nlp.pipe(docs, batch_size=1000))
seconds = time.perf_counter() - start
entities = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in tagged]
print(json.dumps({"words": sum(len(d) for d in docs), "seconds": seconds, "entities": entities}))
"""


def run_round(checkout: Path, model: Path, corpus: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", SPACY_BILSTM_THREADS="1")
    # Outside both checkouts, so that neither is imported through the working directory.
    output = subprocess.run([sys.executable, "-c", WORKER, str(checkout), str(model), str(corpus)], env=env,
                            cwd="/", check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("model", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    speeds = {"old": [], "new": []}
    digests = {"old": set(), "new": set()}
    for _ in range(args.rounds):
        for name in ("old", "new"):
            result = run_round(getattr(args, name).resolve(), args.model.resolve(), args.corpus.resolve())
            speeds[name].append(result["words"] / result["seconds"])
            digests[name].add(hashlib.sha256(json.dumps(result["entities"]).encode()).hexdigest())
    old, new = statistics.median(speeds["old"]), statistics.median(speeds["new"])
    print(json.dumps({
        "model": str(args.model), "corpus": str(args.corpus), "rounds": args.rounds,
        "entities_identical": len(digests["old"] | digests["new"]) == 1,
        "old_words_per_second": [round(s) for s in speeds["old"]],
        "new_words_per_second": [round(s) for s in speeds["new"]],
        "new_over_old_median": round(new / old, 3),
    }, indent=1))


if __name__ == "__main__":
    main()
