"""Study 13: incomplete annotation. When half the entities of the training data are
unannotated, does marking the unannotated tokens as missing beat treating them as `O`?

bilstm_ner's loss marginalises a token whose gold tag is unknown (a reference token with
`ent_iob == 0` becomes tag id -1 through `Example.get_aligned_ner()`, and the CRF sums over every
tag it could have). This study measures what that buys. For each corpus and seed, a seeded random
half of the training entities is removed, giving three training sets:

  complete   the training data as they are;
  as_o       the removed entities' tokens tagged O (what a naive converter gives);
  missing    the removed entities' tokens, plus as many randomly chosen O tokens, marked missing
             (ent_iob 0), so that a missing token is not a giveaway for an entity; the rest as
             in `complete`.

Each trains with the same budget (the wall-clock cap --max-minutes, one process at a time) and
the config of its corpus (CoNLL-2002 Spanish: configs/bilstm_crf.cfg, no vectors; CoNLL-2003:
configs/bilstm_crf_vectors.cfg with GloVe 6B 50d); model-best is chosen on the complete,
unchanged dev set and tested on the test set (entity micro P/R/F1, exact span and type, as study 1
tests). The seed chooses both the removed entities and the training run. All runs go to ONE file,
benchmarks/results/incomplete.json, rewritten after each run (the table is printed at the
end); a run already there (same corpus, condition, seed and config settings) is skipped,
so a stopped study continues where it was (--force reruns). Models, logs and the derived training
sets stay in benchmarks/work/.

    python -m benchmarks.incomplete --threads 1 --max-minutes 6 --corpora conll2002-es
    python -m benchmarks.incomplete --smoke          # 200/50/50 sentences, 2 steps per run
"""
import argparse
import functools
import json
import random
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .arguments import SMOKE_MAX_MINUTES, add_common_arguments, add_seed_and_cap_arguments, resolve_seeds_and_cap, resolve_threads, results_dir, run_main, run_study, runs_folder
from .capped import run_training
from .datasets import SPLITS, corpus_lang, corpus_source, prepare_corpus, prepare_vectors
from .fingerprints import config_fingerprints, config_uses_vectors, read_current_results, result_is_current
from .overrides import run_overrides
from .records import BenchmarkError, CONFIGS, command_line, machine_info, now, read_runs, recorded_overrides, recorded_path, write_json
from .tables import add_mean_std, markdown_table, mean_std, overrides_line

STUDY = "incomplete"
CONDITIONS = ("complete", "as_o", "missing")
CORPUS_CONFIGS = {"conll2002-es": "bilstm_crf", "conll2003": "bilstm_crf_vectors"}
REMOVED_FRACTION = 0.5
# The issue's floors, in F1 points: missing beats as_o by at least this much ...
FLOOR_MISSING_OVER_AS_O = 2.0
# ... and is no more than this much below complete.
FLOOR_COMPLETE_OVER_MISSING = 2.0


# --------------------------------------------------------------------------- data


def incomplete_training_docs(docs: Sequence, seed: int, fraction: float = REMOVED_FRACTION
                             ) -> Tuple[Dict[str, List], Dict[str, int]]:
    """The three training sets of the study made from `docs` (left unchanged): {condition: docs},
    and their counts. `fraction` of the entities (rounded, chosen with random.Random(seed)) are
    removed; in `missing` their tokens and as many O tokens (chosen with the same generator) get
    ent_iob 0."""
    from spacy.tokens import Doc

    rng = random.Random(seed)
    entities = [(d, ent.start, ent.end) for d, doc in enumerate(docs) for ent in doc.ents]
    removed = set(rng.sample(entities, round(fraction * len(entities))))
    outside = [(d, token.i) for d, doc in enumerate(docs) for token in doc if token.ent_iob_ == "O"]
    removed_tokens = sum(end - start for _, start, end in removed)
    if removed_tokens > len(outside):
        raise BenchmarkError(f"the training data have {len(outside)} O tokens, fewer than the "
                                    f"{removed_tokens} tokens of the removed entities")
    hidden_outside: Dict[int, List[int]] = {}
    for d, i in rng.sample(outside, removed_tokens):
        hidden_outside.setdefault(d, []).append(i)

    conditions: Dict[str, List] = {"complete": list(docs), "as_o": [], "missing": []}
    for d, doc in enumerate(docs):
        kept = [ent for ent in doc.ents if (d, ent.start, ent.end) not in removed]
        unannotated = [doc[ent.start:ent.end] for ent in doc.ents if (d, ent.start, ent.end) in removed]
        as_o = Doc.from_docs([doc])  # a copy: words, spaces, sentence starts and entities
        as_o.set_ents(kept, default="outside")
        missing = Doc.from_docs([doc])
        missing.set_ents(kept, missing=unannotated + [doc[i:i + 1] for i in hidden_outside.get(d, [])],
                         default="outside")
        conditions["as_o"].append(as_o)
        conditions["missing"].append(missing)
    counts = {
        "entities": len(entities), "entities_removed": len(removed), "removed_entity_tokens": removed_tokens,
        "outside_tokens_marked_missing": removed_tokens,
        "tokens": sum(len(doc) for doc in docs),
    }
    counts.update({f"{condition}_{key}": value for condition in CONDITIONS
                   for key, value in annotation_counts(conditions[condition]).items()})
    return conditions, counts


