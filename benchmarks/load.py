"""Load test: training and batch processing on a machine busy with other torch work, with
torch's default threads against OMP_NUM_THREADS=1.

Beside three other torch jobs (python processes doing 512x512 matmuls in a loop with 2 threads
each, started and stopped by this script), it times, in alternating rounds of the two thread
settings (`default`: no OMP_NUM_THREADS, torch's own default, one thread per core; `1`:
OMP_NUM_THREADS=1):

  train    spacy-bilstm train bilstm_crf, 40 steps on the sample corpus (corpora/sample)
  process  spacy-bilstm process MODEL in.jsonl out.jsonl over 1,500 sentences (CoNLL-2003
           test when the shared data has it, else the sample corpus's sentences, repeated)

Each command runs in a subprocess of its own; its wall-clock time includes start-up and
pipeline loading, as a user waits for it. MODEL is the pipeline of the first training run
(model-last). A table (the median of the rounds per command and setting, and the ratio of the
two settings) is printed and written with the raw times:

    python -m benchmarks.load                  # 3 rounds, a few minutes on 2 cores
    python -m benchmarks.load --rounds 5
    python -m benchmarks.load --quick          # smoke test: 1 round, 5 steps, 150 sentences

Results: benchmarks/results/load.json, the table printed (--quick: <work>/smoke/results/).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

from .arguments import results_dir, run_main, smoke_dir
from .records import BenchmarkError, DEFAULT_SHARED, DEFAULT_WORK, REPO, RESULTS, command_line, machine_info, now, write_json

STUDY = "load"
SAMPLE = REPO / "corpora" / "sample"
SETTINGS = ("default", "1")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
BACKGROUND_JOBS = 3
BACKGROUND_THREADS = 2
BACKGROUND_SCRIPT = """
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
a = torch.randn(512, 512)
print("ready", flush=True)
while True:
    a = torch.tanh(a @ a.T / 512)
