"""Study 14 (issue 31), reduced: does rehearsal keep the old entity types while a trained model
learns a new one?

CoNLL-2003 train, one Doc per sentence (the corpus's -DOCSTART- documents cut at their sentence
starts), is split in two: the first `--old-sentences` sentences and the rest.

- stage1:   `bilstm_crf_vectors` on the old sentences with MISC turned into O (dev: valid, MISC as O);
- finetune: stage1's model-best trained on the new sentences, all four types (`train --base`);
- rehearse: the same, rehearsing stage1 on the old sentences' raw text (`train --base --rehearse`);
- scratch:  from nothing on all sentences (reference), stage1's budget plus stage2's;
- new_only: from nothing on the new sentences alone (its MISC F1 is what the new data alone gives).

Every run goes through `spacy_bilstm.training.train` (what `spacy-bilstm train` calls) with a
fixed step budget, and is tested with `spacy_bilstm.evaluation.evaluate` on CoNLL-2003 test, one
Doc per sentence. Results: benchmarks/results/growth.json, rewritten after every run (the
table is printed at the end); a run already in the JSON with the same settings is skipped (`--force` reruns).

    python -m benchmarks.growth --stage1-steps 1200 --stage2-steps 400
    python -m benchmarks.growth --smoke     # 300/100 sentences, a few steps, results under work/
"""
import argparse
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from .records import RESULTS, BenchmarkError, REPO, command_line, machine_info, now, recorded_path, write_json

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
    """Each run's training inputs and step budget. `vectors`: the converted GloVe, for the runs
    from scratch (the runs from stage1 keep stage1's vectors)."""
    paths = data["paths"]
    stage1 = work / "runs" / "stage1"
    scratch_steps = args.scratch_steps or args.stage1_steps + args.stage2_steps
    return {
        "stage1": {"train": paths["old_without_misc"], "dev": paths["dev_without_misc"], "steps": args.stage1_steps,
                   "vectors": vectors},
        "finetune": {"train": paths["new"], "dev": paths["dev"], "steps": args.stage2_steps,
                     "base": stage1 / "model-best"},
        "rehearse": {"train": paths["new"], "dev": paths["dev"], "steps": args.stage2_steps,
                     "base": stage1 / "model-best", "rehearse": paths["old_text"]},
        "scratch": {"train": paths["all"], "dev": paths["dev"], "steps": scratch_steps, "vectors": vectors},
        "new_only": {"train": paths["new"], "dev": paths["dev"], "steps": args.stage2_steps,
                     "vectors": vectors},
    }


def settings_of(name: str, spec: Dict[str, Any], args: argparse.Namespace) -> Dict[str, Any]:
    return {"run": name, "seed": args.seed, "steps": spec["steps"], "eval_frequency": args.eval_frequency,
            "old_sentences": args.old_sentences, "limit": args.limit, "config": CONFIG,
            "base": "stage1" if "base" in spec else None, "rehearse": "rehearse" in spec}


def run_one(name: str, spec: Dict[str, Any], args: argparse.Namespace, work: Path, test_path: Path) -> Dict[str, Any]:
    from spacy_bilstm.evaluation import evaluate
    from spacy_bilstm.training import train

    output = work / "runs" / name
    overrides = {"training.max_steps": spec["steps"], "training.eval_frequency": args.eval_frequency,
                 "training.patience": 0}
    started = time.perf_counter()
    train(CONFIG, output, train_path=spec["train"], dev_path=spec["dev"], vectors=spec.get("vectors"),
          seed=args.seed, base=spec.get("base"), rehearse=spec.get("rehearse"), overrides=overrides)
    minutes = (time.perf_counter() - started) / 60
    result = evaluate(output / "model-best", test_path)
    per_type = {label: round(100 * scores["f"], 2) for label, scores in sorted(result.per_type.items())}
    return {**settings_of(name, spec, args), "train_minutes": round(minutes, 2), "date": now(),
            "test_f1": round(100 * result.f_score, 2), "test_f1_per_type": per_type,
            "train": recorded_path(spec["train"], args.shared),
            "dev": recorded_path(spec["dev"], args.shared),
            "output": recorded_path(output, args.shared)}


# --------------------------------------------------------------------------- report


