"""Hyperparameter tuning of a shipped config (--config: bilstm_crf_vectors, the default,
bilstm_crf, with no vectors, or bilstm_crf_transformer, with --transformer), judged on dev only.

Each run trains the shipped config with some settings changed (--set KEY=VALUE, dotted
config paths, values parsed as JSON when they parse) on one corpus and seed, under the same
wall-clock cap and protocol as study 1 (model-best selected on dev). The
summary compares best dev F1 only: test scores are computed (the harness always does) and
kept in the run's JSON, but left out of the table, so that no choice is made on test.

    python -m benchmarks.tuning --name lr0.001 --set training.optimizer.learn_rate=0.001
    python -m benchmarks.tuning --name baseline            # the config as shipped
    python -m benchmarks.tuning --smoke --name smoke --set training.dropout=0.2

    python -m benchmarks.tuning --config bilstm_crf --corpus conll2002-es --name avg \
        --set training.optimizer.use_averages=true
    python -m benchmarks.tuning --config bilstm_crf_transformer --corpus wnut17 --name fine_tuned \
        --set 'training.frozen_components=[]' --set 'training.annotating_components=["sentencizer"]'

Results: the runs in benchmarks/results/tuning.json, run_id <corpus>__<name>__seed<N> (bilstm_crf_vectors) or
<corpus>__<config>__<name>__seed<N>; the table is printed at the end.
"""
import argparse
import functools
import json
import sys
from pathlib import Path
from typing import Any, Dict, List

from .arguments import SMOKE_MAX_MINUTES, add_common_arguments, add_seed_and_cap_arguments, add_transformer_argument, resolve_seeds_and_cap, resolve_threads, results_dir, run_main, run_study, runs_folder, transformer_model
from .capped import run_record, run_training
from .datasets import CORPORA, UNITS, as_units, corpus_lang, prepare_corpus, prepare_vectors
from .fingerprints import config_fingerprints, config_uses_vectors, is_done
from .overrides import BILSTM_CRF_CONFIGS, DOCUMENT_UNIT_OVERRIDES, run_overrides
from .records import (BenchmarkError, CONFIGS, find_run, read_runs, store_run)
from .tables import add_mean_std, machine_header, markdown_table, overrides_line

STUDY = "tuning"


def parse_setting(text: str) -> Dict[str, Any]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise BenchmarkError(f"--set takes KEY=VALUE (a dotted config path), not {text!r}")
    try:
        return {key: json.loads(value)}
    except json.JSONDecodeError:
        return {key: value}


def run_one(args: argparse.Namespace, seed: int, changes: Dict[str, Any], results: Path, run_root: Path,
            vectors: Path) -> None:
    config_path = CONFIGS / f"{args.config}.cfg"
    prefix = "" if args.config == "bilstm_crf_vectors" else f"{args.config}__"
    run_id = f"{args.corpus}__{prefix}{args.name}__seed{seed}"
    stored = find_run(results, STUDY, run_id)
    if stored is not None and not args.force and stored.get("changes") != changes:
        raise BenchmarkError(f"{STUDY}.json holds a run {run_id} named {args.name!r} with other settings "
                             f"({stored.get('changes')}); choose another --name or pass --force")
    if is_done(results, STUDY, run_id, force=args.force, label=f"{args.name} / seed {seed}"):
        return
    fingerprints = config_fingerprints(config_path)
    data = as_units(prepare_corpus(args.shared, args.work, args.corpus, smoke=args.smoke), args.units)
    unit_overrides = DOCUMENT_UNIT_OVERRIDES if args.units == "documents" else {}
    run_vectors = vectors if config_uses_vectors(config_path, changes) else None
    overrides = {**run_overrides(data, run_vectors, seed, smoke=args.smoke,
                                        lang=corpus_lang(args.corpus)), **unit_overrides, **changes}
    if args.config == "bilstm_crf_transformer":
        overrides["paths.transformer"] = transformer_model(args.transformer)
    run_dir = run_root / args.corpus / f"{prefix}{args.name}" / f"seed{seed}"
    print(f"{args.corpus} / {args.name} / seed {seed}: training (cap {args.max_minutes} min), "
          f"log {run_dir / 'train.log'}", file=sys.stderr)
    summary = run_training(config_path=config_path, run_dir=run_dir, overrides=overrides,
                                  max_minutes=args.max_minutes, test_path=data["test"], threads=args.threads)
    store_run(results, STUDY, {
        "run_id": run_id, "study": STUDY, "corpus": args.corpus, "name": args.name, "seed": seed,
        "changes": changes, "units": args.units,
        **run_record(args, summary, config_path=config_path, fingerprints=fingerprints, overrides=overrides,
                     run_dir=run_dir),
    })
    training = summary["training"]
    print(f"  best dev F1 {training['best_dev']['ents_f'] * 100:.2f} after {training['seconds_to_best_dev']:.0f} s; "
          f"stopped by {training['stopped_by']} after {training['loop_seconds']:.0f} s", file=sys.stderr)


