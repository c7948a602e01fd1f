"""Study 14 (issue 31), reduced: does rehearsal keep the old entity types while a trained model
learns a new one?

CoNLL-2003 train, one Doc per sentence (the corpus's -DOCSTART- documents cut at their sentence
starts), is split in two: the first `--old-sentences` sentences and the rest.

- stage1:   `bilstm_crf_vectors` on the old sentences with MISC turned into O (dev: valid, MISC as O);
- finetune: stage1's model-best trained on the new sentences, all four types (`train --base`);
- rehearse: the same, rehearsing stage1 on the old sentences' raw text (`train --base --rehearse`);
- scratch:  from nothing on all sentences (reference), stage1's budget plus stage2's;
- new_only: from nothing on the new sentences alone (its MISC F1 is what the new data alone gives).

Every run goes through `spacy_bilstm.training.train` (what `spacy-bilstm train` calls) and is
tested with `spacy_bilstm.evaluation.evaluate` on CoNLL-2003 test, one Doc per sentence. stage1
and scratch stop as the config says (its patience), like a user's first training; the stage-2 runs
train `--stage2-steps` steps (`--training.max_steps` on the command line), a short update. Each
run records wall-clock and CPU minutes: the time floor reads CPU minutes, which other jobs on the
machine do not inflate (one thread per run, `--threads`). Results: benchmarks/results/growth.json, one record
per seed and run, stored after every run (several seeds may run at once, in separate processes);
a run already stored with the same settings is skipped (`--force` reruns it).

    python -m benchmarks.growth --seeds 0 1 2
    python -m benchmarks.growth --smoke     # 300/100 sentences, a few steps, results under work/
"""
import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .arguments import threads_in_use
from .datasets import prepare_vectors
from .records import (RESULTS, BenchmarkError, REPO, command_line, find_run, machine_info, now, read_runs,
                      recorded_path, store_run)
from .tables import format_mean_std, mean_std

STUDY = "growth"
CONFIG = "bilstm_crf_vectors"
NEW_LABEL = "MISC"
OLD_LABELS = ("PER", "LOC", "ORG")
RUNS = ("stage1", "finetune", "rehearse", "scratch", "new_only")
# The floors, in F1 points: rehearse loses at most this much on each old type against stage1 ...
FLOOR_OLD_TYPE_LOSS = 1.0
# ... gets MISC within this much of scratch ...
FLOOR_MISC_BELOW_SCRATCH = 10.0
# ... in at most this fraction of scratch's training time.
FLOOR_TIME_FRACTION = 1 / 3
# Each run's dev evaluations, as spaCy's console logger writes them (`training.logger.output_file`).
TRAINING_LOG = "training_log.jsonl"


# --------------------------------------------------------------------------- data


def sentence_docs(docs: Sequence) -> List:
    """One Doc per sentence of `docs` (which need sentence starts), entities kept."""
    return [sent.as_doc() for doc in docs for sent in doc.sents]


def split_old_new(docs: Sequence, n_old: int) -> Tuple[List, List]:
    """The first `n_old` docs and the rest, in corpus order."""
    if not 0 < n_old < len(docs):
        raise BenchmarkError(f"--old-sentences {n_old}: the corpus has {len(docs)} sentences; "
                                    f"choose a number between 1 and {len(docs) - 1}")
    return list(docs[:n_old]), list(docs[n_old:])


def without_label(docs: Sequence, label: str) -> Tuple[List, int]:
    """Copies of `docs` whose `label` entities are O (annotated as outside, not missing), and how
    many entities were turned into O."""
    from spacy.tokens import Doc

    copies, removed = [], 0
    for doc in docs:
        kept = [ent for ent in doc.ents if ent.label_ != label]
        removed += len(doc.ents) - len(kept)
        copy = Doc.from_docs([doc])
        copy.set_ents(kept, default="outside")
        copies.append(copy)
    return copies, removed


def raw_text_lines(docs: Sequence) -> List[str]:
    """The text of each doc on one line, its words joined by single spaces (as the corpus gives them)."""
    return [" ".join(token.text for token in doc) for doc in docs]


def label_counts(docs: Sequence) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for doc in docs:
        for ent in doc.ents:
            counts[ent.label_] = counts.get(ent.label_, 0) + 1
    return dict(sorted(counts.items()))


def sentences_of(path: Path) -> List:
    from spacy_bilstm.corpora.readers import read_corpus

    return sentence_docs(read_corpus(path, lang="en").docs)


