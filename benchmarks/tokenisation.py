"""Study 16: which tokens `spacy-bilstm train` should train on for a pre-tokenised (column) corpus.

A column file gives its tokens but not the whitespace between them. spaCy's corpus reader can
then train on three readings of the same documents:

- `retokenised`: spaCy re-tokenises the text (the tokens joined by spaces) and aligns the gold
  entities to its tokens (`gold_preproc = false`, spaCy's default);
- `gold_sentences`: the file's own tokens, one example per sentence (`gold_preproc = true`);
- `gold_documents`: the file's own tokens, whole documents (what spaCy's reader does for a
  document whose whitespace is unknown).

Each reading is trained through `spacy_bilstm.training.train` (the function behind `spacy-bilstm
train`) for the same steps and seed, and model-best is scored on the dev set twice: on the gold
tokens, and on the dev text tokenised by spaCy, which is what a user's raw text meets.

    python -m benchmarks.tokenisation --corpora conll2003 wnut17 conll2002-es --seeds 0
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .overrides import GOLD_PREPROC, unlisted_overrides
from .records import DEFAULT_SHARED, DEFAULT_WORK, REPO, RESULTS, BenchmarkError, study_path

STUDY = "tokenisation"
READINGS = ("retokenised", "gold_sentences", "gold_documents")
CORPORA = {
    "conll2003": {"dir": "conll2003", "train": "train.txt", "dev": "valid.txt", "lang": "en",
                  "config": "bilstm_crf_vectors", "vectors": True, "repair": False},
    "wnut17": {"dir": "wnut17", "train": "train.conll", "dev": "dev.conll", "lang": "en",
               "config": "bilstm_crf_vectors", "vectors": True, "repair": True},
    "conll2002-es": {"dir": "conll2002", "train": "esp.train", "dev": "esp.testa", "lang": "es",
                     "config": "bilstm_crf", "vectors": False, "repair": True},
    "wikiann-en": {"dir": "wikiann-en", "train": "train.txt", "dev": "dev.txt", "lang": "en",
                   "config": "bilstm_crf", "vectors": False, "repair": False},
}
VECTORS = "vectors/glove.6B.50d.txt.gz"


def convert_split(shared: Path, work: Path, corpus: str, split: str) -> Path:
    """The split as a DocBin, converted once by `spacy-bilstm convert`'s function."""
    from spacy_bilstm.corpora.writers import convert

    spec = CORPORA[corpus]
    target = work / "corpora" / corpus / f"{split}.spacy"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        convert(shared / "corpora" / spec["dir"] / spec[split], target, to="spacy", lang=spec["lang"],
                repair=spec["repair"])
    return target


def with_unknown_spaces(source: Path, target: Path, lang: str) -> Path:
    """The same documents, marked as having unknown whitespace: spaCy's reader then keeps their
    tokens and does not split them into sentences."""
    import spacy
    from spacy.tokens import Doc, DocBin, Span

    if target.exists():
        return target
    vocab = spacy.blank(lang).vocab
    docs = []
    for doc in DocBin().from_disk(source).get_docs(vocab):
        unknown = Doc(vocab, words=[token.text for token in doc], spaces=None,
                      sent_starts=[bool(token.is_sent_start) for token in doc])
        unknown.ents = [Span(unknown, ent.start, ent.end, label=ent.label_) for ent in doc.ents]
        docs.append(unknown)
    DocBin(docs=docs).to_disk(target)
    return target


def converted_vectors(shared: Path, work: Path) -> Path:
    """GloVe converted once by the function `spacy-bilstm train` converts it with; the runs read
    the converted pipeline directory, which `train` uses as it is."""
    from spacy_bilstm.vectors import prepare_vectors

    return prepare_vectors(shared / VECTORS, work / "vectors", lang="en", log=lambda text: None)


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