def summary_rows(results: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for result in results:
        base = result.get("config_fingerprint") or result.get("config_sha256") or "?"
        config = Path(result.get("config") or "bilstm_crf_vectors.cfg").stem
        groups.setdefault((result["corpus"], config, result["name"], base), []).append(result)
    rows = []
    for (corpus, config, name, base), runs in sorted(groups.items()):
        changes = dict(runs[0].get("changes") or {})
        units = runs[0].get("units", "sentences")  # runs stored before --units read sentences
        if units != "converted":
            changes["units"] = units
        row: Dict[str, Any] = {
            "corpus": corpus, "config": config, "name": name, "seeds": len(runs), "base config": base[:8],
            "changes": ", ".join(f"{key}={value}" for key, value in changes.items()) or "- (as shipped)",
            "cap (min)": ", ".join(sorted({f"{r['max_minutes']:g}" for r in runs})),
            "stopped by": ", ".join(sorted({r["training"]["stopped_by"] for r in runs})),
        }
        for key, label in (("ents_p", "best dev P"), ("ents_r", "best dev R"), ("ents_f", "best dev F1")):
            add_mean_std(row, label, (r["training"]["best_dev"][key] for r in runs), scale=100)
        add_mean_std(row, "min to best dev", (r["training"]["seconds_to_best_dev"] / 60 for r in runs),
                            digits=1)
        add_mean_std(row, "training min", (r["training"]["loop_seconds"] / 60 for r in runs), digits=1)
        rows.append(row)
    return rows


SCORES = ["best dev P", "best dev R", "best dev F1", "min to best dev", "training min"]
COLUMNS = ["corpus", "config", "name", "base config", "changes", "seeds", "cap (min)"] + SCORES + ["stopped by"]


def summary(results_root: Path) -> str:
    results = read_runs(results_root, STUDY)
    changed = sorted({key for result in results for key in result.get("changes") or {}})
    header = ("Tuning on dev: best dev entity P/R/F1 (%, mean ± std over seeds) of the shipped config with "
              "the settings shown changed; `base config` is the start of the fingerprint of the settings of the "
              "shipped config the changes were made to (its `config_fingerprint`, comments and layout left out; "
              "the sha256 of its text for runs that predate fingerprints). Test scores are in the run files, "
              "not here.\n" + overrides_line(results, ignore=changed) + " (and each run's changes)\n\n"
              + machine_header(results))
    return markdown_table(summary_rows(results), COLUMNS, header=header)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True, help="Name of this setting (the result files' key).")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="A config setting to change (repeatable), e.g. training.optimizer.learn_rate=0.001.")
    parser.add_argument("--config", choices=BILSTM_CRF_CONFIGS, default="bilstm_crf_vectors",
                        help="The shipped config to change (default bilstm_crf_vectors).")
    parser.add_argument("--corpus", choices=list(CORPORA), default="conll2003")
    add_transformer_argument(parser)
    parser.add_argument("--units", choices=UNITS, default="converted",
                        help="What the LSTM reads: the documents as converted (default, as `spacy-bilstm train`), one document per "
                             "sentence, or whole documents marked as one sentence.")
    add_seed_and_cap_arguments(
        parser, f"Wall-clock cap per training run (default 60; smoke {SMOKE_MAX_MINUTES}).",
        seeds_help="Default 0: a setting is screened on one seed, then confirmed on more (--seeds 0 1 2).",
    )
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.seeds is None:
        args.seeds = [0]
    resolve_seeds_and_cap(args, 60.0)
    resolve_threads(args)
    changes: Dict[str, Any] = {}
    for setting in args.settings:
        changes.update(parse_setting(setting))
    results = results_dir(args)
    run_root = runs_folder(args, STUDY)
    vectors = prepare_vectors(args.shared, args.work, smoke=args.smoke)
    runs = ((f"{args.name} / seed {seed}",
             functools.partial(run_one, args, seed, changes, results, run_root, vectors)) for seed in args.seeds)
    run_study(runs, summary, results, STUDY)


if __name__ == "__main__":
    run_main(main)
