"""The reliability diagram (matplotlib, imported only when a diagram is asked for)."""
from pathlib import Path
from typing import Dict, List, Union

from ..errors import SpacyBilstmError
from ..evaluation import EvaluationError
from ..files import atomic_write
from .maths import ReliabilityBin

PathLike = Union[str, Path]


def plot_reliability(tables: Dict[str, List[ReliabilityBin]], path: PathLike, title: str = "Reliability diagram") -> None:
    """Accuracy against mean score per bin (one line per table, e.g. before/after temperature
    scaling) over the diagonal of perfect calibration, and the entities per bin below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(5.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect calibration")
    n_tables = max(len(tables), 1)
    for index, (name, table) in enumerate(tables.items()):
        filled = [b for b in table if b.count]
        top.plot([b.mean_score for b in filled], [b.accuracy for b in filled], marker="o", label=name)
        width = (table[0].upper - table[0].lower) / n_tables if table else 0.1
        bottom.bar([b.lower + (index + 0.5) * width for b in table], [b.count for b in table],
                   width=width, label=name)
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("fraction correct")
    top.set_title(title)
    top.legend(loc="upper left", fontsize="small")
    bottom.set_yscale("symlog")
    bottom.set_xlabel("entity score")
    bottom.set_ylabel("entities")
    figure.tight_layout()
    target = Path(path)
    atomic_write(target, lambda temp: figure.savefig(temp, format="png", dpi=120))
    plt.close(figure)


def write_reliability_plot(tables: Dict[str, List[ReliabilityBin]], path: PathLike, title: str) -> None:
    """plot_reliability, with any failure (no matplotlib, a refused write) a user error."""
    try:
        plot_reliability(tables, path, title)
    except SpacyBilstmError:
        raise
    except Exception as error:
        raise EvaluationError(f"{path}: cannot write the reliability diagram ({type(error).__name__}: {error}). "
                              f"Choose another path.") from None
