"""Study (issue 30): choosing what to annotate. Does `spacy-bilstm select --strategy uncertainty`
reach the F1 of randomly chosen training sentences with fewer annotated sentences?

Protocol, per corpus and seed: a seeded random sample of --initial training sentences (500) is
"annotated" (its gold tags are used) and a model is trained on it; then each of --rounds rounds
(6) writes the rest of the training sentences (the pool) as JSONL, lets the previous round's
model choose --round-size (500) of them with `spacy_bilstm.selection.select` (the strategies
`uncertainty`, `entity` and `random`: select's own random sample), adds their gold versions to
the training set and trains a new model from scratch with the same step budget
(`training.max_steps`; model-best is chosen on the full dev set every `training.eval_frequency`
steps). Every model goes through `spacy_bilstm.training.train` (what `spacy-bilstm train` runs)
and is tested with `spacy_bilstm.evaluation.evaluate` on the test set (entity micro F1, exact
span and type). The initial model is the same for the three strategies and trained once.

Corpora: CoNLL-2002 Spanish with configs/bilstm_crf.cfg; CoNLL-2003 English with
configs/bilstm_crf_vectors.cfg and GloVe 6B 50d (converted once by spacy_bilstm.vectors into
the work folder and reused by every run). One Doc per gold sentence; empty ones are dropped.

Results: ONE JSON (benchmarks/results/choosing.json), rewritten after every run, with
the learning curves (choosing.png) beside it; the table is printed at the end. The study resumes
where it stopped: a round whose result is recorded with the same settings is not trained again,
and the sentences each round chose are kept in the work folder (benchmarks/work/choosing/).

    python -m benchmarks.choosing --corpora conll2002-es --seeds 0 --steps 250
    python -m benchmarks.choosing --smoke        # 60/20/20 sentences, 2 rounds of 20, 4 steps
"""
import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .choosing_report import INITIAL, STRATEGIES, floor_check, markdown_table, plot
from .datasets import prepare_vectors
from .records import DEFAULT_SHARED, REPO, RESULTS, BenchmarkError, command_line, recorded_path

DEFAULT_WORK = REPO / "benchmarks" / "work" / "choosing"
DEFAULT_RESULTS = RESULTS
STUDY = "choosing"
CORPORA: Dict[str, Dict[str, Any]] = {
    "conll2002-es": {
        "config": "bilstm_crf", "lang": "es", "vectors": False,
        "files": {"train": "corpora/conll2002/esp.train", "dev": "corpora/conll2002/esp.testa", "test": "corpora/conll2002/esp.testb"},
    },
    "conll2003": {
        "config": "bilstm_crf_vectors", "lang": "en", "vectors": True,  # GloVe 6B 50d (datasets.GLOVE)
        "files": {"train": "corpora/conll2003/train.txt", "dev": "corpora/conll2003/valid.txt", "test": "corpora/conll2003/test.txt"},
    },
}
SMOKE_SENTENCES = {"train": 60, "dev": 20, "test": 20}
SMOKE_SIZES = {"initial": 20, "round_size": 20, "rounds": 2, "steps": 4, "eval_frequency": 2}


# --------------------------------------------------------------------------- the pool


def initial_ids(n_sentences: int, size: int, seed: int) -> List[int]:
    """The sentences annotated before any selection: a seeded uniform sample, in corpus order."""
    if size > n_sentences:
        raise BenchmarkError(f"--initial {size} is more than the {n_sentences} training sentences")
    return sorted(random.Random(seed).sample(range(n_sentences), size))


def pool_ids(n_sentences: int, labelled: Iterable[int]) -> List[int]:
    """The sentences not annotated yet, in corpus order: what a round chooses from."""
    taken = set(labelled)
    return [i for i in range(n_sentences) if i not in taken]