def floors(runs: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """The issue's floors, as far as the runs done allow."""
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
        found["time_fraction_of_scratch"] = round(rehearse["train_minutes"] / scratch["train_minutes"], 3)
        found["time_within_floor"] = rehearse["train_minutes"] <= FLOOR_TIME_FRACTION * scratch["train_minutes"]
    return found


def floor_text(found: Dict[str, Any]) -> str:
    parts = []
    if "old_type_loss" in found:
        parts.append(f"rehearse loses {found['old_type_loss']} F1 on the old types against stage1 (floor "
                     f"{FLOOR_OLD_TYPE_LOSS}): {'held' if found['old_types_kept'] else 'missed'}")
    if "misc_below_scratch" in found:
        parts.append(f"rehearse's MISC is {found['misc_below_scratch']} F1 below scratch's (floor "
                     f"{FLOOR_MISC_BELOW_SCRATCH}): {'held' if found['misc_close_to_scratch'] else 'missed'}")
        parts.append(f"rehearse trains for {found['time_fraction_of_scratch']} of scratch's minutes (floor "
                     f"{FLOOR_TIME_FRACTION:.3f}): {'held' if found['time_within_floor'] else 'missed'}")
    return "; ".join(parts)


def markdown(results: Dict[str, Any]) -> str:
    labels = OLD_LABELS + (NEW_LABEL,)
    lines = [f"# Growth study (issue 31): CoNLL-2003, `{CONFIG}`, seed {results['seed']}", "",
             "| run | steps | " + " | ".join(f"test {label} F1" for label in labels)
             + " | test F1 (all) | train minutes |",
             "|---|---|" + "---|" * (len(labels) + 2)]
    for name in RUNS:
        run = results["runs"].get(name)
        if run is None:
            continue
        cells = [str(run["test_f1_per_type"].get(label, "-")) for label in labels]
        lines.append(f"| {name} | {run['steps']} | " + " | ".join(cells)
                     + f" | {run['test_f1']} | {run['train_minutes']} |")
    counts = results.get("data", {})
    lines += ["", "Data: " + ", ".join(f"{name} {value['sentences']} sentences" for name, value in counts.items()
                                      if isinstance(value, dict) and "sentences" in value)
              + f"; MISC entities turned into O: {counts.get('misc_turned_into_o')}.",
              "Train minutes: the whole `train()` call (corpus loading, initialisation, dev evaluations, saving).",
              "", "Floors (issue 31): " + (floor_text(results["floors"]) or "not enough runs yet."),
              "", f"Command: `{results['command']}`", ""]
    return "\n".join(lines)


def write_results(results_dir: Path, results: Dict[str, Any]) -> None:
    results["floors"] = floors(results["runs"])
    write_json(results_dir / f"{STUDY}.json", results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_shared = Path(os.environ.get("SPACY_BILSTM_SHARED_DATA") or REPO.parent / "shared")
    parser.add_argument("--shared", type=Path, default=default_shared, help="folder with corpora/ and vectors/")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "work" / STUDY)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS), help="in this order")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--old-sentences", type=int, default=12000)
    parser.add_argument("--stage1-steps", type=int, default=1200)
    parser.add_argument("--stage2-steps", type=int, default=400)
    parser.add_argument("--scratch-steps", type=int, default=0, help="default: stage1 + stage2 steps")
    parser.add_argument("--eval-frequency", type=int, default=200)
    parser.add_argument("--limit", type=int, default=0, help="keep the first sentences of each file only")
    parser.add_argument("--smoke", action="store_true", help="300/100/100 sentences, 20 steps a run, results under --work")
    parser.add_argument("--force", action="store_true", help="rerun runs already in the results")
    args = parser.parse_args()
    from spacy_bilstm.vectors import prepare_vectors

    if args.smoke:
        args.limit, args.old_sentences = 300, 200
        args.stage1_steps, args.stage2_steps, args.eval_frequency = 20, 20, 10
        args.results = args.work / "smoke-results"
    args.vectors = args.shared / "vectors" / "glove.6B.50d.txt.gz"
    work = args.work / (f"seed{args.seed}" + ("-smoke" if args.smoke else ""))

    data = prepare_data(args.shared / "corpora" / "conll2003", work / "data", args.old_sentences, args.limit)
    results_path = args.results / f"{STUDY}.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    if results.get("seed") != args.seed:
        results = {"runs": {}}
    results.update({"study": STUDY, "seed": args.seed,
                    "machine": machine_info(), "threads": os.environ.get("SPACY_BILSTM_THREADS"),
                    "split": "one Doc per sentence; old = the first --old-sentences of train, new = the rest",
                    "data": data["counts"]})
    # GloVe converted once, as `train --vectors` converts it, for every run and seed.
    vectors = prepare_vectors(args.vectors, args.work / "vectors", lang="en")
    plan = run_plan(args, data, work, vectors)
    for name in args.runs:
        spec = plan[name]
        done = results["runs"].get(name)
        if done and not args.force and all(done.get(k) == v for k, v in settings_of(name, spec, args).items()):
            print(f"[{name}] done already (test F1 {done['test_f1']}); --force reruns it")
            continue
        print(f"[{name}] training, {spec['steps']} steps", flush=True)
        results["command"] = command_line()  # the command that ran the runs, not a later report
        results["runs"][name] = run_one(name, spec, args, work, data["paths"]["test"])
        write_results(args.results, results)
        print(f"[{name}] {results['runs'][name]['test_f1_per_type']} in {results['runs'][name]['train_minutes']} min",
              flush=True)
    results.setdefault("command", command_line())
    write_results(args.results, results)
    print(markdown(results))


if __name__ == "__main__":
    main()