def run_one(args, corpus: str, reading: str, seed: int) -> Dict[str, Any]:
    from spacy_bilstm.training import train

    spec = CORPORA[corpus]
    train_path = convert_split(args.shared, args.work, corpus, "train")
    dev_path = convert_split(args.shared, args.work, corpus, "dev")
    if reading == "gold_documents":
        train_path = with_unknown_spaces(train_path, train_path.with_name("train.unknown_spaces.spacy"), spec["lang"])
        dev_training = with_unknown_spaces(dev_path, dev_path.with_name("dev.unknown_spaces.spacy"), spec["lang"])
    else:
        dev_training = dev_path
    overrides = {"training.max_steps": args.steps, "training.eval_frequency": args.eval_frequency,
                 "nlp.lang": spec["lang"]}
    if reading == "gold_sentences":
        overrides.update(GOLD_PREPROC)
    unlisted = unlisted_overrides(STUDY, overrides)
    if unlisted:
        raise BenchmarkError(f"overrides not listed for {STUDY} in benchmarks/overrides.py: {', '.join(unlisted)}")
    run_dir = args.work / corpus / reading / f"seed{seed}"
    start = time.perf_counter()
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with (run_dir.parent / f"seed{seed}.log").open("w", encoding="utf8") as log_file:
        train(REPO / "configs" / f"{spec['config']}.cfg", run_dir, train_path=train_path, dev_path=dev_training,
              vectors=converted_vectors(args.shared, args.work) if spec["vectors"] else None, seed=seed, overrides=overrides,
              log=lambda text: log_file.write(text + "\n"))
    minutes = (time.perf_counter() - start) / 60
    run = {"corpus": corpus, "reading": reading, "seed": seed, "steps": args.steps, "config": spec["config"],
           "overrides": {k: v for k, v in overrides.items() if k.startswith("corpora.")},
           "train_minutes": round(minutes, 2)}
    run.update(dev_scores(run_dir / "model-best", dev_path))
    return run


def summary(runs: Sequence[Dict[str, Any]]) -> str:
    import statistics

    lines = ["| corpus | reading | seeds | dev F1, gold tokens | dev F1, spaCy's tokens |", "|---|---|---|---:|---:|"]
    for corpus in CORPORA:
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
    parser.add_argument("--corpora", nargs="+", default=["conll2003", "wnut17", "conll2002-es"], choices=sorted(CORPORA))
    parser.add_argument("--readings", nargs="+", default=list(READINGS), choices=READINGS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--steps", type=int, default=1500, help="training.max_steps of every run (1500).")
    parser.add_argument("--eval-frequency", type=int, default=250, help="training.eval_frequency (250).")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK / "runs" / STUDY)
    parser.add_argument("--results", type=Path, default=study_path(RESULTS, STUDY),
                        help="The result file (default benchmarks/results/tokenisation.json).")
    args = parser.parse_args(argv)
    for name in ("SPACY_BILSTM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    stored = json.loads(args.results.read_text()) if args.results.exists() else {}
    runs: List[Dict[str, Any]] = stored.get("runs", [])
    # The study's own options only: --shared, --work and --results are where, not what.
    command = "python -m benchmarks.tokenisation " + " ".join(_what_was_run(sys.argv[1:]))
    commands = [c for c in stored.get("commands", []) if c != command] + [command]
    for seed in args.seeds:
        for corpus in args.corpora:
            for reading in args.readings:
                key = (corpus, reading, seed, args.steps)
                if any((r["corpus"], r["reading"], r["seed"], r["steps"]) == key for r in runs):
                    continue
                run = run_one(args, corpus, reading, seed)
                runs.append(run)
                print(json.dumps(run), file=sys.stderr, flush=True)
                args.results.parent.mkdir(parents=True, exist_ok=True)
                args.results.write_text(json.dumps(
                    {"study": STUDY, "commands": commands, "machine": {"cores": os.cpu_count(),
                     "platform": platform.platform(terse=True), "python": platform.python_version()},
                     "runs": runs}, indent=1) + "\n")
    print(summary(runs))


if __name__ == "__main__":
    main()