"""
CLI = [sys.executable, "-c", "from spacy_bilstm.cli import main; main()"]


def environment(setting: str) -> Dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in THREAD_VARIABLES}
    if setting != "default":
        for name in THREAD_VARIABLES:
            env[name] = setting
    return env


def conll_sentences(path: Path) -> List[str]:
    sentences, tokens = [], []
    for line in path.read_text(encoding="utf8").splitlines() + [""]:
        if not line.strip() or line.startswith("-DOCSTART-"):
            if tokens:
                sentences.append(" ".join(tokens))
            tokens = []
            continue
        tokens.append(line.split()[0])
    return sentences


def workload(shared: Path, n_sentences: int) -> Dict[str, Any]:
    conll_test = shared / "corpora" / "conll2003" / "test.txt"
    source = conll_test if conll_test.is_file() else SAMPLE / "dev.conll"
    sentences = conll_sentences(source) if source == conll_test else (
        conll_sentences(SAMPLE / "train.conll") + conll_sentences(SAMPLE / "dev.conll"))
    repeated = [sentences[i % len(sentences)] for i in range(n_sentences)]
    return {"source": str(source if source == conll_test else SAMPLE), "sentences": repeated,
            "distinct_sentences": min(len(sentences), n_sentences),
            "words": sum(len(sentence.split()) for sentence in repeated)}


class Background:
    """The other torch jobs: started, waited for until each has begun, and stopped."""

    def __init__(self, jobs: int, threads: int):
        self.jobs, self.threads, self.processes = jobs, threads, []

    def __enter__(self):
        env = environment(str(self.threads))
        for _ in range(self.jobs):
            self.processes.append(subprocess.Popen(
                [sys.executable, "-c", BACKGROUND_SCRIPT, str(self.threads)], env=env,
                stdout=subprocess.PIPE, text=True))
        for process in self.processes:
            if process.stdout.readline().strip() != "ready":
                raise BenchmarkError("a background torch job did not start")
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def timed(command: List[str], env: Dict[str, str], log: Path) -> float:
    start = time.perf_counter()
    with log.open("w", encoding="utf8") as out:
        completed = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        tail = "".join(log.read_text(encoding="utf8", errors="replace").splitlines(keepends=True)[-15:])
        raise BenchmarkError(f"{' '.join(command[3:])} failed (exit code {completed.returncode}):\n{tail}")
    return seconds


def train_command(output: Path, steps: int) -> List[str]:
    return CLI + ["train", "bilstm_crf", "--output", str(output), "--train", str(SAMPLE / "train.conll"),
                  "--dev", str(SAMPLE / "dev.conll"), "--seed", "0", "--training.max_steps", str(steps),
                  "--training.eval_frequency", str(max(1, steps // 2))]


def summarise(runs: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    summary: Dict[str, Dict[str, Any]] = {}
    for task in ("train", "process"):
        row: Dict[str, Any] = {}
        for setting in SETTINGS:
            seconds = [run["seconds"] for run in runs if run["task"] == task and run["setting"] == setting]
            row[setting] = {"median_seconds": round(statistics.median(seconds), 2), "seconds": seconds}
        row["default_over_1"] = round(row["default"]["median_seconds"] / row["1"]["median_seconds"], 2)
        summary[task] = row
    return summary


def markdown(data: Dict[str, Any]) -> str:
    load = data["load"]
    lines = [
        f"Load test ({data['date']}): wall-clock seconds (median of {data['rounds']} alternating rounds) beside "
        f"{load['background_jobs']} other torch jobs of {load['background_threads']} threads each, on "
        f"{data['machine']['cores']} cores. `default`: torch's own thread count; `1`: OMP_NUM_THREADS=1.",
        "",
        f"- train: `spacy-bilstm train bilstm_crf`, {data['train_steps']} steps on corpora/sample",
        f"- process: `spacy-bilstm process` over {data['workload']['sentences']} sentences "
        f"({data['workload']['words']} words) from {data['workload']['source']}",
        "",
        "| command | default threads (s) | OMP_NUM_THREADS=1 (s) | default / 1 |",
        "|---|---|---|---|",
    ]
    for task, row in data["summary"].items():
        lines.append(f"| {task} | {row['default']['median_seconds']:.2f} | {row['1']['median_seconds']:.2f} | "
                     f"{row['default_over_1']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of each command and setting (default 3).")
    parser.add_argument("--steps", type=int, default=40, help="Training steps (default 40).")
    parser.add_argument("--sentences", type=int, default=1500, help="Sentences to process (default 1500).")
    parser.add_argument("--quick", action="store_true",
                        help="Smoke test: 1 round, 5 steps, 150 sentences; results under <work>/smoke/results.")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help=f"Shared data folder, for CoNLL-2003 test (default {DEFAULT_SHARED}).")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK,
                        help=f"Scratch folder: trained models, inputs and logs (default {DEFAULT_WORK}).")
    parser.add_argument("--results", type=Path, default=None,
                        help=f"Results folder (default {RESULTS}; with --quick, <work>/smoke/results).")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.steps, args.sentences = 1, 5, 150
    if args.rounds < 1 or args.steps < 1 or args.sentences < 1:
        raise BenchmarkError("--rounds, --steps and --sentences must be 1 or more")
    args.smoke = args.quick
    results = results_dir(args)
    scratch = (smoke_dir(args.work) if args.quick else args.work) / "runs" / STUDY
    scratch.mkdir(parents=True, exist_ok=True)

    work = workload(args.shared, args.sentences)
    source = scratch / "in.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "text": text}) + "\n"
                              for i, text in enumerate(work["sentences"])), encoding="utf8")
    # The model the process runs use: trained once, before the timed runs.
    model_run = scratch / "model"
    print(f"training the model to process ({args.steps} steps)", file=sys.stderr)
    timed(train_command(model_run, args.steps), environment("1"), scratch / "model.log")
    model = model_run / "model-last"

    runs: List[Dict[str, Any]] = []
    with Background(BACKGROUND_JOBS, BACKGROUND_THREADS):
        for round_index in range(args.rounds):
            order = SETTINGS if round_index % 2 == 0 else tuple(reversed(SETTINGS))
            for setting in order:
                env = environment(setting)
                name = f"round{round_index}-{'default' if setting == 'default' else 'omp' + setting}"
                output = scratch / f"{name}.jsonl"
                output.unlink(missing_ok=True)
                for task, command in (
                    ("train", train_command(scratch / f"{name}-training", args.steps)),
                    ("process", CLI + ["process", str(model), str(source), str(output), "--quiet"]),
                ):
                    seconds = timed(command, env, scratch / f"{name}-{task}.log")
                    runs.append({"round": round_index, "setting": setting, "task": task, "seconds": round(seconds, 3)})
                    print(f"round {round_index + 1}/{args.rounds}, threads {setting}: {task} {seconds:.1f} s",
                          file=sys.stderr)

    data = {
        "study": STUDY, "smoke": args.quick, "date": now(), "rounds": args.rounds, "train_steps": args.steps,
        "load": {"background_jobs": BACKGROUND_JOBS, "background_threads": BACKGROUND_THREADS,
                 "background_work": "512x512 float32 matmuls in a loop"},
        "workload": {**work, "sentences": len(work["sentences"])},
        "runs": runs, "summary": summarise(runs),
        "machine": machine_info(), "command": command_line(),
    }
    table = markdown(data)
    write_json(results / f"{STUDY}.json", data)
    print(table)
    print(f"results: {results / STUDY}.json", file=sys.stderr)


if __name__ == "__main__":
    run_main(main)
