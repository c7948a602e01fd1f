"""Study 16: which tokens `spacy-bilstm train` should train on for a pre-tokenised (column) corpus.

A column file gives its tokens but not the whitespace between them. spaCy's corpus reader can
then train on three readings of the same documents:

- `retokenised`: spaCy re-tokenises the text (the tokens joined by spaces) and aligns the gold
  entities to its tokens (`gold_preproc = false`, spaCy's default);
- `gold_sentences`: the file's own tokens, one example per sentence (`gold_preproc = true`);
- `gold_documents`: the file's own tokens, whole documents (`spacy-bilstm convert`'s default,
  which marks a column file's whitespace unknown).

`retokenised` trains on `convert --tokens spacy`, the other two on `convert`'s default.

Each reading is trained through `spacy_bilstm.training.train` (the function behind `spacy-bilstm
train`) for the same steps and seed, and model-best is scored on the dev set twice: on the gold
tokens, and on the dev text tokenised by spaCy, which is what a user's raw text meets.

    python -m benchmarks.tokenisation --corpora conll2003 wnut17 conll2002-es --seeds 0
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .datasets import corpus_lang, prepare_corpus, prepare_vectors
from .fingerprints import config_uses_vectors
from .overrides import GOLD_PREPROC, unlisted_overrides
from .records import DEFAULT_SHARED, DEFAULT_WORK, REPO, RESULTS, BenchmarkError, study_path, write_study

STUDY = "tokenisation"
READINGS = ("retokenised", "gold_sentences", "gold_documents")
# The shipped config each corpus trains (GloVe where the config reads static vectors).
CONFIGS = {"conll2003": "bilstm_crf_vectors", "wnut17": "bilstm_crf_vectors", "conll2002-es": "bilstm_crf",
           "wikiann-en": "bilstm_crf"}
# `spacy-bilstm convert --tokens` of each reading; gold_sentences adds gold_preproc to the gold tokens.
CONVERT_TOKENS = {"retokenised": "spacy", "gold_sentences": "gold", "gold_documents": "gold"}


def dev_scores(model_dir: Path, dev_path: Path) -> Dict[str, float]:
    """Entity P/R/F on the dev set's gold tokens and on its text as spaCy tokenises it."""
    import spacy
    from spacy.tokens import Doc, DocBin
    from spacy.training import Example

    nlp = spacy.load(model_dir)
    references = list(DocBin().from_disk(dev_path).get_docs(nlp.vocab))
    readings = {
        "gold_tokens": [Example(Doc(nlp.vocab, words=[t.text for t in ref], spaces=[bool(t.whitespace_) for t in ref]),
                                ref) for ref in references],
        "spacy_tokens": [Example(nlp.make_doc(ref.text), ref) for ref in references],
    }
    scores = {}
    for name, examples in readings.items():
        result = nlp.evaluate(examples)
        scores[f"{name}_f1"] = round(100 * result["ents_f"], 2)
        scores[f"{name}_p"] = round(100 * result["ents_p"], 2)
        scores[f"{name}_r"] = round(100 * result["ents_r"], 2)
    return scores


