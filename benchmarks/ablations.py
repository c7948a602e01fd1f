"""Study 2: ablations of bilstm_ner on CoNLL-2003.

Every variant starts from configs/bilstm_crf_vectors.cfg (BiLSTM-CRF, depth 1, char CNN,
GloVe 6B 50d) and changes one thing; every run has the same wall-clock cap (--max-minutes,
default 20), keeps its best dev checkpoint and is scored on test like study 1:

  baseline            as shipped
  unidirectional      bidirectional = false (a left-to-right LSTM)
  softmax             output = "softmax" (per-token softmax instead of the CRF)
  no_char_cnn         include_char_cnn = false
  no_static_vectors   include_static_vectors = false (vectors still loaded, unused), and a
                      hashed NORM table of 5000 rows to learn the words from the training data
  depth2              depth = 2 (two stacked BiLSTM layers)

Each run writes a run in benchmarks/results/ablations.json (skipped
when present and trained with the config as it is now, --force reruns); the baseline takes
study 1's run with the same seed when that is the same run (study1_run_to_reuse). Models and
logs stay in benchmarks/work/runs/ablations/; the table (mean and std over seeds, difference to
the baseline) is printed at the end.

    python -m benchmarks.ablations                       # 6 variants x 3 seeds x 20 minutes
    python -m benchmarks.ablations --variants baseline unidirectional --seeds 0
    python -m benchmarks.ablations --smoke
"""
import argparse
import functools
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from .arguments import SMOKE_MAX_MINUTES, add_common_arguments, add_seed_and_cap_arguments, resolve_seeds_and_cap, resolve_threads, results_dir, run_main, run_study, runs_folder
from .capped import add_score_columns, run_record, run_training
from .datasets import prepare_corpus, prepare_vectors
from .fingerprints import config_fingerprints, is_done, read_current_results, result_is_current
from .overrides import run_overrides
from .records import (BenchmarkError, CONFIGS, find_run, recorded_overrides,
                      resolved_path, store_run)
from .tables import machine_header, markdown_table, overrides_line

MODEL = "components.bilstm_ner.model"
VARIANTS: Dict[str, Dict[str, Any]] = {
    "baseline": {},
    "unidirectional": {f"{MODEL}.bidirectional": False},
    "softmax": {f"{MODEL}.output": "softmax"},
    "no_char_cnn": {f"{MODEL}.tok2vec.include_char_cnn": False},
    # With the vectors gone, the words get a table learned from the training data alone (hashed
    # NORM, WordCharEmbed's default size): the classic random-embedding baseline, where the shipped
    # config, which has no hashed table, would be left with the characters alone.
    "no_static_vectors": {f"{MODEL}.tok2vec.include_static_vectors": False,
                          f"{MODEL}.tok2vec.attrs": ["NORM"], f"{MODEL}.tok2vec.rows": [5000]},
    "depth2": {f"{MODEL}.depth": 2},
}
# The keys the variants change, shown in the table's change column rather than its overrides line.
CHANGED_KEYS = tuple(sorted({key for changes in VARIANTS.values() for key in changes}))
CORPUS = "conll2003"
CONFIG = CONFIGS / "bilstm_crf_vectors.cfg"
STUDY = "ablations"


def check_variants(variants: List[str]) -> None:
    """Build every variant's pipeline from its config before any training starts, so that a
    variant whose overrides no longer fit the architecture fails in seconds, not hours in."""
    import spacy
    import spacy_bilstm  # noqa: F401  (registers the factory)

    for variant in variants:
        config = spacy.util.load_config(CONFIG, overrides=VARIANTS[variant], interpolate=False)
        try:
            spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
        except Exception as err:  # config validation errors come in several types
            raise BenchmarkError(f"variant {variant} does not build from {CONFIG} with "
                                        f"{VARIANTS[variant]}: {err}") from err


def run_one(args: argparse.Namespace, variant: str, seed: int, results: Path, run_root: Path,
            data: Dict[str, Path], vectors: Path) -> None:
    run_id = f"{CORPUS}__{variant}__seed{seed}"
    if is_done(results, STUDY, run_id, force=args.force, label=f"{variant} / seed {seed}"):
        return
    fingerprints = config_fingerprints(CONFIG)
    overrides = {**run_overrides(data, vectors, seed, smoke=args.smoke), **VARIANTS[variant]}
    if variant == "baseline":
        reused = study1_run_to_reuse(args, seed, results, overrides)
        if reused is not None:
            store_run(results, STUDY, {"run_id": run_id, **reused})
            print(f"{variant} / seed {seed}: the same run as study 1's ({reused['reused_from']}), reused; "
                  f"test F1 {reused['test']['ents_f'] * 100:.2f}", file=sys.stderr)
            return
    run_dir = run_root / variant / f"seed{seed}"
    print(f"{variant} / seed {seed}: training (cap {args.max_minutes} min), log {run_dir / 'train.log'}",
          file=sys.stderr)
    summary = run_training(config_path=CONFIG, run_dir=run_dir, overrides=overrides,
                                  max_minutes=args.max_minutes, test_path=data["test"], threads=args.threads)
    result = {
        "run_id": run_id, "study": STUDY, "corpus": CORPUS, "variant": variant, "system": "bilstm_crf_vectors",
        "seed": seed, "changes": VARIANTS[variant],
        **run_record(args, summary, config_path=CONFIG, fingerprints=fingerprints, overrides=overrides,
                     run_dir=run_dir, data=data),
    }
    store_run(results, STUDY, result)
    print(f"  test F1 {summary['test']['ents_f'] * 100:.2f}; stopped by {summary['training']['stopped_by']} "
          f"after {summary['training']['loop_seconds']:.0f} s", file=sys.stderr)


