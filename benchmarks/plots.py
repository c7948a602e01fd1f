"""Study 4: plots of the results of studies 1-3 (PNG, matplotlib, Agg backend).

  dev_f1_vs_time_<corpus>.png  dev entity F1 against training time (minutes, dev evaluations
                               included) for every system and seed in results/accuracy.json on the
                               corpus (default CoNLL-2003); the best dev checkpoint is marked
  words_per_second.png         inference words/s at batch sizes 1 and 1000 and training words/s
                               per model, from results/cost.json
  ablations.png                test F1 per ablation variant (mean over seeds, std as error bar,
                               each seed as a dot), from results/ablations/

Only measured results are drawn; a plot whose results are missing is skipped with a message
(exit code 1 if no plot could be drawn at all).

    python -m benchmarks.plots
    python -m benchmarks.plots --smoke        # from the --smoke results of the other scripts
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from .arguments import results_dir, run_main
from .datasets import CORPORA
from .fingerprints import read_current_results
from .records import BenchmarkError, DEFAULT_WORK

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SYSTEM_ORDER = ["bilstm_crf_vectors", "spacy_ner_efficiency", "spacy_ner_accuracy"]


def _smoke_note(results: List[Dict[str, Any]]) -> str:
    return " [SMOKE RUN: not a result]" if any(r.get("smoke") for r in results) else ""


def plot_dev_f1_vs_time(results_root: Path, corpus: str) -> Optional[Path]:
    runs = [r for r in read_current_results(results_root, "accuracy")[0] if r.get("corpus") == corpus]
    if not runs:
        print(f"dev F1 against time: no accuracy results for {corpus} in {results_root / 'accuracy.json'}, skipped",
              file=sys.stderr)
        return None
    systems = sorted({r["system"] for r in runs},
                     key=lambda s: (SYSTEM_ORDER.index(s) if s in SYSTEM_ORDER else 99, s))
    colours = {system: f"C{i}" for i, system in enumerate(systems)}
    fig, ax = plt.subplots(figsize=(8, 5))
    for run in sorted(runs, key=lambda r: (systems.index(r["system"]), r["seed"])):
        evaluations = run["training"]["dev_evaluations"]
        minutes = [e["seconds"] / 60 for e in evaluations]
        f1 = [e["ents_f"] * 100 for e in evaluations]
        first_seed = run["seed"] == min(r["seed"] for r in runs if r["system"] == run["system"])
        ax.plot(minutes, f1, color=colours[run["system"]], alpha=1.0 if first_seed else 0.45, linewidth=1.3,
                label=run["system"] if first_seed else None)
        best = run["training"]["best_dev"]
        ax.plot([best["seconds"] / 60], [best["ents_f"] * 100], marker="*", markersize=9,
                color=colours[run["system"]], alpha=1.0 if first_seed else 0.45)
    caps = sorted({r["max_minutes"] for r in runs})
    ax.set_xlabel("training time (minutes, dev evaluations included)")
    ax.set_ylabel("dev entity F1 (%)")
    ax.set_title(f"Dev F1 during training, {corpus} (cap {', '.join(f'{c:g}' for c in caps)} min; "
                 f"* best checkpoint){_smoke_note(runs)}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _save(fig, results_root / f"dev_f1_vs_time_{corpus}.png")


def plot_words_per_second(results_root: Path) -> Optional[Path]:
    path = results_root / "cost.json"
    if not path.exists():
        print(f"words/s bars: {path} not found, skipped", file=sys.stderr)
        return None
    data = json.loads(path.read_text())
    names = list(data["models"])
    measures = [
        ("inference, batch 1", lambda m: m["inference"]["batch1"]["words_per_second"]),
        ("inference, batch 1000", lambda m: m["inference"]["batch1000"]["words_per_second"]),
        ("training", lambda m: m["training"]["words_per_second"]),
    ]
    fig, ax = plt.subplots(figsize=(8, 5))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [get(data["models"][name]) for _, get in measures]
        positions = [j + (i - (len(names) - 1) / 2) * width for j in range(len(measures))]
        bars = ax.bar(positions, values, width, label=name, color=f"C{i}")
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=7)
    ax.set_xticks(range(len(measures)), [label for label, _ in measures])
    ax.set_ylabel("words / second")
    ax.set_title(f"Speed, one process, {data['date'][:10]}{_smoke_note([data])}", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    return _save(fig, results_root / "words_per_second.png")


def plot_ablations(results_root: Path) -> Optional[Path]:
    from . import ablations

    runs, _ = read_current_results(results_root, "ablations")
    if not runs:
        print(f"ablation chart: no results in {results_root / 'ablations'}, skipped", file=sys.stderr)
        return None
    rows = ablations.summary_rows(runs)
    fig, ax = plt.subplots(figsize=(8, 5))
    labels = [row["variant"] for row in rows]
    means = [row["test F1 mean"] for row in rows]
    errors = [row["test F1 std"] or 0.0 for row in rows]
    ax.bar(range(len(rows)), means, yerr=errors, capsize=4, color=["C0" if l == "baseline" else "C7" for l in labels])
    for i, variant in enumerate(labels):
        seeds = [r["test"]["ents_f"] * 100 for r in runs if r["variant"] == variant]
        ax.scatter([i] * len(seeds), seeds, color="black", s=10, zorder=3)
    ax.set_xticks(range(len(rows)), labels, rotation=20)
    ax.set_ylabel("test entity F1 (%)")
    caps = sorted({r["max_minutes"] for r in runs})
    ax.set_title(f"Ablations on CoNLL-2003 (mean ± std over seeds, dots: seeds; cap "
                 f"{', '.join(f'{c:g}' for c in caps)} min){_smoke_note(runs)}", fontsize=10)
    if means and min(means) > 50:
        # The differences are a few points: a bar axis from 0 would hide them.
        ax.set_ylim(min(m - e for m, e in zip(means, errors)) - 2, max(m + e for m, e in zip(means, errors)) + 1)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, results_root / "ablations.png")


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}", file=sys.stderr)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="conll2003", choices=list(CORPORA),
                        help="Corpus of the dev-F1-against-time plot (default conll2003).")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="As for the other scripts (smoke).")
    parser.add_argument("--results", type=Path, default=None,
                        help="Results folder to read and write (default benchmarks/results; "
                        "smoke: <work>/smoke/results).")
    parser.add_argument("--smoke", action="store_true", help="Plot the --smoke results of the other scripts.")
    args = parser.parse_args()
    results = results_dir(args)
    written = [plot for plot in (plot_dev_f1_vs_time(results, args.corpus), plot_words_per_second(results),
                                 plot_ablations(results)) if plot is not None]
    if not written:
        raise BenchmarkError(f"no results to plot in {results}; run accuracy.py, cost.py or ablations.py first")


if __name__ == "__main__":
    run_main(main)
