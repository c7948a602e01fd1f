"""The tables of the studies: mean ± std cells, markdown and CSV writers, the header that
names the machine, and the line that names every override the runs applied."""
import csv
import json
import math
import statistics
from pathlib import Path
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


def write_table(rows: List[Dict[str, Any]], markdown_columns: List[str], csv_columns: List[str],
                markdown_path: Path, csv_path: Path, header: str = "") -> str:
    """Write rows as a markdown table (display columns, `header` above it) and as CSV (numeric
    columns, for other tools); return the markdown."""
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf8") as stream:
        writer = csv.DictWriter(stream, fieldnames=csv_columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: ("" if row.get(key) is None else row.get(key)) for key in csv_columns})
    lines = [f"| {' | '.join(markdown_columns)} |", "|" + "---|" * len(markdown_columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(key)) for key in markdown_columns) + " |")
    text = (header + "\n\n" if header else "") + "\n".join(lines) + "\n"
    markdown_path.write_text(text, encoding="utf8")
    return text


def add_mean_std(row: Dict[str, Any], name: str, values: Iterable[Optional[float]], *, scale: float = 1.0,
                 digits: int = 2) -> None:
    """Set row[name] (text "mean ± std" for markdown) and row[name + " mean"], row[name + " std"] (numbers, CSV)."""
    mean, std, _ = mean_std(values)
    row[name] = format_mean_std(mean, std, scale=scale, digits=digits)
    row[f"{name} mean"] = None if mean is None else round(mean * scale, 4)
    row[f"{name} std"] = None if std is None else round(std * scale, 4)


def mean_std_columns(names: Sequence[str]) -> List[str]:
    return [f"{name} {part}" for name in names for part in ("mean", "std")]


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

    values: Dict[str, set] = {}
    for run in runs:
        for key, value in (run.get("overrides") or {}).items():
            if key not in CLI_SET_OVERRIDES and key not in ignore:
                values.setdefault(key, set()).add(json.dumps(value))
    if not values:
        return "Overrides beyond `spacy-bilstm train`'s options: none."
    return "Overrides beyond `spacy-bilstm train`'s options: " + "; ".join(
        f"`{key}` = {' / '.join(sorted(shown))}" for key, shown in sorted(values.items())) + "."
