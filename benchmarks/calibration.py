"""Calibration study (issue 7): are bilstm_ner's entity scores probabilities one can trust?

For a trained pipeline (--model DIR, e.g. one trained with configs/bilstm_crf_vectors.cfg on
CoNLL-2003), on CoNLL-2003 test, one Doc per sentence with the corpus's tokens (each
sentence's entities get their own probabilities):

  1. before: expected calibration error (ECE), reliability table, NLL, entity P/R/F and the
     precision/recall/F1 threshold table, at the model's stored temperature;
  2. fit the temperature on CoNLL-2003 dev (golden-section search over log T in [0.25, 10],
     minimising the NLL of entity correctness; spacy_bilstm.calibration.fit_temperature);
  3. after: the same figures on test with the fitted temperature (the entities, and so P/R/F,
     are unchanged; only the scores move).

ECE: equal-width score bins (--bins, default 10), ECE = sum over bins of (entities in bin /
all entities) * |fraction correct in bin - mean score in bin|. An entity is correct when the
gold data hold the same span with the same label. The issue's goal is ECE <= 0.05.

Writes benchmarks/results/calibration.json and calibration_reliability.png (with --smoke:
under <work>/smoke/results, on the first 300 sentences of dev and of test). Nothing is trained
and the model is not changed; the calibrated copy is not saved (use `spacy-bilstm calibrate`).

    python -m benchmarks.calibration --model /path/to/model-best
    python -m benchmarks.calibration --model /path/to/model-best --smoke
"""
import argparse
import sys
import time
from pathlib import Path
from typing import Any, Dict

from .arguments import add_common_arguments, resolve_threads, results_dir, run_main, smoke_dir, threads_in_use
from .datasets import corpus_statistics, prepare_corpus
from .records import BenchmarkError, command_line, machine_info, now, write_json

STUDY = "calibration"
CORPUS = "conll2003"
SMOKE_SENTENCES = 300


