"""Throughput and peak memory of `spacy-bilstm process`, beside spaCy's own `ner`.

Workload: the CoNLL-2003 test sentences, each detokenised by joining its tokens with
spaces, one document per line, repeated until about --words words (CoNLL tokens).
Configurations, each run in its own subprocess so that its memory is its own:

  bilstm-n1    process(--n-process 1) with the bilstm_ner pipeline
  bilstm-n2    process(--n-process 2)
  bilstm-dask2 process(--engine dask --workers 2), LocalCluster on this machine
  spacy-ner    spaCy's `ner` pipeline (efficiency config, same training data) via nlp.pipe

words/s = workload words / seconds spent processing (pipeline loading and cluster start
excluded; the Dask workers' own pipeline loading is included). Peak memory: the largest
summed RSS of the configuration's process tree (sampled every 0.1 s with psutil) and the
largest single process's max RSS (from wait4).

    python -m benchmarks.speed --bilstm-model training/conll/model-best \\
        --spacy-model training/spacy-ner/model-best
    python -m benchmarks.speed --bilstm-model M1 --spacy-model M2 --smoke   # < 1 minute
    python -m benchmarks.speed ... --configs bilstm-n1 bilstm-n2 --repeat 5 --words 500000 \\
        --output /tmp/speed_rounds.json   # the n2/n1 ratio over 5 rounds, beside the study's file

Results go to benchmarks/results/speed.json (a configuration already there is skipped
unless --force) and a markdown table is printed. --smoke uses a few hundred sentences and
writes to benchmarks/work/speed-smoke.json instead, leaving the real results alone.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = (Path(os.environ.get("SPACY_BILSTM_SHARED_DATA") or REPO.parent / "shared")
                  / "corpora" / "conll2003" / "test.txt")
RESULTS = REPO / "benchmarks" / "results" / "speed.json"
SMOKE_RESULTS = REPO / "benchmarks" / "work" / "speed-smoke.json"
SMOKE_SENTENCES = 300
CONFIGS = ["bilstm-n1", "bilstm-n2", "bilstm-dask2", "spacy-ner"]
FLOORS = [
    ("bilstm-n1", "spacy-ner", 1.0, "bilstm_ner n_process=1 vs spaCy ner"),
    ("bilstm-n2", "bilstm-n1", 1.6, "n_process=2 vs n_process=1"),
]


def conll_sentences(path: Path) -> List[str]:
    """Sentences of a CoNLL-2003 file, tokens joined with single spaces."""
    sentences: List[str] = []
    tokens: List[str] = []
    with open(path, encoding="utf8") as stream:
        for line in stream:
            line = line.strip()
            if not line:
                if tokens:
                    sentences.append(" ".join(tokens))
                tokens = []
                continue
            token = line.split()[0]
            if token == "-DOCSTART-":
                continue
            tokens.append(token)
    if tokens:
        sentences.append(" ".join(tokens))
    return sentences


def write_workload(sentences: List[str], target_words: int, path: Path) -> Dict[str, int]:
    """Write sentences, repeated, until at least target_words words; return the counts."""
    if not sentences:
        raise SystemExit("The corpus has no sentences.")
    words = docs = 0
    with open(path, "w", encoding="utf8") as stream:
        while words < target_words:
            for sentence in sentences:
                stream.write(sentence + "\n")
                words += sentence.count(" ") + 1
                docs += 1
                if words >= target_words:
                    break
    return {"words": words, "docs": docs}


def run_one(config: str, model: str, input_path: Path, work_dir: Path, batch_size: int) -> Dict:
    """Runs inside the configuration's subprocess."""
    if config == "spacy-ner":
        import spacy

        nlp = spacy.load(model)
        with open(input_path, encoding="utf8") as stream:
            texts = [line.rstrip("\n") for line in stream]
        start = time.perf_counter()
        tokens = entities = 0
        for doc in nlp.pipe(texts, batch_size=batch_size):
            tokens += len(doc)
            entities += len(doc.ents)
        return {"seconds": time.perf_counter() - start, "tokens": tokens, "entities": entities, "docs": len(texts)}

    from spacy_bilstm.process import process

    options = {
        "bilstm-n1": {"n_process": 1},
        "bilstm-n2": {"n_process": 2},
        "bilstm-dask2": {"engine": "dask", "workers": 2},
    }[config]
    output = work_dir / f"{config}.jsonl"
    summary = process(model, input_path, output, batch_size=batch_size, quiet=True, overwrite=True, **options)
    output.unlink()
    return {"seconds": summary.seconds, "tokens": summary.words, "entities": summary.entities, "docs": summary.docs}


