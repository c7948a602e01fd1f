"""The report of the choosing study (benchmarks/choosing.py): learning curves per strategy,
the issue's floor, the markdown table and the plot."""
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

INITIAL = "initial"  # the strategy name of round 0, shared by every strategy
# Run in this order: the floor compares uncertainty with random, so entity comes last.
STRATEGIES = ("uncertainty", "random", "entity")
# The floor: uncertainty reaches random's last-round F1 with at most this many sentences.
FLOOR_SENTENCES = 2500


def curves(runs: Sequence[Dict[str, Any]], corpus: str, seed: int) -> Dict[str, List[Tuple[int, float]]]:
    """{strategy: [(sentences, F1), ...]} of one corpus and seed, each starting at the shared round 0."""
    mine = [run for run in runs if run["corpus"] == corpus and run["seed"] == seed]
    start = [(run["sentences"], run["f1"]) for run in mine if run["strategy"] == INITIAL]
    return {strategy: start + sorted((run["sentences"], run["f1"]) for run in mine if run["strategy"] == strategy)
            for strategy in STRATEGIES}


def sentences_to_reach(curve: Sequence[Tuple[int, float]], target: float) -> Optional[int]:
    """The fewest sentences at which `curve` reaches F1 `target` (None: never)."""
    return next((sentences for sentences, f1 in curve if f1 >= target), None)


def floor_check(runs: Sequence[Dict[str, Any]], corpus: str, seed: int, rounds: int) -> Optional[Dict[str, Any]]:
    lines = curves(runs, corpus, seed)
    if len(lines["random"]) < rounds + 1:
        return None
    target = lines["random"][-1][1]
    found = {strategy: sentences_to_reach(lines[strategy], target) for strategy in ("uncertainty", "entity")}
    holds = None if len(lines["uncertainty"]) < rounds + 1 else (found["uncertainty"] or 10**9) <= FLOOR_SENTENCES
    return {"random_last_f1": target, "random_last_sentences": lines["random"][-1][0],
            "sentences_to_reach": found, "floor_sentences": FLOOR_SENTENCES, "floor_holds": holds}


def markdown_table(runs: Sequence[Dict[str, Any]], pairs: Sequence[Tuple[str, int]], rounds: int,
                   commands: Sequence[str]) -> str:
    lines = ["Test F1 (entity micro, %) by annotated sentences, from " + "; ".join(f"`{c}`" for c in commands), ""]
    for corpus, seed in pairs:
        lines_by_strategy = curves(runs, corpus, seed)
        sizes = sorted({size for curve in lines_by_strategy.values() for size, _ in curve})
        lines += [f"**{corpus}**, seed {seed}", "", "| strategy | " + " | ".join(str(s) for s in sizes) + " |",
                  "|---|" + "---:|" * len(sizes)]
        for strategy, curve in lines_by_strategy.items():
            by_size = dict(curve)
            lines.append(f"| {strategy} | " + " | ".join(f"{by_size[s]:.2f}" if s in by_size else "" for s in sizes)
                         + " |")
        check = floor_check(runs, corpus, seed, rounds)
        if check is not None:
            lines += ["", f"Random's last round: F1 {check['random_last_f1']:.2f} with {check['random_last_sentences']} "
                      f"sentences. Sentences to reach it: uncertainty {check['sentences_to_reach']['uncertainty']}, "
                      f"entity {check['sentences_to_reach']['entity']} (None: not reached). Floor (uncertainty "
                      f"<= {FLOOR_SENTENCES}): {'holds' if check['floor_holds'] else 'not met' if check['floor_holds'] is False else 'pending'}."]
        lines += ["", *chosen_table(runs, corpus, seed), ""]
    return "\n".join(lines)


def chosen_table(runs: Sequence[Dict[str, Any]], corpus: str, seed: int) -> List[str]:
    """What each strategy's rounds chose, in all (a sentence is not the unit of annotation cost:
    tokens and entities are), and what a round took."""
    lines = ["| strategy | rounds | tokens chosen | entities chosen | select s/round | train s/round |",
             "|---|---:|---:|---:|---:|---:|"]
    for strategy in STRATEGIES:
        mine = [run for run in runs if (run["corpus"], run["seed"], run["strategy"]) == (corpus, seed, strategy)]
        if mine:
            lines.append(
                f"| {strategy} | {len(mine)} | {sum(run['chosen_tokens'] for run in mine)} | "
                f"{sum(run['chosen_entities'] for run in mine)} | "
                f"{sum(run['select_seconds'] for run in mine) / len(mine):.0f} | "
                f"{sum(run['train_seconds'] for run in mine) / len(mine):.0f} |"
            )
    return lines


def plot(runs: Sequence[Dict[str, Any]], pairs: Sequence[Tuple[str, int]], path: Path) -> None:
    """The learning curves, one panel per corpus and seed, with random's latest F1 as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, max(1, len(pairs)), figsize=(5.5 * max(1, len(pairs)), 4), squeeze=False)
    for axis, (corpus, seed) in zip(axes[0], pairs):
        for strategy, curve in curves(runs, corpus, seed).items():
            if curve:
                axis.plot(*zip(*curve), marker="o", label=strategy)
        lines = curves(runs, corpus, seed)
        if len(lines["random"]) > 1:
            axis.axhline(lines["random"][-1][1], color="grey", linestyle="--", linewidth=0.8,
                         label=f"random at {lines['random'][-1][0]}")
        axis.set_title(f"{corpus}, seed {seed}")
        axis.set_xlabel("annotated training sentences")
        axis.set_ylabel("test F1 (%)")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
