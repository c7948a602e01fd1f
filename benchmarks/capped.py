"""Capped training runs: each run trains through `spacy_bilstm.training.train` (what
`spacy-bilstm train` runs), in a subprocess of its own (`python -m benchmarks.capped
train-and-test ...`, started by `run_training`), so each run has its own memory, threads and
log, and one failing run does not end a study.

Why the wall-clock cap is implemented the way it is: `--training.max_steps` cannot express
minutes, and killing a run at a timeout could cut a model-best write in half. So two hooks go
into the run's config as overrides: a before_update callback (`benchmarks.stop_at_cap.v1`) that
ends the run once the cap is reached (spaCy's loop then saves model-last on its way out, and
model-best holds the best dev checkpoint evaluated within the cap), and a logger
(`benchmarks.recording_logger.v1`, wrapping the config's own) that records each dev evaluation
with its time. The clock starts at the first update and counts updates and evaluations, not the
checkpoints spaCy's loop writes after each evaluation (timed apart, `checkpoint_seconds`). The
pipelines saved name the config without the hooks. The parent still enforces a hard timeout
(cap plus a generous grace for initialisation and the final test evaluation) so that a hung run
cannot stall a study; such a run is reported as failed, never recorded as a result."""
import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from .arguments import child_environment, threads_in_use
from .records import (REPO, BenchmarkError, command_line, machine_info, now, recorded_overrides, recorded_path,
                      write_json)

CAP_CALLBACK = "benchmarks.stop_at_cap.v1"
RECORDING_LOGGER = "benchmarks.recording_logger.v1"


class CapReached(Exception):
    """Raised by the before_update hook of a capped run once its time is up."""


class _CappedRun:
    """What spaCy's training loop reports about one capped run, through the two hooks."""

    def __init__(self, cap_seconds: float, output_dir: Path):
        self.cap_seconds = cap_seconds
        self.output_dir = output_dir
        self.called = time.perf_counter()
        self.start: Optional[float] = None  # the first update
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
        return 0.0 if self.start is None else time.perf_counter() - self.start - self.save_seconds

    def evaluated(self, seconds: float) -> None:
        self.eval_seconds += seconds
        self.eval_end = time.perf_counter()

    def before_update(self, nlp, step: int) -> None:
        # Called before every update: the previous step, its evaluation and saves are done.
        if self.start is None:
            self.start = time.perf_counter()
            # spaCy's evaluation callback looks nlp.evaluate up at each evaluation: timed from here on.
            nlp.evaluate = _timed(nlp.evaluate, self.evaluated)
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


# The run in progress in this process (one at a time: each run has a subprocess of its own).
_CAPPED_RUN: Optional[_CappedRun] = None


def _register_capped_hooks() -> None:
    from spacy.util import registry

    if CAP_CALLBACK in registry.callbacks:
        return

    @registry.callbacks(CAP_CALLBACK)
    def stop_at_cap(before_update: Optional[Callable] = None) -> Callable:
        def hook(nlp, args: Dict[str, Any]) -> None:
            _CAPPED_RUN.before_update(nlp, args["step"])
            if before_update is not None:
                before_update(nlp, args)
        return hook

    @registry.loggers(RECORDING_LOGGER)
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


