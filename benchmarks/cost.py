"""Study 3: speed and cost of trained pipelines, ours and spaCy's side by side in one run.

For each model (a trained pipeline directory), in subprocesses of its own so that memory
is its own:

  inference   nlp.pipe over the CoNLL-2003 test sentences (as Docs with the corpus's tokens,
              so tokenisation is not timed), repeated to about --words words, at batch size 1
              and at batch size 1000, each in a fresh process, after a short warm-up;
              words/second over the whole workload and over its first pass over the test
              sentences (to the end of the batch that completes it): text met for the first
              time, where a cache of words seen before (our char CNN's) fills as words recur,
              as it would on new text, rather than starting full.
              --rounds rounds, the models taking turns within each round, so that a machine
              whose speed drifts slows every model alike; the tables give the median round
              and the ratios round by round. Peak memory: the processes' largest max RSS
              (ru_maxrss from wait4), pipeline loading included.
  training    nlp.update on CoNLL-2003 train sentences in batches of about 1000 words, the
              pipeline's own optimizer, dropout, frozen and annotating components (from its
              config; a frozen transformer runs on every batch, as in a first epoch), about
              --train-words words after one warm-up batch; words/second and the process's max RSS.
  disk        size of the model directory.
  time to best dev F1, training words/second during the real run: from the training run's
              summary.json next to the model (written by accuracy.py / ablations.py), if any.

Models default to seed 0 of each system trained on CoNLL-2003 by accuracy.py; pass
--model NAME=DIR (repeatable) to choose others. All models are measured in the same
invocation, one after another, on the same workload. Results: benchmarks/results/cost.json
(skipped when it already holds the same models, by their config.cfg and meta.json, and
workload; --force reruns); the table is printed.

    python -m benchmarks.cost
    python -m benchmarks.cost --model ours=training/conll/model-best --model spacy=training/spacy/model-best
    python -m benchmarks.cost --smoke        # models from accuracy.py --smoke
"""
import argparse
import functools
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from .arguments import add_common_arguments, child_environment, resolve_threads, results_dir, run_main, smoke_dir
from .datasets import prepare_corpus
from .records import REPO, BenchmarkError, command_line, find_run, machine_info, now, resolved_path, write_json
from .tables import machine_header, markdown_table

CORPUS = "conll2003"
BATCH_SIZES = (1, 1000)
TRAIN_BATCH_WORDS = 1000
DEFAULT_WORDS = 200_000
DEFAULT_TRAIN_WORDS = 50_000
SMOKE_WORDS = 2_000
SMOKE_TRAIN_WORDS = 2_000
WARMUP_DOCS = 20
STUDY = "cost"
DEFAULT_ROUNDS = 3
DEFAULT_SYSTEMS = ["bilstm_crf_vectors", "spacy_ner_efficiency", "spacy_ner_accuracy"]


# --------------------------------------------------------------------------- inside the subprocesses