def study1_run_to_reuse(args: argparse.Namespace, seed: int, results: Path,
                        overrides: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The baseline's result taken from study 1's run of the shipped config with this seed, when
    that is the run this study would make: the same config text, the same overrides (data,
    vectors, seed, protocol), the same torch threads, and training ended by the config's own
    stopping rule within this study's cap. CPU training is deterministic for a given thread
    count (tests/test_pipeline_determinism.py; study 1's seeds 0 and 1 were reproduced here to the last
    digit), so a rerun would only repeat the same model, at minutes of machine time per seed."""
    study1_id = f"{CORPUS}__bilstm_crf_vectors__seed{seed}"
    run = find_run(results, "accuracy", study1_id)
    if run is None:
        return None
    training = run.get("training") or {}
    threads = (run.get("threads") or {}).get("OMP_NUM_THREADS")
    if not (result_is_current(run) and resolved_path(run["config"]) == CONFIG
            and run.get("overrides") == recorded_overrides(overrides, args.shared)
            and threads == (None if args.threads is None else str(args.threads))
            and training.get("stopped_by") == "config" and training.get("loop_seconds", math.inf) <= args.max_minutes * 60):
        return None
    return {
        "study": STUDY, "corpus": CORPUS, "variant": "baseline", "system": "bilstm_crf_vectors", "seed": seed,
        "smoke": args.smoke, "max_minutes": args.max_minutes, "config": run["config"],
        **{key: run[key] for key in ("config_sha256", "config_fingerprint") if key in run},
        "changes": {}, "overrides": recorded_overrides(overrides, args.shared),
        "reused_from": f"accuracy.json, {study1_id}",
        **{key: run[key] for key in ("run_dir", "model_dir", "data", "test", "training", "threads", "date",
                                     "machine", "command")},
    }


COLUMNS = ["variant", "change", "seeds", "cap (min)", "test F1", "Δ test F1 vs baseline", "test P", "test R",
           "best dev F1", "min to best dev", "training min", "stopped by"]


def summary_rows(results: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    groups: Dict[str, List[Dict[str, Any]]] = {}
    for result in results:
        groups.setdefault(result["variant"], []).append(result)
    order = [v for v in VARIANTS if v in groups] + sorted(v for v in groups if v not in VARIANTS)
    rows = []
    for variant in order:
        runs = groups[variant]
        changes = runs[0].get("changes") or {}
        row: Dict[str, Any] = {
            "variant": variant, "seeds": len(runs),
            "change": ", ".join(f"{key.rsplit('.', 1)[-1]}={value}" for key, value in changes.items()) or "-",
            "cap (min)": ", ".join(sorted({f"{r['max_minutes']:g}" for r in runs})),
            "stopped by": ", ".join(sorted({r["training"]["stopped_by"] for r in runs})),
        }
        add_score_columns(row, runs)
        rows.append(row)
    baseline = next((row for row in rows if row["variant"] == "baseline"), None)
    for row in rows:
        if baseline is not None and baseline["test F1 mean"] is not None and row["test F1 mean"] is not None:
            row["Δ test F1 vs baseline"] = round(row["test F1 mean"] - baseline["test F1 mean"], 2)
    return rows


def summary(results_root: Path) -> str:
    results, stale_note = read_current_results(results_root, STUDY)
    header = ("Ablations of bilstm_ner on CoNLL-2003 (test, %, mean ± std over seeds; no std with one seed); "
              "every run under the same training cap, model selected on dev.\n"
              + overrides_line(results, ignore=CHANGED_KEYS) + "\n\n" + machine_header(results) + stale_note)
    return markdown_table(summary_rows(results), COLUMNS, header=header)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    add_seed_and_cap_arguments(
        parser,
        f"Wall-clock cap per run, the same for every variant (default 20; smoke {SMOKE_MAX_MINUTES}).",
    )
    add_common_arguments(parser)
    args = parser.parse_args()
    resolve_seeds_and_cap(args, 20.0)
    resolve_threads(args)
    # All variants, not only those asked for: a cheap check that none of them has rotted.
    check_variants(list(VARIANTS))
    results = results_dir(args)
    run_root = runs_folder(args, STUDY)
    data = prepare_corpus(args.shared, args.work, CORPUS, smoke=args.smoke)
    vectors = prepare_vectors(args.shared, args.work, smoke=args.smoke)
    # Seeds in the outer loop: a study stopped early still has every variant at seed 0.
    runs = (
        (f"{variant} / seed {seed}", functools.partial(run_one, args, variant, seed, results, run_root, data, vectors))
        for seed in args.seeds
        for variant in args.variants
    )
    run_study(runs, summary, results, STUDY)


if __name__ == "__main__":
    run_main(main)
