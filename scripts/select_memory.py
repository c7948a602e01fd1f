"""Peak memory of `select` against the size of its input: the top N are held in a bounded heap,
so the peak RSS should not grow with the number of documents read.

    nice python scripts/select_memory.py --sizes 50000 100000 --n 500

Trains a tiny BiLSTM-CRF for a few steps, writes `size` short generated documents (words drawn
from a fixed list, so that spaCy's vocabulary, which grows with every new word in any
pipeline, stays the same size), and runs select() over each input in a fresh subprocess with
one torch thread, reporting its peak RSS (getrusage ru_maxrss) and time."""
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This checkout's package, not an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = (
    "the a of in on at to with from by and or but news report market city team game river house people "
    "year week day minister company bank club school university hospital station road bridge park"
).split()
NAMES = (
    "London Berlin Paris Geneva Madrid Rome Tokyo Boston Cupertino Seattle Apple Google Microsoft Reuters "
    "Merkel Cook Khan Smith Jones Garcia Lee Brown Dupont Rossi"
).split()
TRAIN_DATA = [
    ("Apple hired Tim Cook in Cupertino.", [(0, 5, "ORG"), (12, 20, "PER"), (24, 33, "LOC")]),
    ("I like London and Berlin.", [(7, 13, "LOC"), (18, 24, "LOC")]),
    ("Angela Merkel spoke to reporters in Geneva.", [(0, 13, "PER"), (36, 42, "LOC")]),
    ("Nothing to see here.", []),
]


def train_tiny_model(path: Path) -> None:
    import spacy
    from spacy.training import Example

    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_ner", config={"model": {
        "hidden_width": 8,
        "tok2vec": {"width": 16, "rows": [200, 100, 100, 100], "char_filters": 8, "char_embed_width": 8, "char_rows": 64},
    }})
    examples = [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in TRAIN_DATA]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(10):
        nlp.update(examples, sgd=optimizer)
    nlp.to_disk(path)


def write_docs(path: Path, size: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf8") as stream:
        for i in range(size):
            words = [rng.choice(NAMES if rng.random() < 0.25 else WORDS) for _ in range(rng.randint(5, 12))]
            stream.write(json.dumps({"id": i, "text": " ".join(words) + " ."}) + "\n")


def child(model: str, source: str, output: str, n: int) -> None:
    from spacy_bilstm import threads
    from spacy_bilstm.selection import select

    threads.set_threads(1)
    start = time.perf_counter()
    summary = select(model, source, output, n=n, quiet=True, overwrite=True)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"docs": summary.docs, "chosen": summary.chosen, "duplicates": summary.duplicates,
                      "peak_rss_mib": peak_kib / 1024, "seconds": time.perf_counter() - start}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50000, 100000])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--child", nargs=4, metavar=("MODEL", "INPUT", "OUTPUT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        model, source, output, n = args.child
        child(model, source, output, int(n))
        return
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        train_tiny_model(root / "model")
        results = {}
        for size in args.sizes:
            source = root / f"docs-{size}.jsonl"
            write_docs(source, size)
            completed = subprocess.run(
                [sys.executable, __file__, "--child", str(root / "model"), str(source), str(root / "out.jsonl"), str(args.n)],
                env=environment, check=True, capture_output=True, text=True,
            )
            results[size] = json.loads(completed.stdout.strip().splitlines()[-1])
            print(f"{size} docs: {json.dumps(results[size])}", flush=True)
        first, last = args.sizes[0], args.sizes[-1]
        ratio = results[last]["peak_rss_mib"] / results[first]["peak_rss_mib"]
        print(f"peak RSS at {last} docs / at {first} docs = {ratio:.3f}")


if __name__ == "__main__":
    main()
