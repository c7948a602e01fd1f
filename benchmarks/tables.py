"""The tables of the studies: mean ± std cells, the markdown table a study prints, the header
that names the machine, and the line that names every override the runs applied."""
import json
import math
import statistics
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

def mean_std(values: Iterable[float]) -> Tuple[Optional[float], Optional[float], int]:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return None, None, 0
    std = statistics.stdev(values) if len(values) > 1 else None
    return statistics.fmean(values), std, len(values)


def format_mean_std(mean: Optional[float], std: Optional[float], scale: float = 1.0, digits: int = 2) -> str:
    if mean is None:
        return "-"
    text = f"{mean * scale:.{digits}f}"
    if std is not None:
        text += f" ± {std * scale:.{digits}f}"
    return text


def markdown_table(rows: List[Dict[str, Any]], columns: List[str], header: str = "") -> str:
    """Rows as a markdown table of `columns`, with `header` above it. The study's JSON holds every
    figure; the table is printed, never written beside it, so that benchmarks/results keeps one
    file per study."""
    lines = [f"| {' | '.join(columns)} |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(key)) for key in columns) + " |")
    return (header + "\n\n" if header else "") + "\n".join(lines) + "\n"


def add_mean_std(row: Dict[str, Any], name: str, values: Iterable[Optional[float]], *, scale: float = 1.0,
                 digits: int = 2) -> None:
    """Set row[name] (text "mean ± std" for markdown) and row[name + " mean"], row[name + " std"] (numbers)."""
    mean, std, _ = mean_std(values)
    row[name] = format_mean_std(mean, std, scale=scale, digits=digits)
    row[f"{name} mean"] = None if mean is None else round(mean * scale, 4)
    row[f"{name} std"] = None if std is None else round(std * scale, 4)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def machine_header(results: List[Dict[str, Any]]) -> str:
    """Dates, machine and package versions of a set of results, for the top of a table."""
    if not results:
        return ""
    dates = sorted(r["date"] for r in results if r.get("date"))
    machines = {json.dumps(r.get("machine"), sort_keys=True) for r in results}
    lines = [f"Runs dated {dates[0]} to {dates[-1]}." if dates else ""]
    for machine_json in sorted(machines):
        machine = json.loads(machine_json) or {}
        versions = ", ".join(f"{k} {v}" for k, v in (machine.get("packages") or {}).items() if v)
        lines.append(f"Machine: {machine.get('cores')} cores ({machine.get('cores_usable')} usable), "
                      f"{machine.get('cpu_model')}, {machine.get('memory_gib')} GiB; Python {machine.get('python')}; "
                      f"{versions}.")
    return "\n".join(line for line in lines if line)



def overrides_line(runs: Iterable[Dict[str, Any]], ignore: Sequence[str] = ()) -> str:
    """The config settings the runs overrode beyond what `spacy-bilstm train`'s own options set
    (the data, vectors and seed), each with its values: what a reader must add to the README's
    `spacy-bilstm train` command to repeat a run. `ignore`: keys the table shows in a column."""
    from .overrides import CLI_SET_OVERRIDES

    runs = list(runs)
    values: Dict[str, set] = {}
    for run in runs:
        for key, value in (run.get("overrides") or {}).items():
            if key not in CLI_SET_OVERRIDES and key not in ignore:
                values.setdefault(key, set()).add(json.dumps(value))
    # Runs stored before results recorded their overrides must not read as runs with none.
    unrecorded = sum("overrides" not in run for run in runs)
    note = f" ({unrecorded} of {len(runs)} runs predate recorded overrides)" if unrecorded else ""
    if not values:
        return f"Overrides beyond `spacy-bilstm train`'s options: none{note}."
    return "Overrides beyond `spacy-bilstm train`'s options: " + "; ".join(
        f"`{key}` = {' / '.join(sorted(shown))}" for key, shown in sorted(values.items())) + f"{note}."