def write_pool(texts: Sequence[str], ids: Sequence[int], path: Path) -> None:
    """The pool as `select` reads it: one JSON line per sentence, {"id": its index, "text": ...}."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf8") as file:
        for i in ids:
            file.write(json.dumps({"id": str(i), "text": texts[i]}, ensure_ascii=False) + "\n")


def chosen_ids(selection_path: Path, pool: Sequence[int]) -> List[int]:
    """The sentence indices of select's tasks (their meta "id"), best first. An id that is not in
    the pool would mean that the bookkeeping is broken: it raises rather than count a sentence twice."""
    in_pool = set(pool)
    ids: List[int] = []
    with selection_path.open(encoding="utf8") as file:
        for line_number, line in enumerate(file, 1):
            if not line.strip():
                continue
            sentence = int(json.loads(line)["meta"]["id"])
            if sentence not in in_pool or sentence in ids:
                raise BenchmarkError(f"{selection_path}, line {line_number}: sentence {sentence} is not in the pool "
                                     "or was chosen twice; delete the round's folder and run again")
            ids.append(sentence)
    return ids


# --------------------------------------------------------------------------- data


def sentence_docs(path: Path, lang: str, limit: Optional[int] = None) -> list:
    """One Doc per gold sentence of a CoNLL file (empty ones dropped), with its entities."""
    from spacy_bilstm.corpora import CorpusError, read_corpus

    try:
        result = read_corpus(path, lang=lang, repair=True, n_sents=1)
    except CorpusError as error:
        raise BenchmarkError(f"could not read {path}: {error}") from error
    docs = []
    for doc in result.docs:
        for sentence in (doc.sents if doc.has_annotation("SENT_START") else [doc[:]]):
            if len(sentence):
                docs.append(sentence.as_doc())
        if limit is not None and len(docs) >= limit:
            return docs[:limit]
    return docs


def write_docbin(docs: Sequence, path: Path) -> Path:
    from spacy.tokens import DocBin

    path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=False).to_disk(path)
    return path


def shared_file(shared: Path, relative: str) -> Path:
    path = shared / relative
    if not path.is_file():
        raise BenchmarkError(f"{path} not found; pass --shared with the folder that holds corpora/ and vectors/")
    return path


def prepared_vectors(shared: Path, work: Path, corpus: str, smoke: bool) -> Optional[Path]:
    """The corpus's vectors converted once, as every study converts them (datasets.prepare_vectors,
    the function `train --vectors` runs); every run of the study loads that directory."""
    if not CORPORA[corpus]["vectors"]:
        return None
    return prepare_vectors(shared, work, smoke=smoke)


# --------------------------------------------------------------------------- runs


def run_key(run: Dict[str, Any]) -> Tuple:
    return run["corpus"], run["seed"], run["strategy"], run["round"], run["settings"]


def train_and_test(args, corpus: str, seed: int, docs: Sequence, data: Dict[str, Path], vectors: Optional[Path],
                   run_dir: Path) -> Dict[str, Any]:
    """Train on `docs` through spacy_bilstm.training.train and test model-best: F1 and timings."""
    from spacy_bilstm.evaluation import evaluate
    from spacy_bilstm.training import train

    train_path = write_docbin(docs, run_dir / "train.spacy")
    start = time.perf_counter()
    with (run_dir / "train.log").open("w", encoding="utf8") as log_file:
        output = train(
            REPO / "configs" / f"{CORPORA[corpus]['config']}.cfg", run_dir / "model", train_path=train_path,
            dev_path=data["dev"], vectors=vectors, seed=seed,
            overrides={"training.max_steps": args.steps, "training.eval_frequency": args.eval_frequency,
                       "nlp.lang": CORPORA[corpus]["lang"]},
            log=lambda text: log_file.write(text + "\n"),
        )
    train_seconds = time.perf_counter() - start
    result = evaluate(output / "model-best", data["test"])
    return {
        "f1": round(100 * result.f_score, 2), "precision": round(100 * result.precision, 2),
        "recall": round(100 * result.recall, 2), "train_seconds": round(train_seconds, 1),
        "test_seconds": round(result.seconds, 1),
    }


def choose(args, texts: Sequence[str], labelled: Sequence[int], model_dir: Path, strategy: str, seed: int,
           round_dir: Path) -> Tuple[List[int], float]:
    """The sentences `strategy` adds in a round, chosen by `select` with the previous model, and
    the seconds it took. Kept in the round's folder, so that a resumed study chooses nothing twice."""
    from spacy_bilstm.selection import select

    kept = round_dir / "chosen.json"
    if kept.exists():
        stored = json.loads(kept.read_text())
        return stored["ids"], stored["seconds"]
    pool = pool_ids(len(texts), labelled)
    write_pool(texts, pool, round_dir / "pool.jsonl")
    selection = round_dir / "selected.jsonl"
    start = time.perf_counter()
    # A different random draw per round: the seed alone would favour the same pool positions.
    select(model_dir, round_dir / "pool.jsonl", selection, n=args.round_size, strategy=strategy,
           seed=seed * 1000 + int(round_dir.name.removeprefix("round")), overwrite=True, quiet=True)
    seconds = round(time.perf_counter() - start, 1)
    ids = chosen_ids(selection, pool)
    kept.write_text(json.dumps({"ids": ids, "seconds": seconds}))
    (round_dir / "pool.jsonl").unlink()
    return ids, seconds