def measure(config: str, model: str, input_path: Path, work_dir: Path, batch_size: int) -> Dict:
    """Run one configuration in a subprocess, sampling its process tree's memory."""
    import psutil

    result_path = work_dir / f"{config}.result.json"
    command = [
        sys.executable, __file__, "--run-one", config, "--model-for-run", model,
        "--input-for-run", str(input_path), "--work-dir", str(work_dir),
        "--batch-size", str(batch_size), "--result-for-run", str(result_path),
    ]
    started = time.perf_counter()
    child = subprocess.Popen(command)
    root = psutil.Process(child.pid)
    peak_tree = 0
    while True:
        try:
            processes = [root] + root.children(recursive=True)
            total = 0
            for proc in processes:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            peak_tree = max(peak_tree, total)
        except psutil.Error:
            pass
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.1)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"Configuration {config} failed with exit code {code}; see its output above.")
    result = json.loads(result_path.read_text())
    result_path.unlink()
    result["wall_seconds"] = wall
    result["peak_rss_tree_mib"] = peak_tree / 2**20
    # ru_maxrss is in KiB on Linux: the largest single process (the child or a waited-for descendant).
    result["max_rss_single_process_mib"] = usage.ru_maxrss / 1024
    return result


def median_run(runs: List[Dict]) -> Dict:
    """The run with the median words/s (the lower middle one of an even number), with every
    run's words/s, in order, under "runs_words_per_second"."""
    ordered = sorted(runs, key=lambda run: run["words_per_second"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["runs_words_per_second"] = [run["words_per_second"] for run in runs]
    return median


def floor_ratio(numerator: Dict, denominator: Dict) -> Tuple[float, Optional[Tuple[float, float]]]:
    """numerator/denominator words/s: the median of the per-round ratios, and their range, when
    both were measured in the same rounds; else the ratio of the recorded runs."""
    top = numerator.get("runs_words_per_second", [])
    bottom = denominator.get("runs_words_per_second", [])
    if len(top) > 1 and len(top) == len(bottom):
        ratios = sorted(a / b for a, b in zip(top, bottom))
        middle = len(ratios) // 2
        median = ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2
        return median, (ratios[0], ratios[-1])
    return numerator["words_per_second"] / denominator["words_per_second"], None


def load_results(path: Path) -> Dict:
    if path.exists():
        return json.loads(path.read_text())
    return {"results": {}}


def markdown_table(data: Dict) -> str:
    results = data["results"]
    baseline = results.get("spacy-ner", {}).get("words_per_second")
    lines = [
        "| configuration | words/s | vs spaCy ner | seconds | words | peak RSS, process tree (MiB) | max RSS, one process (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for config in CONFIGS:
        if config not in results:
            continue
        r = results[config]
        ratio = f"{r['words_per_second'] / baseline:.2f}x" if baseline else "-"
        lines.append(
            f"| {config} | {r['words_per_second']:,.0f} | {ratio} | {r['seconds']:.1f} | {r['words']:,} "
            f"| {r['peak_rss_tree_mib']:,.0f} | {r['max_rss_single_process_mib']:,.0f} |"
        )
    for numerator, denominator, floor, label in FLOORS:
        if numerator in results and denominator in results:
            ratio, spread = floor_ratio(results[numerator], results[denominator])
            verdict = "meets" if ratio >= floor else "BELOW"
            rounds = f", median of {len(results[numerator]['runs_words_per_second'])} rounds, range {spread[0]:.2f}-{spread[1]:.2f}" if spread else ""
            lines.append(f"\n{label}: {ratio:.2f}x{rounds} ({verdict} the {floor:.1f}x floor)")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bilstm-model", help="Trained bilstm_ner pipeline (path or package).")
    parser.add_argument("--spacy-model", help="Trained spaCy ner pipeline (efficiency config), same data.")
    parser.add_argument("--words", type=int, default=1_000_000, help="Workload size in words.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="CoNLL-2003 test file.")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=CONFIGS)
    parser.add_argument("--output", type=Path, help="Results JSON (default benchmarks/results/speed.json).")
    parser.add_argument("--force", action="store_true", help="Rerun configurations already in the results.")
    parser.add_argument(
        "--repeat", type=int, default=1,
        help="Rounds of measurements: each round runs every configuration once, in turn, so that a drift of the "
        "machine's speed affects all of them; each configuration records its median run, and ratios are the "
        "median of the per-round ratios.",
    )
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_SENTENCES} sentences, once; separate results file.")
    # Internal: a single configuration, run by measure() in a subprocess.
    parser.add_argument("--run-one", choices=CONFIGS, help=argparse.SUPPRESS)
    parser.add_argument("--model-for-run", help=argparse.SUPPRESS)
    parser.add_argument("--input-for-run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result-for-run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.run_one:
        result = run_one(args.run_one, args.model_for_run, args.input_for_run, args.work_dir, args.batch_size)
        args.result_for_run.write_text(json.dumps(result))
        return

    if not args.bilstm_model or not args.spacy_model:
        parser.error("--bilstm-model and --spacy-model are required")
    if not args.corpus.exists():
        raise SystemExit(f"Corpus {args.corpus} not found; pass --corpus (the CoNLL-2003 test file).")
    output = args.output or (SMOKE_RESULTS if args.smoke else RESULTS)
    output.parent.mkdir(parents=True, exist_ok=True)
    data = load_results(output)

    sentences = conll_sentences(args.corpus)
    if args.smoke:
        sentences = sentences[:SMOKE_SENTENCES]
        target_words = sum(s.count(" ") + 1 for s in sentences)
    else:
        target_words = args.words
    models = {"spacy-ner": args.spacy_model}
    with tempfile.TemporaryDirectory(prefix="speed-", dir=None) as tmp:
        work_dir = Path(tmp)
        input_path = work_dir / "workload.txt"
        workload = write_workload(sentences, target_words, input_path)
        print(f"Workload: {workload['docs']:,} docs, {workload['words']:,} words from {args.corpus}", file=sys.stderr)
        to_run = []
        for config in args.configs:
            previous = data["results"].get(config)
            if previous and not args.force:
                note = "" if previous.get("words") == workload["words"] else (
                    f" (recorded on {previous.get('words'):,} words, not {workload['words']:,}; --force to rerun)"
                )
                print(f"{config}: already in {output}, skipped{note}", file=sys.stderr)
                continue
            to_run.append(config)
        runs: Dict[str, List[Dict]] = {config: [] for config in to_run}
        for round_number in range(1, args.repeat + 1):
            for config in to_run:
                print(f"{config}: running (round {round_number} of {args.repeat}) ...", file=sys.stderr)
                model = models.get(config, args.bilstm_model)
                result = measure(config, model, input_path, work_dir, args.batch_size)
                result.update(
                    words=workload["words"],
                    words_per_second=workload["words"] / result["seconds"],
                    model=str(model),
                    batch_size=args.batch_size,
                    date=datetime.datetime.now().isoformat(timespec="seconds"),
                )
                runs[config].append(result)
                data["results"][config] = median_run(runs[config])
                data["machine"] = {
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                }
                data["command"] = " ".join(["python", "-m", "benchmarks.speed"] + sys.argv[1:])
                # Written after each run, so an interrupted benchmark keeps what it measured.
                output.write_text(json.dumps(data, indent=2) + "\n")
    print(markdown_table(data))
    print(f"\nResults: {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