def run_one(args, corpus: str, reading: str, seed: int, vectors: Optional[Path]) -> Dict[str, Any]:
    from spacy_bilstm.training import train

    config = CONFIGS[corpus]
    config_path = REPO / "configs" / f"{config}.cfg"
    data = prepare_corpus(args.shared, args.work, corpus, tokens=CONVERT_TOKENS[reading])
    # Scored on the gold conversion: its tokens are the gold ones, and its text is the same.
    dev_path = prepare_corpus(args.shared, args.work, corpus)["dev"]
    overrides = {"training.max_steps": args.steps, "training.eval_frequency": args.eval_frequency,
                 "nlp.lang": corpus_lang(corpus)}
    if reading == "gold_sentences":
        overrides.update(GOLD_PREPROC)
    unlisted = unlisted_overrides(STUDY, overrides)
    if unlisted:
        raise BenchmarkError(f"overrides not listed for {STUDY} in benchmarks/overrides.py: {', '.join(unlisted)}")
    run_dir = args.work / "runs" / STUDY / corpus / reading / f"seed{seed}"
    start = time.perf_counter()
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with (run_dir.parent / f"seed{seed}.log").open("w", encoding="utf8") as log_file:
        train(config_path, run_dir, train_path=data["train"], dev_path=data["dev"],
              vectors=vectors if config_uses_vectors(config_path) else None, seed=seed, overrides=overrides,
              log=lambda text: log_file.write(text + "\n"))
    minutes = (time.perf_counter() - start) / 60
    run = {"corpus": corpus, "reading": reading, "seed": seed, "steps": args.steps, "config": config,
           "overrides": {k: v for k, v in overrides.items() if k.startswith("corpora.")},
           "train_minutes": round(minutes, 2)}
    run.update(dev_scores(run_dir / "model-best", dev_path))
    return run


def summary(runs: Sequence[Dict[str, Any]]) -> str:
    import statistics

    lines = ["| corpus | reading | seeds | dev F1, gold tokens | dev F1, spaCy's tokens |", "|---|---|---|---:|---:|"]
    for corpus in CONFIGS:
        for reading in READINGS:
            rows = [r for r in runs if r["corpus"] == corpus and r["reading"] == reading]
            if not rows:
                continue
            cells = []
            for key in ("gold_tokens_f1", "spacy_tokens_f1"):
                values = [r[key] for r in rows]
                mean = statistics.mean(values)
                cells.append(f"{mean:.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 else f"{mean:.2f}")
            lines.append(f"| {corpus} | {reading} | {len(rows)} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def _what_was_run(arguments: Sequence[str]) -> List[str]:
    kept, skip = [], False
    for argument in arguments:
        if skip:
            skip = False
        elif argument in ("--shared", "--work", "--results"):
            skip = True
        elif not argument.startswith(("--shared=", "--work=", "--results=")):
            kept.append(argument)
    return kept


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=["conll2003", "wnut17", "conll2002-es"], choices=sorted(CONFIGS))
    parser.add_argument("--readings", nargs="+", default=list(READINGS), choices=READINGS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--steps", type=int, default=1500, help="training.max_steps of every run (1500).")
    parser.add_argument("--eval-frequency", type=int, default=250, help="training.eval_frequency (250).")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK,
                        help="Cache and scratch folder: converted corpora, vectors, models under runs/tokenisation.")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="Results folder, for <results>/tokenisation.json (default benchmarks/results).")
    args = parser.parse_args(argv)
    for name in ("SPACY_BILSTM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    results_file = study_path(args.results, STUDY)
    stored = json.loads(results_file.read_text()) if results_file.exists() else {}
    runs: List[Dict[str, Any]] = stored.get("runs", [])
    # The study's own options only: --shared, --work and --results are where, not what.
    command = "python -m benchmarks.tokenisation " + " ".join(_what_was_run(sys.argv[1:]))
    commands = [c for c in stored.get("commands", []) if c != command] + [command]
    vectors = (prepare_vectors(args.shared, args.work)
               if any(config_uses_vectors(REPO / "configs" / f"{CONFIGS[c]}.cfg") for c in args.corpora) else None)
    for seed in args.seeds:
        for corpus in args.corpora:
            for reading in args.readings:
                key = (corpus, reading, seed, args.steps)
                if any((r["corpus"], r["reading"], r["seed"], r["steps"]) == key for r in runs):
                    continue
                run = run_one(args, corpus, reading, seed, vectors)
                runs.append(run)
                print(json.dumps(run), file=sys.stderr, flush=True)
                write_study(args.results, STUDY, runs, commands=commands)
    print(summary(runs))


if __name__ == "__main__":
    main()