def run_corpus(args, corpus: str, seed: int, runs: List[Dict[str, Any]], settings: str) -> None:
    limits = SMOKE_SENTENCES if args.smoke else {split: None for split in SMOKE_SENTENCES}
    lang = CORPORA[corpus]["lang"]
    split_docs = {split: sentence_docs(shared_file(args.shared, name), lang, limits[split])
                  for split, name in CORPORA[corpus]["files"].items()}
    corpus_dir = args.work / corpus
    data = {split: write_docbin(split_docs[split], corpus_dir / f"{split}.spacy") for split in ("dev", "test")}
    train_docs = split_docs["train"]
    texts = [doc.text for doc in train_docs]
    vectors = prepared_vectors(args.shared, args.work, corpus, args.smoke)
    done = {run_key(run) for run in runs}
    seed_dir = corpus_dir / f"seed{seed}"

    def record(strategy: str, round_number: int, labelled: Sequence[int], run_dir: Path,
               extra: Dict[str, Any]) -> None:
        run = {"corpus": corpus, "seed": seed, "strategy": strategy, "round": round_number,
               "sentences": len(labelled), "settings": settings, "config": CORPORA[corpus]["config"], **extra}
        if run_key(run) in done:
            return
        print(f"{corpus} seed {seed} {strategy} round {round_number}: training on {len(labelled)} sentences",
              file=sys.stderr, flush=True)
        run.update(train_and_test(args, corpus, seed, [train_docs[i] for i in labelled], data, vectors, run_dir))
        print(f"  F1 {run['f1']:.2f} ({run['train_seconds']:.0f}s training)", file=sys.stderr, flush=True)
        runs.append(run)
        done.add(run_key(run))
        write_results(args, runs)

    initial = initial_ids(len(train_docs), args.initial, seed)
    record(INITIAL, 0, initial, seed_dir / "round0", {})
    for strategy in args.strategies:
        labelled = list(initial)
        model_dir = seed_dir / "round0" / "model" / "model-best"
        for round_number in range(1, args.rounds + 1):
            round_dir = seed_dir / strategy / f"round{round_number}"
            round_dir.mkdir(parents=True, exist_ok=True)
            added, select_seconds = choose(args, texts, labelled, model_dir, strategy, seed, round_dir)
            labelled += added
            record(strategy, round_number, labelled, round_dir,
                   {"select_seconds": select_seconds, "chosen_entities": sum(len(train_docs[i].ents) for i in added),
                    "chosen_tokens": sum(len(train_docs[i]) for i in added)})
            model_dir = round_dir / "model" / "model-best"


# --------------------------------------------------------------------------- results


