"""Where the studies keep things and how their result files are written: the repository's
folders, the shared data folder, one JSON per study (`results/<study>.json`, its runs in a
"runs" list), and paths recorded relative to the repository or to the shared folder
(`<shared>/...`), never as the machine's absolute path."""
import datetime
import fcntl
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]


# The shared data folder: SPACY_BILSTM_SHARED_DATA when set (as for the tests), else ../shared.
DEFAULT_SHARED = Path(os.environ.get("SPACY_BILSTM_SHARED_DATA") or REPO.parent / "shared")


DEFAULT_WORK = REPO / "benchmarks" / "work"


RESULTS = REPO / "benchmarks" / "results"


CONFIGS = REPO / "configs"


PACKAGES = ("spacy", "spacy-bilstm", "thinc", "torch", "numpy", "matplotlib")


class BenchmarkError(Exception):
    """A problem the user can fix (missing data, bad option); printed without a traceback."""


def machine_info() -> Dict[str, Any]:
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_model": cpu_model or platform.processor() or None,
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "memory_gib": memory_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
    }


def command_line() -> str:
    """The study's command as `python -m benchmarks.<study> ...`, whatever folder it ran from."""
    module = Path(sys.argv[0]).stem
    return " ".join(["python", "-m", f"benchmarks.{module}"] + sys.argv[1:])


def now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


SHARED_PREFIX = "<shared>/"


def recorded_path(path: Path, shared: Path = DEFAULT_SHARED) -> str:
    """A path as result files record it: relative to the repository, or to the shared data
    folder as `<shared>/...`. A path outside both (a --work folder elsewhere, as the smoke tests
    use) stays whole: such runs are not for benchmarks/results, whose files a test keeps free of
    absolute paths."""
    path = Path(path).resolve()
    for root, prefix in ((REPO, ""), (Path(shared).resolve(), SHARED_PREFIX)):
        try:
            return prefix + str(path.relative_to(root))
        except ValueError:
            continue
    return str(path)


def resolved_path(recorded: str, shared: Path = DEFAULT_SHARED) -> Path:
    """The path on this machine of a path as result files record it (see recorded_path)."""
    if recorded.startswith(SHARED_PREFIX):
        return Path(shared) / recorded[len(SHARED_PREFIX):]
    return REPO / recorded


def recorded_overrides(overrides: Dict[str, Any], shared: Path = DEFAULT_SHARED) -> Dict[str, Any]:
    """A run's overrides as its result records them: the paths among them made relative."""
    return {key: recorded_path(Path(value), shared) if key.startswith("paths.") and isinstance(value, str)
            and Path(value).is_absolute() else value for key, value in overrides.items()}


def write_json(path: Path, data: Any) -> None:
    """Write atomically, so an interrupted study never leaves half a result file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(partial, path)


def write_study(results_root: Path, study: str, runs: List[Dict[str, Any]], **fields: Any) -> None:
    """Write a study measured in one go (all its runs at once): its runs, with the date, machine
    and command of the measurement and any `fields` the study adds."""
    write_json(study_path(results_root, study), {"study": study, "date": now(), "machine": machine_info(),
                                                 "command": command_line(), **fields, "runs": runs})


def study_path(results_root: Path, study: str) -> Path:
    """The one result file of a study."""
    return results_root / f"{study}.json"


def read_runs(results_root: Path, study: str) -> List[Dict[str, Any]]:
    """The runs recorded in a study's result file (none before its first run)."""
    path = study_path(results_root, study)
    if not path.exists():
        return []
    return json.loads(path.read_text())["runs"]


def find_run(results_root: Path, study: str, run_id: str) -> Optional[Dict[str, Any]]:
    return next((run for run in read_runs(results_root, study) if run.get("run_id") == run_id), None)


def store_run(results_root: Path, study: str, run: Dict[str, Any],
              order: Optional[Callable[[Dict[str, Any]], Any]] = None) -> None:
    """Add `run` to its study's result file, in place of an earlier run with the same run_id.
    Under a lock: runs of one study in separate processes (e.g. a seed each) must not lose
    each other's records between reading and writing the file."""
    path = study_path(results_root, study)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        runs = [old for old in read_runs(results_root, study) if old.get("run_id") != run["run_id"]] + [run]
        runs.sort(key=order or (lambda r: r["run_id"]))
        write_json(path, {"study": study, "runs": runs})
