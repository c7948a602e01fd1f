"""Study 9: sentence reading against document reading, on whole test documents.

Study 1 trains and tests on each corpus's own sentences, where `reading = "sentence"` and
`reading = "document"` see the same units. A user tags raw documents, and the pipeline's
sentencizer finds the sentences. This study tags each corpus's test documents as `convert`
wrote them (the corpus's tokens, no sentence boundaries: the pipeline's sentencizer sets them)
with every current study-1 model of a BiLSTM-CRF system, read both ways: the setting is switched
when the model is loaded, the weights are the same. It scores entities against gold (spaCy's
Scorer, exact span and type) and counts the gold entities the sentencizer cuts in two, which
sentence reading can never predict.

    python benchmarks/reading.py        # writes results/reading.{json,md,csv}
    python benchmarks/reading.py --corpora wnut17 --systems bilstm_crf

A study-1 run measured before (same corpus, system, seed and training date) keeps its row;
--force measures every run again.
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

STUDY = "reading"
READINGS = ("sentence", "document")
SYSTEMS = ("bilstm_crf", "bilstm_crf_vectors", "bilstm_crf_transformer")


def score_model(model_dir: Path, test_path: Path, reading: str) -> Dict[str, Any]:
    """Entity P/R/F of the pipeline read `reading`'s way, tagging the words of the test documents
    whole (the package's `evaluate`, as `spacy-bilstm evaluate` runs it)."""
    import spacy

    from spacy_bilstm.evaluation import evaluate

    nlp = spacy.load(model_dir, config={"components": {"bilstm_ner": {"model": {"reading": reading}}}})
    if "sentencizer" not in nlp.pipe_names:
        raise common.BenchmarkError(f"{model_dir} has no sentencizer: both readings would read whole documents")
    result = evaluate(nlp, test_path)
    return {"ents_p": result.precision, "ents_r": result.recall, "ents_f": result.f_score,
            "documents": result.n_docs, "words": result.n_words}


def sentencizer_cuts(test_path: Path, lang: str) -> Dict[str, int]:
    """Gold test entities, and those the sentencizer cuts in two."""
    import spacy
    from spacy.tokens import DocBin

    from spacy_bilstm.reachability import unreachable_entities, with_sentencizer_sentences

    docs = list(DocBin().from_disk(test_path).get_docs(spacy.blank(lang).vocab))
    counts = unreachable_entities(with_sentencizer_sentences(docs, lang), "sentence")
    return {"entities": counts.entities, "cut": counts.unreachable}


def measured_before(results_root: Path) -> Dict[tuple, Dict[str, Any]]:
    """Rows of an earlier run of this study, by the study-1 run they measured (its corpus,
    system, seed and date: a retrained model is measured again)."""
    path = results_root / f"{STUDY}.json"
    if not path.exists():
        return {}
    return {_run_key(row): row for row in json.loads(path.read_text())["runs"]}


def _run_key(run: Dict[str, Any]) -> tuple:
    return run["corpus"], run["system"], run["seed"], run.get("trained") or run.get("date")


def measure(results_root: Path, corpora: List[str], systems: List[str], *, smoke: bool,
            force: bool = False) -> List[Dict[str, Any]]:
    """Rows for the current study-1 runs of `corpora` x `systems`, measured unless measured before,
    and the rows measured before of the other current runs (a run of a subset keeps the rest)."""
    trained, _ = common.read_current_results(results_root, "accuracy")
    before = {} if force else measured_before(results_root)
    current = [r for r in trained if r["system"] in SYSTEMS and bool(r.get("smoke")) == smoke]
    selected = [r for r in current if r["corpus"] in corpora and r["system"] in systems]
    if not selected:
        raise common.BenchmarkError(f"no current study-1 result for {', '.join(systems)} on {', '.join(corpora)} "
                                    f"in {results_root / 'accuracy'}: run benchmarks/accuracy.py first")
    measured = []
    cuts: Dict[str, Dict[str, int]] = {}
    for run in current:
        if _run_key(run) in before:
            measured.append(before[_run_key(run)])
            continue
        if run not in selected:
            continue
        model_dir, test_path = Path(run["model_dir"]), Path(run["data"]["test"]["path"])
        if not model_dir.is_dir():
            raise common.BenchmarkError(f"{model_dir} (study 1, {run['corpus']} / {run['system']} / seed "
                                        f"{run['seed']}) is gone: rerun that study-1 run with --force")
        if run["corpus"] not in cuts:
            cuts[run["corpus"]] = sentencizer_cuts(test_path, common.corpus_lang(run["corpus"]))
        row = {"corpus": run["corpus"], "system": run["system"], "seed": run["seed"], "trained": run["date"],
               "model_dir": str(model_dir), "test": str(test_path), **cuts[run["corpus"]]}
        for reading in READINGS:
            row[reading] = score_model(model_dir, test_path, reading)
        print(f"{run['corpus']} / {run['system']} / seed {run['seed']}: test F1 "
              + ", ".join(f"{reading} reading {row[reading]['ents_f'] * 100:.2f}" for reading in READINGS),
              file=sys.stderr)
        measured.append(row)
    return measured


def summary_rows(measured: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for row in measured:
        groups.setdefault((row["corpus"], row["system"]), []).append(row)
    rows = []
    for (corpus, system), runs in groups.items():
        row: Dict[str, Any] = {"corpus": corpus, "system": system, "seeds": len(runs),
                               "test entities": runs[0]["entities"], "cut by the sentencizer": runs[0]["cut"]}
        for reading in READINGS:
            common.add_mean_std(row, f"F1, {reading} reading", (r[reading]["ents_f"] for r in runs), scale=100)
        common.add_mean_std(row, "Δ F1", (r["document"]["ents_f"] - r["sentence"]["ents_f"] for r in runs), scale=100)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", choices=list(common.CORPORA), default=list(common.CORPORA))
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    common.add_common_arguments(parser)
    args = parser.parse_args()
    results = common.results_dir(args)
    measured = measure(results, args.corpora, args.systems, smoke=args.smoke, force=args.force)
    common.write_json(results / f"{STUDY}.json", {"date": common.now(), "machine": common.machine_info(),
                                                  "command": common.command_line(), "runs": measured})
    scores = [f"F1, {reading} reading" for reading in READINGS] + ["Δ F1"]
    columns = ["corpus", "system", "seeds", "test entities", "cut by the sentencizer"]
    print(common.write_table(
        summary_rows(measured), columns + scores, columns + common.mean_std_columns(scores),
        results / f"{STUDY}.md", results / f"{STUDY}.csv",
        header="Test entity F1 (%, mean ± std over seeds) on whole test documents, sentences found by the "
               "pipeline's sentencizer; Δ = document reading minus sentence reading.",
    ))


if __name__ == "__main__":
    common.run_main(main)