def annotation_counts(docs: Sequence) -> Dict[str, int]:
    """Entities, entity tokens, O tokens and missing tokens (ent_iob 0) of a set of Docs."""
    counts = {"entities": 0, "entity_tokens": 0, "outside_tokens": 0, "missing_tokens": 0}
    for doc in docs:
        counts["entities"] += len(doc.ents)
        for token in doc:
            key = {"B": "entity_tokens", "I": "entity_tokens", "O": "outside_tokens"}.get(token.ent_iob_,
                                                                                        "missing_tokens")
            counts[key] += 1
    return counts


def write_training_sets(train_path: Path, target_dir: Path, seed: int) -> Tuple[Dict[str, Path], Dict[str, int]]:
    """The three training DocBins of a seed ({condition: path}; `complete` is the converted file
    itself) and their counts. Written once per seed; the counts are kept beside them."""
    import spacy
    from spacy.tokens import DocBin

    paths = {"complete": train_path, **{c: target_dir / f"{c}.spacy" for c in CONDITIONS if c != "complete"}}
    counts_path = target_dir / "counts.json"
    stamp = {"train": str(train_path), "train_size": train_path.stat().st_size, "seed": seed,
             "fraction": REMOVED_FRACTION}
    if counts_path.exists() and all(p.exists() for p in paths.values()):
        stored = json.loads(counts_path.read_text())
        if stored.get("stamp") == stamp:
            return paths, stored["counts"]
    docs = list(DocBin().from_disk(train_path).get_docs(spacy.blank("xx").vocab))
    conditions, counts = incomplete_training_docs(docs, seed)
    for condition in ("as_o", "missing"):
        target_dir.mkdir(parents=True, exist_ok=True)
        DocBin(docs=conditions[condition], store_user_data=False).to_disk(paths[condition])
    write_json(counts_path, {"stamp": stamp, "counts": counts})
    return paths, counts


# --------------------------------------------------------------------------- runs


def run_key(run: Dict[str, Any]) -> Tuple[str, str, int, bool]:
    return run["corpus"], run["condition"], run["seed"], bool(run.get("smoke"))


def run_one(args: argparse.Namespace, corpus: str, seed: int, condition: str, results_path: Path,
            run_root: Path, vectors: Optional[Path]) -> None:
    label = f"{corpus} / {condition} / seed {seed}"
    key = (corpus, condition, seed, args.smoke)
    done = {run_key(run): run for run in read_runs(results_path.parent, STUDY)}
    if not args.force and key in done and result_is_current(done[key]):
        print(f"{label}: done already ({results_path}), skipped", file=sys.stderr)
        return
    config_path = CONFIGS / f"{CORPUS_CONFIGS[corpus]}.cfg"
    data = prepare_corpus(args.shared, args.work, corpus, smoke=args.smoke)
    train_sets, counts = write_training_sets(data["train"], run_root / corpus / f"seed{seed}" / "data", seed)
    data = {**data, "train": train_sets[condition]}
    uses_vectors = config_uses_vectors(config_path)
    overrides = run_overrides(data, vectors if uses_vectors else None, seed, smoke=args.smoke,
                                     lang=corpus_lang(corpus))
    run_dir = run_root / corpus / f"seed{seed}" / condition
    print(f"{label}: training (cap {args.max_minutes} min), log {run_dir / 'train.log'}", file=sys.stderr)
    summary = run_training(config_path=config_path, run_dir=run_dir, overrides=overrides,
                                  max_minutes=args.max_minutes, test_path=data["test"], threads=args.threads)
    training, test = summary["training"], summary["test"]
    run = {
        "corpus": corpus, "condition": condition, "seed": seed, "smoke": args.smoke,
        "config": recorded_path(config_path, args.shared), **config_fingerprints(config_path),
        "vectors": recorded_path(vectors, args.shared) if uses_vectors else None,
        "max_minutes": args.max_minutes, "threads": summary["threads"],
        "overrides": recorded_overrides(overrides, args.shared),
        "data": {split: recorded_path(path, args.shared) for split, path in data.items()},
        "source": {split: recorded_path(corpus_source(args.shared, corpus, split), args.shared)
                   for split in SPLITS},
        "train_counts": counts,
        "test": {key: test[key] for key in ("ents_p", "ents_r", "ents_f", "ents_per_type", "sentences", "words")},
        "best_dev": training["best_dev"],
        "training": {key: training[key] for key in ("stopped_by", "init_seconds", "loop_seconds", "steps",
                                                    "epochs_completed", "words", "seconds_to_best_dev")},
        "date": now(), "command": command_line(),
    }
    runs = [r for r in read_runs(results_path.parent, STUDY) if run_key(r) != key] + [run]
    write_results(results_path, runs)
    print(f"  test F1 {test['ents_f'] * 100:.2f}; best dev F1 {training['best_dev']['ents_f'] * 100:.2f}; "
          f"{training['steps']} steps in {training['loop_seconds']:.0f} s", file=sys.stderr)