def prepare_data(conll: Path, work: Path, n_old: int, limit: int = 0) -> Dict[str, Any]:
    """The study's DocBins and rehearsal text under `work` ({name: path}) and their counts.
    `limit` (smoke runs) keeps the first sentences of each file only."""
    from spacy_bilstm.corpora.writers import write_docbin

    train = sentences_of(conll / "train.txt")
    dev = sentences_of(conll / "valid.txt")
    test = sentences_of(conll / "test.txt")
    if limit:
        train, dev, test = train[:limit], dev[:limit // 3], test[:limit // 3]
    old, new = split_old_new(train, n_old)
    old_without, removed_train = without_label(old, NEW_LABEL)
    dev_without, removed_dev = without_label(dev, NEW_LABEL)
    sets = {"old_without_misc": old_without, "new": new, "all": train, "dev_without_misc": dev_without,
            "dev": dev, "test": test}
    work.mkdir(parents=True, exist_ok=True)
    paths: Dict[str, Any] = {}
    for name, docs in sets.items():
        paths[name] = work / f"{name}.spacy"
        write_docbin(docs, paths[name])
    paths["old_text"] = work / "old_sentences.txt"
    paths["old_text"].write_text("\n".join(raw_text_lines(old)) + "\n", encoding="utf-8")
    counts = {name: {"sentences": len(docs), "entities": label_counts(docs)} for name, docs in sets.items()}
    counts["misc_turned_into_o"] = {"old": removed_train, "dev": removed_dev}
    return {"paths": paths, "counts": counts}


# --------------------------------------------------------------------------- runs


def run_plan(args: argparse.Namespace, data: Dict[str, Any], work: Path, vectors: Path) -> Dict[str, Dict[str, Any]]:
    """Each run's training inputs and step budget (0: the config's own stopping). `vectors`: the
    converted GloVe, for the runs from scratch (the runs from stage1 keep stage1's vectors)."""
    paths = data["paths"]
    stage1 = work / "runs" / "stage1"
    return {
        "stage1": {"train": paths["old_without_misc"], "dev": paths["dev_without_misc"], "steps": args.stage1_steps,
                   "vectors": vectors},
        "finetune": {"train": paths["new"], "dev": paths["dev"], "steps": args.stage2_steps,
                     "base": stage1 / "model-best"},
        "rehearse": {"train": paths["new"], "dev": paths["dev"], "steps": args.stage2_steps,
                     "base": stage1 / "model-best", "rehearse": paths["old_text"]},
        "scratch": {"train": paths["all"], "dev": paths["dev"], "steps": args.scratch_steps, "vectors": vectors},
        "new_only": {"train": paths["new"], "dev": paths["dev"], "steps": args.stage2_steps,
                     "vectors": vectors},
    }


def settings_of(name: str, spec: Dict[str, Any], args: argparse.Namespace, seed: int) -> Dict[str, Any]:
    return {"run_id": f"seed{seed}-{name}", "run": name, "seed": seed, "steps": spec["steps"],
            "eval_frequency": args.eval_frequency, "old_sentences": args.old_sentences, "limit": args.limit,
            "config": CONFIG, "base": "stage1" if "base" in spec else None, "rehearse": "rehearse" in spec}


def overrides_of(spec: Dict[str, Any], args: argparse.Namespace) -> Dict[str, Any]:
    """What the run sets beyond `train`'s options: a step budget (without patience, so that it
    trains exactly that many steps), or nothing but the evaluation frequency."""
    overrides: Dict[str, Any] = {"training.eval_frequency": args.eval_frequency}
    if spec["steps"]:
        overrides.update({"training.max_steps": spec["steps"], "training.patience": 0})
    return overrides


def run_one(name: str, spec: Dict[str, Any], args: argparse.Namespace, seed: int, work: Path,
            test_path: Path) -> Dict[str, Any]:
    from spacy_bilstm.evaluation import evaluate
    from spacy_bilstm.training import train

    output = work / "runs" / name
    training_log = output / TRAINING_LOG
    training_log.unlink(missing_ok=True)  # spaCy's logger appends
    overrides = {**overrides_of(spec, args), "training.logger.output_file": str(training_log)}
    started, cpu_started = time.perf_counter(), time.process_time()
    train(CONFIG, output, train_path=spec["train"], dev_path=spec["dev"], vectors=spec.get("vectors"),
          seed=seed, base=spec.get("base"), rehearse=spec.get("rehearse"), overrides=overrides)
    minutes, cpu_minutes = (time.perf_counter() - started) / 60, (time.process_time() - cpu_started) / 60
    result = evaluate(output / "model-best", test_path)
    per_type = {label: round(100 * scores["f"], 2) for label, scores in sorted(result.per_type.items())}
    precision_recall = {label: [round(100 * scores["p"], 2), round(100 * scores["r"], 2)]
                        for label, scores in sorted(result.per_type.items())}
    recorded = {**overrides, "training.logger.output_file": recorded_path(training_log, args.shared)}
    return {**settings_of(name, spec, args, seed), "overrides": recorded, "threads": threads_in_use(),
            "train_minutes": round(minutes, 2), "train_cpu_minutes": round(cpu_minutes, 2),
            "steps_trained": _steps_trained(output), "date": now(), "machine": machine_info(),
            "command": command_line(), "test_f1": round(100 * result.f_score, 2), "test_f1_per_type": per_type,
            "test_precision_recall_per_type": precision_recall,
            "train": recorded_path(spec["train"], args.shared), "dev": recorded_path(spec["dev"], args.shared),
            "output": recorded_path(output, args.shared)}


def _steps_trained(output: Path) -> Optional[int]:
    """The step of the run's last dev evaluation, where it stopped (by max_steps or patience),
    from the JSONL log spaCy's console logger writes."""
    import srsly

    path = output / TRAINING_LOG
    steps = [record.get("step") for record in srsly.read_jsonl(path)] if path.exists() else []
    return steps[-1] if steps else None


# --------------------------------------------------------------------------- report


def runs_by_seed(runs: Sequence[Dict[str, Any]]) -> Dict[int, Dict[str, Dict[str, Any]]]:
    """{seed: {run name: record}} of the stored records."""
    by_seed: Dict[int, Dict[str, Dict[str, Any]]] = {}
    for run in runs:
        by_seed.setdefault(run["seed"], {})[run["run"]] = run
    return dict(sorted(by_seed.items()))


def _minutes(run: Dict[str, Any]) -> float:
    # Records from before CPU minutes were kept have wall-clock minutes only.
    return run.get("train_cpu_minutes", run["train_minutes"])


def floors(runs: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """The issue's floors for one seed's runs, as far as the runs done allow."""
    found: Dict[str, Any] = {}
    stage1, rehearse, scratch = runs.get("stage1"), runs.get("rehearse"), runs.get("scratch")
    if stage1 and rehearse:
        losses = {label: round(stage1["test_f1_per_type"].get(label, 0.0)
                               - rehearse["test_f1_per_type"].get(label, 0.0), 2) for label in OLD_LABELS}
        found["old_type_loss"] = losses
        found["old_types_kept"] = all(loss <= FLOOR_OLD_TYPE_LOSS for loss in losses.values())
    if rehearse and scratch:
        gap = round(scratch["test_f1_per_type"].get(NEW_LABEL, 0.0)
                    - rehearse["test_f1_per_type"].get(NEW_LABEL, 0.0), 2)
        found["misc_below_scratch"] = gap
        found["misc_close_to_scratch"] = gap <= FLOOR_MISC_BELOW_SCRATCH
        found["time_fraction_of_scratch"] = round(_minutes(rehearse) / _minutes(scratch), 3)
        found["time_within_floor"] = _minutes(rehearse) <= FLOOR_TIME_FRACTION * _minutes(scratch)
    return found


def mean_floors(per_seed: Dict[int, Dict[str, Any]]) -> Dict[str, Any]:
    """The floors on the means over the seeds that have the runs each floor needs (the time
    floor on the mean of each seed's rehearse/scratch ratio)."""
    found: Dict[str, Any] = {}
    losses = [f["old_type_loss"] for f in per_seed.values() if "old_type_loss" in f]
    if losses:
        found["old_type_loss"] = {label: round(statistics.mean(loss[label] for loss in losses), 2)
                                  for label in OLD_LABELS}
        found["old_types_kept"] = all(loss <= FLOOR_OLD_TYPE_LOSS for loss in found["old_type_loss"].values())
    timed = [f for f in per_seed.values() if "misc_below_scratch" in f]
    if timed:
        found["misc_below_scratch"] = round(statistics.mean(f["misc_below_scratch"] for f in timed), 2)
        found["misc_close_to_scratch"] = found["misc_below_scratch"] <= FLOOR_MISC_BELOW_SCRATCH
        found["time_fraction_of_scratch"] = round(statistics.mean(f["time_fraction_of_scratch"] for f in timed), 3)
        found["time_within_floor"] = found["time_fraction_of_scratch"] <= FLOOR_TIME_FRACTION
    found["seeds"] = {"old_type_loss": len(losses), "misc_and_time": len(timed)}
    return found


def floor_text(found: Dict[str, Any]) -> str:
    parts = []
    if "old_type_loss" in found:
        parts.append(f"rehearse loses {found['old_type_loss']} F1 on the old types against stage1 (floor "
                     f"{FLOOR_OLD_TYPE_LOSS}): {'held' if found['old_types_kept'] else 'missed'}")
    if "misc_below_scratch" in found:
        parts.append(f"rehearse's MISC is {found['misc_below_scratch']} F1 below scratch's (floor "
                     f"{FLOOR_MISC_BELOW_SCRATCH}): {'held' if found['misc_close_to_scratch'] else 'missed'}")
        parts.append(f"rehearse trains for {found['time_fraction_of_scratch']} of scratch's CPU minutes (floor "
                     f"{FLOOR_TIME_FRACTION:.3f}): {'held' if found['time_within_floor'] else 'missed'}")
    return "; ".join(parts)


def _mean_std(values: List[float]) -> str:
    mean, std, _ = mean_std(values)
    return format_mean_std(mean, std)


def markdown(runs: Sequence[Dict[str, Any]]) -> str:
    """The table of the stored runs (mean ± std over seeds) and the floors."""
    by_seed = runs_by_seed(runs)
    labels = OLD_LABELS + (NEW_LABEL,)
    lines = [f"CoNLL-2003 test F1, `{CONFIG}`, seeds {', '.join(str(s) for s in by_seed)}:", "",
             "| run | seeds | steps | " + " | ".join(labels) + " | all | train CPU min |",
             "|---|---|---|" + "---|" * (len(labels) + 2)]
    for name in RUNS:
        done = [seed_runs[name] for seed_runs in by_seed.values() if name in seed_runs]
        if not done:
            continue
        steps = sorted({run.get("steps_trained") or run["steps"] for run in done} - {0, None})
        step_range = "-" if not steps else str(steps[0]) if len(steps) == 1 else f"{steps[0]}-{steps[-1]}"
        cells = [_mean_std([run["test_f1_per_type"].get(label, 0.0) for run in done]) for label in labels]
        lines.append(f"| {name} | {len(done)} | {step_range} | "
                     + " | ".join(cells) + f" | {_mean_std([run['test_f1'] for run in done])} | "
                     f"{_mean_std([_minutes(run) for run in done])} |")
    per_seed = {seed: floors(seed_runs) for seed, seed_runs in by_seed.items()}
    lines += ["", "Floors (issue 31), means over seeds: " + (floor_text(mean_floors(per_seed)) or "not enough runs yet.")]
    lines += [f"- seed {seed}: {floor_text(found)}" for seed, found in per_seed.items() if found]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_shared = Path(os.environ.get("SPACY_BILSTM_SHARED_DATA") or REPO.parent / "shared")
    parser.add_argument("--shared", type=Path, default=default_shared, help="folder with corpora/ and vectors/")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "work" / STUDY)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS), help="in this order")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--old-sentences", type=int, default=12000)
    parser.add_argument("--stage1-steps", type=int, default=0, help="0: the config's own stopping (patience)")
    parser.add_argument("--stage2-steps", type=int, default=800)
    parser.add_argument("--scratch-steps", type=int, default=0, help="0: the config's own stopping (patience)")
    parser.add_argument("--eval-frequency", type=int, default=200)
    parser.add_argument("--limit", type=int, default=0, help="keep the first sentences of each file only")
    parser.add_argument("--smoke", action="store_true", help="300/100/100 sentences, 20 steps a run, results under --work")
    parser.add_argument("--force", action="store_true", help="rerun runs already in the results")
    parser.add_argument("--report", action="store_true", help="print the table of the stored runs and stop")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of every run (default 1: the time floor compares CPU minutes)")
    args = parser.parse_args()
    from spacy_bilstm.threads import set_threads

    set_threads(args.threads)

    if args.smoke:
        args.limit, args.old_sentences = 300, 200
        args.stage1_steps, args.stage2_steps, args.scratch_steps, args.eval_frequency = 20, 20, 40, 10
        args.results = args.work / "smoke-results"
    if args.report:
        print(markdown(read_runs(args.results, STUDY)))
        return
    # GloVe converted once, as `train --vectors` converts it, for every run and seed (under the
    # work folder's lock: seeds may start at once in separate processes).
    vectors = prepare_vectors(args.shared, args.work, smoke=args.smoke)
    for seed in args.seeds:
        work = args.work / (f"seed{seed}" + ("-smoke" if args.smoke else ""))
        data = prepare_data(args.shared / "corpora" / "conll2003", work / "data", args.old_sentences, args.limit)
        plan = run_plan(args, data, work, vectors)
        for name in args.runs:
            spec = plan[name]
            settings = settings_of(name, spec, args, seed)
            done = find_run(args.results, STUDY, settings["run_id"])
            if done and not args.force and all(done.get(k) == v for k, v in settings.items()):
                print(f"[seed {seed} {name}] done already (test F1 {done['test_f1']}); --force reruns it")
                continue
            print(f"[seed {seed} {name}] training, {spec['steps'] or 'the config stops'} steps", flush=True)
            run = {**run_one(name, spec, args, seed, work, data["paths"]["test"]), "data": data["counts"]}
            store_run(args.results, STUDY, run, order=lambda r: (r["seed"], RUNS.index(r["run"])))
            print(f"[seed {seed} {name}] {run['test_f1_per_type']} in {run['train_cpu_minutes']} CPU min", flush=True)
    print(markdown(read_runs(args.results, STUDY)))


if __name__ == "__main__":
    main()