def sentence_docbin(source: Path, target: Path, limit: int = 0) -> Path:
    """One Doc per sentence of `source` (the first `limit` sentences when limit > 0); rewritten
    on every run (seconds), so it always matches the source given."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    sentences = []
    for doc in DocBin().from_disk(source).get_docs(nlp.vocab):
        sentences.extend(sent.as_doc() for sent in doc.sents)
        if limit and len(sentences) >= limit:
            sentences = sentences[:limit]
            break
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    DocBin(docs=sentences, store_user_data=False).to_disk(partial)
    partial.replace(target)
    return target


def test_figures(evaluation) -> Dict[str, Any]:
    result, report = evaluation.result, evaluation.calibration
    return {
        "ece": report.ece, "nll": report.nll, "entities": report.n_entities, "correct": report.n_correct,
        "ents_p": result.precision, "ents_r": result.recall, "ents_f": result.f_score,
        "reliability": [b.to_dict() for b in report.bins],
        "thresholds": [row.to_dict() for row in evaluation.thresholds],
        "notes": report.notes, "seconds": result.seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="Trained pipeline directory (e.g. model-best).")
    parser.add_argument("--bins", type=int, default=10, help="Score bins for the ECE (default 10).")
    parser.add_argument("--dev", type=Path, default=None,
                        help="CoNLL-2003 dev as a DocBin (default: converted from the shared corpus).")
    parser.add_argument("--test", type=Path, default=None,
                        help="CoNLL-2003 test as a DocBin (default: converted from the shared corpus).")
    add_common_arguments(parser)
    args = parser.parse_args()
    resolve_threads(args)
    if args.bins < 1:
        raise BenchmarkError(f"--bins must be 1 or more, not {args.bins}")
    if not (args.model / "config.cfg").is_file():
        raise BenchmarkError(f"{args.model}: not a pipeline directory (no config.cfg); pass --model DIR "
                                    f"of a trained pipeline, e.g. training/model-best")
    results = results_dir(args)
    result_path = results / f"{STUDY}.json"
    plot_path = results / f"{STUDY}_reliability.png"
    if result_path.exists() and not args.force:
        print(f"{result_path} exists; --force reruns the study", file=sys.stderr)
        return
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    import spacy

    from spacy_bilstm.calibration import (
        DEFAULT_THRESHOLDS, ECE_DEFINITION, evaluate_confidence, fit_temperature, plot_reliability, threshold_range,
    )
    from spacy_bilstm.evaluation import EvaluationError, load_gold_docs

    if args.dev is None or args.test is None:
        converted = prepare_corpus(args.shared, args.work, CORPUS)
        args.dev = args.dev or converted["dev"]
        args.test = args.test or converted["test"]
    for path in (args.dev, args.test):
        if not path.is_file():
            raise BenchmarkError(f"{path}: no such DocBin")
    limit = SMOKE_SENTENCES if args.smoke else 0
    scratch = (smoke_dir(args.work) if args.smoke else args.work) / STUDY
    dev = sentence_docbin(args.dev, scratch / "dev.sentences.spacy", limit)
    test = sentence_docbin(args.test, scratch / "test.sentences.spacy", limit)
    thresholds = threshold_range(*DEFAULT_THRESHOLDS)

    try:
        nlp = spacy.load(args.model)
        print(f"test, stored temperature: {test}", file=sys.stderr)
        before = evaluate_confidence(nlp, test, n_bins=args.bins, thresholds=thresholds)
        start = time.perf_counter()
        fit = fit_temperature(nlp, load_gold_docs(dev, nlp), n_bins=args.bins,
                              log=lambda text: print(f"  dev {text}", file=sys.stderr))
        fit_seconds = time.perf_counter() - start
        print(f"test, fitted temperature {fit.temperature:.4g}", file=sys.stderr)
        after = evaluate_confidence(nlp, test, n_bins=args.bins, thresholds=thresholds)
    except EvaluationError as error:
        raise BenchmarkError(str(error)) from None
    if (before.result.precision, before.result.recall) != (after.result.precision, after.result.recall):
        raise BenchmarkError("the entities changed with the temperature; only their scores may change")
    if before.calibration.ece is None:
        raise BenchmarkError(f"{args.model} predicts no scored entity on {test}; nothing to calibrate")

    result = {
        "study": STUDY, "smoke": args.smoke, "model": str(args.model),
        "component": fit.component, "bins": args.bins, "ece_definition": ECE_DEFINITION.format(bins=args.bins),
        "goal": "ECE <= 0.05 on CoNLL-2003 test",
        "data": {name: {"path": str(path), **corpus_statistics(path)} for name, path in
                 (("dev", dev), ("test", test))},
        "temperature_before": fit.temperature_before,
        "temperature": fit.temperature,
        "test_before": test_figures(before),
        "test_after": test_figures(after),
        "dev_fit": {**fit.to_dict(), "seconds": round(fit_seconds, 3)},
        "threads": threads_in_use(),
        "date": now(), "machine": machine_info(), "command": command_line(),
    }
    plot_reliability(
        {f"T = {fit.temperature_before:.3g} (ECE {before.calibration.ece:.3f})": before.calibration.bins,
         f"T = {fit.temperature:.3g} fitted on dev (ECE {after.calibration.ece:.3f})": after.calibration.bins},
        plot_path, f"bilstm_ner entity scores, CoNLL-2003 test{' (smoke)' if args.smoke else ''}",
    )
    write_json(result_path, result)
    print(f"CoNLL-2003 test: {before.calibration.n_entities:,} scored entities, F1 {100 * before.result.f_score:.2f}")
    print(f"ECE  T = {fit.temperature_before:.4g}: {before.calibration.ece:.4f}   "
          f"T = {fit.temperature:.4g} (fitted on dev): {after.calibration.ece:.4f}")
    print(f"NLL  {before.calibration.nll:.4f} -> {after.calibration.nll:.4f}")
    print(f"Results: {result_path}, diagram {plot_path}", file=sys.stderr)


if __name__ == "__main__":
    run_main(main)