def write_results(results_path: Path, runs: List[Dict[str, Any]]) -> None:
    runs = sorted(runs, key=lambda r: (r["corpus"], r["seed"], CONDITIONS.index(r["condition"])))
    write_json(results_path, {"study": STUDY, "date": now(), "machine": machine_info(),
                                     "removed_fraction": REMOVED_FRACTION, "runs": runs})


# --------------------------------------------------------------------------- table


def summary_rows(runs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Per corpus: test F1 per condition, and the differences per seed (paired: the same removal
    and the same training seed), mean ± std over the seeds that have both conditions."""
    rows = []
    for corpus in sorted({r["corpus"] for r in runs}):
        by_seed: Dict[int, Dict[str, Dict[str, Any]]] = {}
        for run in runs:
            if run["corpus"] == corpus:
                by_seed.setdefault(run["seed"], {})[run["condition"]] = run
        row: Dict[str, Any] = {"corpus": corpus, "cap (min)": ", ".join(sorted(
            {f"{r['max_minutes']:g}" for r in runs if r["corpus"] == corpus}))}
        for condition in CONDITIONS:
            scores = [s[condition]["test"]["ents_f"] for s in by_seed.values() if condition in s]
            add_mean_std(row, condition, scores, scale=100)
            row[f"{condition} seeds"] = len(scores)
            row[condition] = f"{row[condition]} ({len(scores)})"
        for name, (high, low) in (("missing − as_o", ("missing", "as_o")),
                                  ("complete − missing", ("complete", "missing"))):
            diffs = [s[high]["test"]["ents_f"] - s[low]["test"]["ents_f"] for s in by_seed.values()
                     if high in s and low in s]
            add_mean_std(row, name, diffs, scale=100)
        gain, gap = row["missing − as_o mean"], row["complete − missing mean"]
        row["floors met"] = ("-" if gain is None or gap is None else
                             "yes" if gain >= FLOOR_MISSING_OVER_AS_O and gap <= FLOOR_COMPLETE_OVER_MISSING
                             else "no")
        mean_steps = {c: mean_std(s[c]["training"]["steps"] for s in by_seed.values() if c in s)[0]
                      for c in CONDITIONS}
        row["steps"] = ", ".join(f"{c} {steps:.0f}" for c, steps in mean_steps.items() if steps is not None)
        rows.append(row)
    return rows


COLUMNS = ["corpus", "cap (min)", "complete", "as_o", "missing", "missing − as_o", "complete − missing",
           "floors met", "steps"]


def summary(results_root: Path) -> str:
    runs, stale_note = read_current_results(results_root, STUDY)
    header = ("Test entity F1 (%, mean ± std over seeds; number of seeds in brackets) with half the training "
              "entities removed (complete: none removed), model-best on the complete dev set; differences "
              "paired by seed. Floors (issue 30): missing − as_o >= 2 and complete − missing <= 2. steps: mean "
              "training steps within the cap.\n" + overrides_line(runs) + stale_note)
    return markdown_table(summary_rows(runs), COLUMNS, header=header)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", choices=list(CORPUS_CONFIGS), default=list(CORPUS_CONFIGS))
    parser.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=list(CONDITIONS))
    add_seed_and_cap_arguments(parser, f"Wall-clock cap per training run (default 6; smoke "
                                              f"{SMOKE_MAX_MINUTES}).")
    add_common_arguments(parser)
    args = parser.parse_args()
    resolve_seeds_and_cap(args, 6.0)
    resolve_threads(args)
    results_path = results_dir(args) / f"{STUDY}.json"
    run_root = runs_folder(args, STUDY)
    vectors = None
    if any(config_uses_vectors(CONFIGS / f"{CORPUS_CONFIGS[c]}.cfg") for c in args.corpora):
        vectors = prepare_vectors(args.shared, args.work, smoke=args.smoke)
    # Conditions in the inner loop: a study stopped early can already compare them at seed 0.
    runs = (
        (f"{corpus} / {condition} / seed {seed}",
         functools.partial(run_one, args, corpus, seed, condition, results_path, run_root, vectors))
        for corpus in args.corpora
        for seed in args.seeds
        for condition in args.conditions
    )
    run_study(runs, summary, results_path.parent, STUDY)


if __name__ == "__main__":
    run_main(main)
