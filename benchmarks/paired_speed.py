"""Tagging speed of one pipeline under two (or more) versions of this package's code, measured in
turns: each round runs every version once, in a fresh process each, so that a machine whose
speed drifts (other jobs on the other cores) slows every version alike. Words/second at batch
size 1 (`nlp(text)` per sentence, tokenizer included) and at a larger batch size (`nlp.pipe`),
after one untimed pass over the same texts; the medians and each round's ratio to the first
version, per second of wall-clock time and per second of the process's CPU time (one thread:
on a shared machine the CPU time is the steadier of the two). A version is a directory that
holds a `spacy_bilstm` package (a git worktree, or an export of a commit: `git archive COMMIT
spacy_bilstm | tar -x -C DIR`), put first on PYTHONPATH; --model-of gives a version a pipeline
of its own (spaCy's `ner` beside ours: then the ratios compare pipelines, on the same texts).

    python -m benchmarks.paired_speed MODEL_DIR TEST.spacy --version before=DIR --version after=. --rounds 3
    python -m benchmarks.paired_speed MODEL_DIR TEST.spacy --version spacy=. --version ours=. \
        --model-of spacy=SPACY_MODEL
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List


def measure(model: Path, data: Path, limit: int, batch_size: int) -> Dict[str, float]:
    import spacy
    import torch
    from spacy.tokens import DocBin

    import spacy_bilstm  # noqa: F401

    torch.set_num_threads(1)
    nlp = spacy.load(model)
    texts = [s.text for doc in DocBin().from_disk(data).get_docs(nlp.vocab) for s in doc.sents][:limit]

    def tag() -> List:
        if batch_size == 1:
            return [nlp(text) for text in texts]
        return list(nlp.pipe(texts, batch_size=batch_size))

    tag()
    start, cpu_start = time.perf_counter(), time.process_time()
    docs = tag()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    words = sum(len(doc) for doc in docs)
    # Every predicted entity with its probability (the component's span groups), and doc.ents.
    entities = [(ent.start, ent.end, ent.label_) for doc in docs for ent in doc.ents] + [
        (span.start, span.end, span.label_, score) for doc in docs for group in doc.spans.values()
        for span, score in zip(group, group.attrs.get("scores", []))]
    return {"words_per_second": words / seconds, "words_per_cpu_second": words / cpu_seconds, "entities": len(entities),
            "entities_hash": hash(tuple(entities)), "code": str(Path(spacy_bilstm.__file__).parent.parent)}


def run_version(name: str, tree: Path, args: argparse.Namespace, batch_size: int) -> Dict[str, float]:
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0",
                       PYTHONPATH=os.pathsep.join([str(tree.resolve())] + [p for p in [os.environ.get("PYTHONPATH")]
                                                                           if p]))
    model = args.models.get(name, args.model)
    command = [sys.executable, str(Path(__file__).resolve()), str(model), str(args.data), "--limit",
               str(args.limit), "--child-batch-size", str(batch_size)]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, cwd=model)
    if result.returncode != 0:
        sys.exit(f"{name} (batch size {batch_size}) failed with exit status {result.returncode}:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="A trained pipeline directory.")
    parser.add_argument("data", type=Path, help="A .spacy file; its sentences, joined by spaces, are the texts.")
    parser.add_argument("--version", action="append", default=[], metavar="NAME=DIR",
                        help="A version of the code: a directory holding spacy_bilstm/ (repeatable; the first is the "
                             "reference of the ratios).")
    parser.add_argument("--model-of", action="append", default=[], metavar="NAME=MODEL_DIR",
                        help="Another pipeline for version NAME (say, spaCy's own ner beside ours).")
    parser.add_argument("--limit", type=int, default=1000, help="Sentences to tag (default 1000).")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 1000])
    parser.add_argument("--child-batch-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_batch_size is not None:
        print(json.dumps(measure(args.model.resolve(), args.data.resolve(), args.limit, args.child_batch_size)))
        return
    args.model, args.data = args.model.resolve(), args.data.resolve()
    args.models = {name: Path(model).resolve() for name, model in (spec.split("=", 1) for spec in args.model_of)}
    versions = dict(spec.split("=", 1) for spec in args.version)
    if len(versions) < 2:
        parser.error("give at least two --version NAME=DIR")
    names = list(versions)
    for batch_size in args.batch_sizes:
        rounds = []
        for _ in range(args.rounds):
            rounds.append({name: run_version(name, Path(versions[name]), args, batch_size) for name in names})
        reference = names[0]
        for name in names:
            same = all(r[name]["entities_hash"] == r[reference]["entities_hash"] for r in rounds)
            for figure in ("words_per_second", "words_per_cpu_second"):
                values = [r[name][figure] for r in rounds]
                ratios = [r[name][figure] / r[reference][figure] for r in rounds]
                print(f"batch {batch_size:>5} {name:>10} {figure:>20}: median {statistics.median(values):>9,.0f}; "
                      f"rounds {', '.join(f'{v:,.0f}' for v in values)}; ratio to {reference} "
                      f"{statistics.median(ratios):.3f} ({', '.join(f'{r:.3f}' for r in ratios)})")
            print(f"batch {batch_size:>5} {name:>10} same entities and scores as {reference}: {same}")


if __name__ == "__main__":
    sys.exit(main())