def sentences_of(path: Path) -> List[List[str]]:
    """The token lists of a DocBin's sentences."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    return [[token.text for token in sent] for doc in DocBin().from_disk(path).get_docs(nlp.vocab)
            for sent in doc.sents]


def measure_inference(model: str, data_path: Path, target_words: int, batch_size: int) -> Dict[str, Any]:
    import spacy
    import spacy_bilstm  # noqa: F401
    from spacy.tokens import Doc

    start = time.perf_counter()
    nlp = spacy.load(model)
    load_seconds = time.perf_counter() - start
    sentences = sentences_of(data_path)
    workload: List[List[str]] = []
    words = 0
    while words < target_words:
        for sentence in sentences:
            workload.append(sentence)
            words += len(sentence)
            if words >= target_words:
                break
    # nlp.pipe hands docs back a batch at a time: the first pass ends with the batch that
    # completes it, and its words are those of every doc tagged by then.
    first_pass_docs = min(len(workload), -(-len(sentences) // batch_size) * batch_size)
    first_pass_words = sum(len(sentence) for sentence in workload[:first_pass_docs])
    for _ in nlp.pipe([Doc(nlp.vocab, words=w) for w in workload[:WARMUP_DOCS]], batch_size=batch_size):
        pass
    docs = [Doc(nlp.vocab, words=w) for w in workload]
    entities = 0
    first_pass_seconds = None
    start = time.perf_counter()
    for index, doc in enumerate(nlp.pipe(docs, batch_size=batch_size), start=1):
        entities += len(doc.ents)
        if index == first_pass_docs:
            first_pass_seconds = time.perf_counter() - start
    seconds = time.perf_counter() - start
    return {"load_seconds": round(load_seconds, 3), "words": words, "docs": len(workload), "batch_size": batch_size,
            "seconds": round(seconds, 3), "words_per_second": round(words / seconds, 1), "entities": entities,
            "first_pass": {"docs": first_pass_docs, "words": first_pass_words, "seconds": round(first_pass_seconds, 3),
                           "words_per_second": round(first_pass_words / first_pass_seconds, 1)}}


def measure_training(model: str, data_path: Path, target_words: int) -> Dict[str, Any]:
    import spacy
    import spacy_bilstm  # noqa: F401
    from spacy.training import Corpus
    from spacy.training.batchers import minibatch_by_words

    nlp = spacy.load(model)
    examples = list(Corpus(data_path, gold_preproc=True)(nlp))
    if not examples:
        raise BenchmarkError(f"{data_path} has no training examples")
    optimizer = nlp.create_optimizer()
    dropout = nlp.config["training"]["dropout"]
    # As spaCy's training loop updates: frozen components (a frozen transformer) are not
    # trained, and annotating ones run on each batch first.
    update = functools.partial(nlp.update, sgd=optimizer, drop=dropout,
                               exclude=nlp.config["training"]["frozen_components"],
                               annotates=nlp.config["training"]["annotating_components"])
    batches = list(minibatch_by_words(examples, size=TRAIN_BATCH_WORDS, tolerance=0.2, discard_oversize=False))
    warmup, batches = batches[0], batches[1:] or batches
    update(warmup)
    words = updates = 0
    seconds = 0.0
    while words < target_words:
        for batch in batches:
            start = time.perf_counter()
            update(batch)
            seconds += time.perf_counter() - start
            words += sum(len(eg.reference) for eg in batch)
            updates += 1
            if words >= target_words:
                break
    return {"words": words, "updates": updates, "seconds": round(seconds, 3),
            "words_per_second": round(words / seconds, 1), "dropout": dropout}


# --------------------------------------------------------------------------- the parent


def run_measurement(kind: str, model: Path, data_path: Path, words: int, threads: Optional[int],
                    work_dir: Path, batch_size: Optional[int] = None) -> Dict[str, Any]:
    """Run one measurement in a subprocess; add its peak memory (max RSS from wait4)."""
    output = work_dir / f"{kind}.json"
    output.unlink(missing_ok=True)
    # As a module from the repository, like every study: the package's relative imports need it.
    command = [sys.executable, "-m", "benchmarks.cost", "--measure", kind, "--model-for-run", str(model),
               "--data-for-run", str(data_path), "--words", str(words), "--result-for-run", str(output)]
    if batch_size is not None:
        command += ["--batch-size-for-run", str(batch_size)]
    child = subprocess.Popen(command, env=child_environment(threads), cwd=REPO)
    _, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or not output.exists():
        raise BenchmarkError(f"{kind} measurement of {model} failed with exit code {code}; see its output above")
    result = json.loads(output.read_text())
    # ru_maxrss is in KiB on Linux: the largest resident set of the measuring process.
    result["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
    return result


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def default_models(results_root: Path) -> Dict[str, Path]:
    models = {}
    for system in DEFAULT_SYSTEMS:
        run = find_run(results_root, "accuracy", f"{CORPUS}__{system}__seed0")
        if run is not None:
            models[system] = resolved_path(run["model_dir"])
    return models


def parse_models(specs: List[str]) -> Dict[str, Path]:
    models = {}
    for spec in specs:
        name, sep, directory = spec.partition("=")
        if not sep or not name or not directory:
            raise BenchmarkError(f"--model {spec!r}: write NAME=DIR, e.g. --model ours=training/model-best")
        models[name] = Path(directory)
    return models


def training_run_summary(model: Path) -> Dict[str, Any]:
    summary_path = model.parent / "summary.json"
    if not summary_path.exists():
        return {}
    training = json.loads(summary_path.read_text())["training"]
    return {"seconds_to_best_dev": training["seconds_to_best_dev"], "best_dev_f": training["best_dev"]["ents_f"],
            "train_words_per_second_in_run": training["train_words_per_second"], "max_minutes": training["max_minutes"]}


def median(values: List[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def inference_summary(rounds: List[Dict[int, Dict[str, Any]]]) -> Dict[str, Any]:
    """One model's inference rounds ({batch size: measurement} each) -> the medians, with
    every round kept."""
    summary: Dict[str, Any] = {"rounds": len(rounds), "words": rounds[0][BATCH_SIZES[0]]["words"],
                               "docs": rounds[0][BATCH_SIZES[0]]["docs"],
                               "load_seconds": median([r[size]["load_seconds"] for r in rounds for size in BATCH_SIZES]),
                               "peak_rss_mib": max(r[size]["peak_rss_mib"] for r in rounds for size in BATCH_SIZES)}
    for size in BATCH_SIZES:
        per_round = [r[size] for r in rounds]
        summary[f"batch{size}"] = {
            "words_per_second": median([m["words_per_second"] for m in per_round]),
            "first_pass_words_per_second": median([m["first_pass"]["words_per_second"] for m in per_round]),
            "entities": per_round[0]["entities"],
            "each_round": per_round,
        }
    return summary


def paired_ratios(ours: Dict[str, Any], theirs: Dict[str, Any], size: int, measure: str) -> List[float]:
    """ours / theirs round by round (the rounds ran side by side)."""
    def value(measurement: Dict[str, Any]) -> float:
        return measurement["first_pass"]["words_per_second"] if measure == "first_pass" else \
            measurement["words_per_second"]
    return [value(a) / value(b) for a, b in zip(ours[f"batch{size}"]["each_round"], theirs[f"batch{size}"]["each_round"])]


COLUMNS = ["model", "words/s batch 1", "batch 1, first pass", "words/s batch 1000", "batch 1000, first pass",
           "inference peak RSS (MiB)", "training words/s", "training peak RSS (MiB)", "model size (MiB)",
           "min to best dev F1", "load s"]


def table(data: Dict[str, Any]) -> str:
    rows = []
    for name, result in data["models"].items():
        run = result.get("training_run") or {}
        rows.append({
            "model": name,
            "words/s batch 1": round(result["inference"]["batch1"]["words_per_second"]),
            "batch 1, first pass": round(result["inference"]["batch1"]["first_pass_words_per_second"]),
            "words/s batch 1000": round(result["inference"]["batch1000"]["words_per_second"]),
            "batch 1000, first pass": round(result["inference"]["batch1000"]["first_pass_words_per_second"]),
            "inference peak RSS (MiB)": round(result["inference"]["peak_rss_mib"]),
            "training words/s": round(result["training"]["words_per_second"]),
            "training peak RSS (MiB)": round(result["training"]["peak_rss_mib"]),
            "model size (MiB)": round(result["model_size_bytes"] / 2**20, 1),
            "min to best dev F1": (round(run["seconds_to_best_dev"] / 60, 1) if "seconds_to_best_dev" in run else None),
            "load s": result["inference"]["load_seconds"],
        })
    header = (f"Measured {data['date']} in one run ({data['command']}); workload {data['workload']['words']:,} "
              f"inference words (the median of {data['workload']['rounds']} rounds; first pass: the first "
              f"{next(iter(data['models'].values()))['inference']['batch1']['each_round'][0]['first_pass']['words']:,} "
              f"of them at batch size 1, each sentence met for the first time), {data['workload']['train_words']:,} training "
              f"words; threads: "
              f"{data['threads'] or 'library default'}.\n\n" + machine_header([data]))
    notes = []
    spacy_models = [name for name in data["models"] if name.startswith("spacy")]
    for name in data["models"]:
        if name in spacy_models:
            continue
        for reference in spacy_models:
            ratios = []
            for size in BATCH_SIZES:
                ours, theirs = data["models"][name]["inference"], data["models"][reference]["inference"]
                whole = paired_ratios(ours, theirs, size, "whole")
                first = paired_ratios(ours, theirs, size, "first_pass")
                ratios.append(f"batch {size}: {median(whole):.2f}x (rounds {_spread(whole)}), first pass "
                              f"{median(first):.2f}x (rounds {_spread(first)})")
            notes.append(f"{name} vs {reference}, inference words/s, median of paired rounds: {'; '.join(ratios)}")
    text = markdown_table(rows, COLUMNS, header=header)
    if notes:
        text += "\n" + "\n".join(f"- {note}" for note in notes) + "\n"
    return text


def _spread(values: List[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def model_fingerprint(model: Path) -> str:
    """What tells a retrained model from the one measured before in the same directory: its
    config and meta.json (which holds the scores and the date of its training)."""
    digest = hashlib.sha256()
    for name in ("config.cfg", "meta.json"):
        path = model / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", default=None, metavar="NAME=DIR",
                        help="A trained pipeline to measure (repeatable). Default: seed 0 of each system "
                        "trained on CoNLL-2003 by accuracy.py. Names starting with 'spacy' count as baselines.")
    parser.add_argument("--words", type=int, default=None, help=f"Inference workload (default {DEFAULT_WORDS:,}).")
    parser.add_argument("--train-words", type=int, default=None,
                        help=f"Training workload (default {DEFAULT_TRAIN_WORDS:,}).")
    parser.add_argument("--rounds", type=int, default=None,
                        help=f"Inference rounds, the models taking turns (default {DEFAULT_ROUNDS}; smoke: 1).")
    add_common_arguments(parser)
    # Internal: one measurement, run by run_measurement() in a subprocess.
    parser.add_argument("--measure", choices=["inference", "training"], help=argparse.SUPPRESS)
    parser.add_argument("--model-for-run", help=argparse.SUPPRESS)
    parser.add_argument("--data-for-run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result-for-run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size-for-run", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure == "inference":
        write_json(args.result_for_run, measure_inference(args.model_for_run, args.data_for_run, args.words,
                                                                 args.batch_size_for_run))
        return
    if args.measure == "training":
        write_json(args.result_for_run, measure_training(args.model_for_run, args.data_for_run, args.words))
        return
    rounds = args.rounds or (1 if args.smoke else DEFAULT_ROUNDS)
    if rounds < 1:
        raise BenchmarkError(f"--rounds {rounds}: give at least 1")

    resolve_threads(args)
    words = args.words or (SMOKE_WORDS if args.smoke else DEFAULT_WORDS)
    train_words = args.train_words or (SMOKE_TRAIN_WORDS if args.smoke else DEFAULT_TRAIN_WORDS)
    results = results_dir(args)
    models = parse_models(args.model) if args.model else default_models(results)
    if not models:
        raise BenchmarkError(
            f"no models: none given with --model NAME=DIR and no CoNLL-2003 seed-0 runs in {results / 'accuracy.json'}; "
            f"run benchmarks/accuracy.py --corpora conll2003 --seeds 0{' --smoke' if args.smoke else ''} first")
    for name, model in models.items():
        if not (model / "config.cfg").exists():
            raise BenchmarkError(f"model {name}: {model} is not a trained pipeline directory (no config.cfg)")
    output = results / f"{STUDY}.json"
    workload = {"words": words, "train_words": train_words, "rounds": rounds}
    if output.exists() and not args.force:
        previous = json.loads(output.read_text())
        held = {name: entry.get("model_fingerprint") for name, entry in previous.get("models", {}).items()}
        if previous.get("workload") == workload and held == {name: model_fingerprint(model)
                                                              for name, model in models.items()}:
            print(f"{output} already holds these models on this workload, skipped (--force to rerun)",
                  file=sys.stderr)
            print(table(previous))
            return
    data_paths = prepare_corpus(args.shared, args.work, CORPUS, smoke=args.smoke)
    work_dir = (smoke_dir(args.work) if args.smoke else args.work) / "runs" / STUDY
    work_dir.mkdir(parents=True, exist_ok=True)
    data: Dict[str, Any] = {"study": STUDY, "smoke": args.smoke, "date": now(),
                            "machine": machine_info(), "command": command_line(),
                            "threads": args.threads, "workload": workload,
                            "data": {split: str(data_paths[split]) for split in ("train", "test")}, "models": {}}
    inference_rounds: Dict[str, List[Dict[int, Dict[str, Any]]]] = {name: [] for name in models}
    for round_number in range(1, rounds + 1):
        for name, model in models.items():
            measurements = {}
            for size in BATCH_SIZES:
                print(f"round {round_number}/{rounds}, {name}: inference ({words:,} words, batch size {size}) ...",
                      file=sys.stderr)
                measurements[size] = run_measurement("inference", model, data_paths["test"], words, args.threads,
                                                     work_dir, batch_size=size)
            inference_rounds[name].append(measurements)
    for name, model in models.items():
        print(f"{name}: training ({train_words:,} words) ...", file=sys.stderr)
        training = run_measurement("training", model, data_paths["train"], train_words, args.threads, work_dir)
        data["models"][name] = {"model_dir": str(model), "model_fingerprint": model_fingerprint(model),
                                "inference": inference_summary(inference_rounds[name]),
                                "training": training, "model_size_bytes": directory_size(model),
                                "training_run": training_run_summary(model)}
    write_json(output, data)
    print(table(data))
    print(f"Results: {output}", file=sys.stderr)


if __name__ == "__main__":
    run_main(main)