def train_capped(config_path: Path, output_dir: Path, *, overrides: Dict[str, Any],
                 max_minutes: float) -> Dict[str, Any]:
    """Train with `spacy_bilstm.training.train` (checks, vectors and all, as `spacy-bilstm train`),
    stopping cleanly once `max_minutes` of training (updates and dev evaluations; the checkpoints
    written are timed apart) have passed. Returns what happened, including every dev evaluation
    with its time. `init_seconds`: from the call of train to the first update (checks, corpus
    reading, initialisation)."""
    global _CAPPED_RUN
    import spacy

    from spacy_bilstm.training import train

    output_dir.mkdir(parents=True, exist_ok=True)
    config = spacy.util.load_config(config_path, overrides=overrides, interpolate=False)
    config.to_disk(output_dir / "config.cfg")
    training = config["training"]
    hooks = {
        "training.before_update": {"@callbacks": CAP_CALLBACK, "before_update": training["before_update"]},
        "training.logger": {"@loggers": RECORDING_LOGGER, "logger": training["logger"]},
    }
    _register_capped_hooks()
    (output_dir / "dev_evaluations.jsonl").unlink(missing_ok=True)
    run = _CAPPED_RUN = _CappedRun(max_minutes * 60, output_dir)
    stopped_by = "config"  # the config's own max_steps, max_epochs or patience
    try:
        train(config_path, output_dir, overrides={**overrides, **hooks}, log=print)
    except CapReached:
        stopped_by = "time"  # spaCy's loop has saved model-last on its way out
    finally:
        _CAPPED_RUN = None
    # The saved pipelines name the config the run was given, without the benchmark's hooks.
    for saved in ("model-best", "model-last"):
        if (output_dir / saved / "config.cfg").exists():
            saved_config = spacy.util.load_config(output_dir / saved / "config.cfg", interpolate=False)
            saved_config["training"].update({key.split(".")[1]: training[key.split(".")[1]] for key in hooks})
            saved_config.to_disk(output_dir / saved / "config.cfg")
    best, info = run.best, run.info
    if best is None:
        raise RuntimeError("training ended before its first dev evaluation; no model-best was written")
    loop_seconds = run.loop_seconds
    update_seconds = loop_seconds - run.eval_seconds
    return {
        "stopped_by": stopped_by,
        "max_minutes": max_minutes,
        "init_seconds": round((run.start or run.called) - run.called, 3),
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
    """Entity P/R/F (micro and per type) of a trained pipeline on a DocBin, as `spacy-bilstm
    evaluate` scores it: whole documents, on the corpus's tokens."""
    from spacy_bilstm.evaluation import evaluate

    result = evaluate(model_dir, data_path)
    return {
        "ents_p": result.precision, "ents_r": result.recall, "ents_f": result.f_score,
        "ents_per_type": result.per_type, "documents": result.n_docs, "words": result.n_words,
        "seconds": round(result.seconds, 3),
    }


def run_record(args: argparse.Namespace, summary: Dict[str, Any], *, config_path: Path,
               fingerprints: Dict[str, str], overrides: Dict[str, Any], run_dir: Path,
               data: Optional[Dict[str, Path]] = None) -> Dict[str, Any]:
    """What a capped study's result records of a run of `run_training`, after the keys that say
    which run it is (run_id, corpus, system or variant, seed): its settings, where its model is,
    its data (when given) with their sizes, its scores, and where and how it ran. Paths as
    records.recorded_path writes them."""
    from .datasets import corpus_statistics

    record: Dict[str, Any] = {
        "smoke": args.smoke, "max_minutes": args.max_minutes, "config": recorded_path(config_path, args.shared),
        **fingerprints, "overrides": recorded_overrides(overrides, args.shared),
        "run_dir": recorded_path(run_dir, args.shared),
        "model_dir": recorded_path(run_dir / "model-best", args.shared),
    }
    if data is not None:
        record["data"] = {split: {"path": recorded_path(path, args.shared), **corpus_statistics(path)}
                          for split, path in data.items()}
    record.update(test=summary["test"], training=summary["training"], threads=summary["threads"], date=now(),
                  machine=machine_info(), command=command_line())
    return record


def add_score_columns(row: Dict[str, Any], runs: Sequence[Dict[str, Any]]) -> None:
    """The columns a study's table shows of its runs' records (run_record): test P/R/F1, best dev
    F1, minutes to best dev and training minutes, mean ± std over the runs (tables.add_mean_std)."""
    from .tables import add_mean_std

    for key, label in (("ents_p", "test P"), ("ents_r", "test R"), ("ents_f", "test F1")):
        add_mean_std(row, label, (r["test"][key] for r in runs), scale=100)
    add_mean_std(row, "best dev F1", (r["training"]["best_dev"]["ents_f"] for r in runs), scale=100)
    add_mean_std(row, "min to best dev", (r["training"]["seconds_to_best_dev"] / 60 for r in runs), digits=1)
    add_mean_std(row, "training min", (r["training"]["loop_seconds"] / 60 for r in runs), digits=1)


def run_training(*, config_path: Path, run_dir: Path, overrides: Dict[str, Any], max_minutes: float,
                 test_path: Path, threads: Optional[int] = None, grace_minutes: float = 30.0) -> Dict[str, Any]:
    """Train and test in a subprocess (log: <run_dir>/train.log); return its summary."""
    run_dir.mkdir(parents=True, exist_ok=True)
    summary_path = run_dir / "summary.json"
    summary_path.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "benchmarks.capped", "train-and-test",
        "--config", str(config_path), "--output", str(run_dir), "--max-minutes", str(max_minutes),
        "--test", str(test_path), "--overrides", json.dumps(overrides), "--summary", str(summary_path),
    ]
    timeout = (max_minutes + grace_minutes) * 60
    log_path = run_dir / "train.log"
    with log_path.open("w", encoding="utf8") as log:
        log.write(" ".join(command) + "\n\n")
        log.flush()
        try:
            completed = subprocess_run(command, log, timeout, threads)
        except TimeoutError:
            raise BenchmarkError(
                f"training in {run_dir} did not finish within {timeout / 60:.0f} minutes (cap {max_minutes} "
                f"plus {grace_minutes} for initialisation and testing); see {log_path}"
            )
    if completed != 0 or not summary_path.exists():
        tail = "".join(log_path.read_text(encoding="utf8", errors="replace").splitlines(keepends=True)[-15:])
        raise BenchmarkError(f"training in {run_dir} failed (exit code {completed}); "
                             f"last lines of {log_path}:\n{tail}")
    return json.loads(summary_path.read_text())


def subprocess_run(command: List[str], log, timeout: float, threads: Optional[int]) -> int:
    """Run `command` from the repository (so `benchmarks` imports), output into `log`; its exit code."""
    import subprocess

    try:
        return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, cwd=REPO,
                              env=child_environment(threads)).returncode
    except subprocess.TimeoutExpired:
        raise TimeoutError(command) from None


def _train_and_test_main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capped train-and-test")
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


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "train-and-test":
        _train_and_test_main(sys.argv[2:])
    else:
        raise SystemExit("usage: python -m benchmarks.capped train-and-test ... (used by the benchmark studies)")