def write_results(args, runs: List[Dict[str, Any]]) -> str:
    import platform

    from spacy_bilstm.about import __version__

    args.results.mkdir(parents=True, exist_ok=True)
    pairs = sorted({(run["corpus"], run["seed"]) for run in runs})
    data = {
        "study": STUDY,
        "commands": args.commands,
        "protocol": {"initial": args.initial, "round_size": args.round_size, "rounds": args.rounds,
                     "max_steps": args.steps, "eval_frequency": args.eval_frequency, "threads": args.threads,
                     "smoke": args.smoke},
        "machine": {"python": platform.python_version(), "spacy_bilstm": __version__, "cpus": os.cpu_count()},
        "floor": {f"{corpus} seed {seed}": floor_check(runs, corpus, seed, args.rounds) for corpus, seed in pairs},
        "runs": runs,
    }
    partial = args.results / f"{STUDY}.json.partial"
    partial.write_text(json.dumps(data, indent=1) + "\n")
    partial.replace(args.results / f"{STUDY}.json")
    plot(runs, pairs, args.results / f"{STUDY}.png")
    return markdown_table(runs, pairs, args.rounds, args.commands)


# --------------------------------------------------------------------------- main


def parse_arguments(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpora", nargs="+", default=["conll2002-es"], choices=sorted(CORPORA))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--initial", type=int, default=500, help="Sentences annotated before round 1 (500).")
    parser.add_argument("--round-size", type=int, default=500, help="Sentences each round chooses (500).")
    parser.add_argument("--rounds", type=int, default=6, help="Rounds of selection (6).")
    parser.add_argument("--steps", type=int, default=250, help="training.max_steps of every run (250).")
    parser.add_argument("--eval-frequency", type=int, default=None,
                        help="training.eval_frequency: dev evaluations for model-best (default steps / 2).")
    parser.add_argument("--threads", type=int, default=1, help="Torch threads (1: the machine is shared).")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="Folder with corpora/ and vectors/.")
    parser.add_argument("--work", type=Path, default=None, help=f"Models and chosen sentences ({DEFAULT_WORK}).")
    parser.add_argument("--results", type=Path, default=None, help=f"Results folder ({DEFAULT_RESULTS}).")
    parser.add_argument("--smoke", action="store_true",
                        help="60/20/20 sentences, 2 rounds of 20, 4 steps; results under <work>/smoke/results.")
    args = parser.parse_args(argv)
    if args.smoke:
        args.initial, args.round_size, args.rounds = SMOKE_SIZES["initial"], SMOKE_SIZES["round_size"], SMOKE_SIZES["rounds"]
        args.steps, args.eval_frequency = SMOKE_SIZES["steps"], SMOKE_SIZES["eval_frequency"]
    args.work = (args.work or DEFAULT_WORK) / ("smoke" if args.smoke else "")
    args.results = args.results or (args.work / "results" if args.smoke else DEFAULT_RESULTS)
    args.eval_frequency = args.eval_frequency or max(1, args.steps // 2)
    for name in ("initial", "round_size", "rounds", "steps", "threads"):
        if getattr(args, name) < 1:
            raise BenchmarkError(f"--{name.replace('_', '-')} must be 1 or more, not {getattr(args, name)}")
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_arguments(argv)
    # Before torch is imported: one thread each, as the study runs beside other work.
    for name in ("SPACY_BILSTM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    settings = (f"initial={args.initial},round={args.round_size},steps={args.steps},"
                f"eval={args.eval_frequency},smoke={args.smoke}")
    results_file = args.results / f"{STUDY}.json"
    stored = json.loads(results_file.read_text()) if results_file.exists() else {}
    runs = stored.get("runs", [])
    # Every command that added runs to the file (the corpora may be run one after another).
    command = command_line()
    args.commands = [c for c in stored.get("commands", [stored.get("command")]) if c and c != command] + [command]
    for corpus in args.corpora:
        for seed in args.seeds:
            run_corpus(args, corpus, seed, runs, settings)
    print(write_results(args, runs))
    print(f"Results: {recorded_path(results_file, args.shared)}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
