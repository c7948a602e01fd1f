"""Whether a stored run still stands for its config: fingerprints of a config's settings (the
current one, and the legacy ones earlier results recorded), and the study helpers that skip
runs already done and leave stale ones out of the tables."""
import functools
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .overrides import GOLD_PREPROC, STUDY_OVERRIDES
from .records import BenchmarkError, find_run, read_runs, resolved_path

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
    if not result.get("config"):
        return False
    config = resolved_path(result["config"])
    if not config.is_file():
        return False
    if result.get("config_fingerprint"):
        return result["config_fingerprint"] in (config_fingerprint(config), *_legacy_config_fingerprints(config))
    return result.get("config_sha256") == config_sha256(config)


def read_sentence_by_sentence(result: Dict[str, Any]) -> bool:
    """Whether a stored run read its corpus with gold_preproc, as the studies did before they
    read it as `spacy-bilstm train` does."""
    return any((result.get("overrides") or {}).get(key) for key in GOLD_PREPROC)


def is_done(results_root: Path, study: str, run_id: str, *, force: bool, label: str) -> bool:
    """Whether a run can be skipped: its study's result file holds it, --force was not given, and
    the config it was trained with is unchanged (a stale result is said so and rerun)."""
    result = None if force else find_run(results_root, study, run_id)
    if result is None:
        return False
    if read_sentence_by_sentence(result) and not set(GOLD_PREPROC) <= set(STUDY_OVERRIDES.get(study, ())):
        print(f"{label}: {run_id} was trained sentence by sentence (gold_preproc), which {study} no longer "
              f"does; rerunning", file=sys.stderr)
        return False
    if result_is_current(result):
        print(f"{label}: done already ({run_id} in {study}.json), skipped", file=sys.stderr)
        return True
    print(f"{label}: {run_id} was trained with an earlier version of {Path(result.get('config') or '?').name}; "
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
    return current_results(read_runs(results_root, study))


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
                             f"in {results_root / 'accuracy.json'}: run `python -m benchmarks.accuracy` first")
    rows = []
    for run in current:
        key = _study1_run_key(run)
        if key in before and not (force and run in selected):
            rows.append(before[key])
        elif run in selected:
            if not resolved_path(run["model_dir"]).is_dir():
                raise BenchmarkError(f"{run['model_dir']} (study 1, {run['corpus']} / {run['system']} / seed "
                                     f"{run['seed']}) is gone: rerun that study-1 run with --force")
            rows.append({"corpus": run["corpus"], "system": run["system"], "seed": run["seed"],
                         "trained": run["date"], "model_dir": run["model_dir"], **measure_model(run)})
    return rows


def _study1_run_key(run: Dict[str, Any]) -> tuple:
    return run["corpus"], run["system"], run["seed"], run.get("trained") or run.get("date")


def config_uses_vectors(config_path: Path, changes: Optional[Dict[str, Any]] = None) -> bool:
    """Whether a run of this config, with the settings in `changes` (dotted keys, as a run
    overrides them), gets the study's static vectors: whether a component reads them
    (spacy_bilstm.training.configs.uses_static_vectors, which `spacy-bilstm train` checks)."""
    import spacy

    from spacy_bilstm.training.configs import uses_static_vectors

    return uses_static_vectors(spacy.util.load_config(config_path, overrides=dict(changes or {}), interpolate=False))

