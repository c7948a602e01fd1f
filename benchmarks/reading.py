"""Study 9: sentence reading against document reading, on whole test documents.

Study 1 trains and tests on each corpus's own sentences, where `reading = "sentence"` and
`reading = "document"` see the same units. A user tags raw documents, and the pipeline's
sentencizer finds the sentences. This study tags each corpus's test documents as `convert`
wrote them (the corpus's tokens, no sentence boundaries: the pipeline's sentencizer sets them)
with every current study-1 model of a BiLSTM-CRF system, read both ways: the setting is switched
when the model is loaded, the weights are the same. It scores entities against gold (spaCy's
Scorer, exact span and type) and counts the gold entities the sentencizer cuts in two, which
sentence reading can never predict.

    python -m benchmarks.reading        # writes results/reading.json, prints the table
    python -m benchmarks.reading --corpora wnut17 --systems bilstm_crf

A study-1 run measured before (same corpus, system, seed and training date) keeps its row;
--force measures the runs of the corpora and systems given again; the other rows stay.
"""
import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List

from .arguments import add_study1_model_arguments, results_dir, run_main
from .datasets import CORPORA, corpus_lang
from .fingerprints import measure_study1_models
from .overrides import BILSTM_CRF_CONFIGS
from .records import BenchmarkError, write_study
from .tables import add_mean_std, markdown_table

STUDY = "reading"
READINGS = ("sentence", "document")
SYSTEMS = BILSTM_CRF_CONFIGS


def score_model(model_dir: Path, test_path: Path, reading: str) -> Dict[str, Any]:
    """Entity P/R/F of the pipeline read `reading`'s way, tagging the words of the test documents
    whole (the package's `evaluate`, as `spacy-bilstm evaluate` runs it)."""
    import spacy

    from spacy_bilstm.evaluation import evaluate

    nlp = spacy.load(model_dir, config={"components": {"bilstm_ner": {"model": {"reading": reading}}}})
    if "sentencizer" not in nlp.pipe_names:
        raise BenchmarkError(f"{model_dir} has no sentencizer: both readings would read whole documents")
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


def measure(results_root: Path, corpora: List[str], systems: List[str], *, smoke: bool,
            force: bool = False) -> List[Dict[str, Any]]:
    """Rows for the current study-1 runs of `corpora` x `systems` (measure_study1_models)."""
    cuts: Dict[str, Dict[str, int]] = {}

    def measure_model(run: Dict[str, Any]) -> Dict[str, Any]:
        model_dir, test_path = Path(run["model_dir"]), Path(run["data"]["test"]["path"])
        if run["corpus"] not in cuts:
            cuts[run["corpus"]] = sentencizer_cuts(test_path, corpus_lang(run["corpus"]))
        row = {"test": str(test_path), **cuts[run["corpus"]]}
        for reading in READINGS:
            row[reading] = score_model(model_dir, test_path, reading)
        print(f"{run['corpus']} / {run['system']} / seed {run['seed']}: test F1 "
              + ", ".join(f"{reading} reading {row[reading]['ents_f'] * 100:.2f}" for reading in READINGS),
              file=sys.stderr)
        return row

    return measure_study1_models(results_root, STUDY, SYSTEMS, corpora, systems, smoke=smoke, force=force,
                                        measure_model=measure_model)


def summary_rows(measured: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for row in measured:
        groups.setdefault((row["corpus"], row["system"]), []).append(row)
    rows = []
    for (corpus, system), runs in groups.items():
        row: Dict[str, Any] = {"corpus": corpus, "system": system, "seeds": len(runs),
                               "test entities": runs[0]["entities"], "cut by the sentencizer": runs[0]["cut"]}
        for reading in READINGS:
            add_mean_std(row, f"F1, {reading} reading", (r[reading]["ents_f"] for r in runs), scale=100)
        add_mean_std(row, "Δ F1", (r["document"]["ents_f"] - r["sentence"]["ents_f"] for r in runs), scale=100)
        rows.append(row)
    return rows


SCORES = [f"F1, {reading} reading" for reading in READINGS] + ["Δ F1"]
COLUMNS = ["corpus", "system", "seeds", "test entities", "cut by the sentencizer"] + SCORES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_study1_model_arguments(parser, CORPORA, SYSTEMS)
    args = parser.parse_args()
    results = results_dir(args)
    measured = measure(results, args.corpora, args.systems, smoke=args.smoke, force=args.force)
    write_study(results, STUDY, measured)
    print(markdown_table(
        summary_rows(measured), COLUMNS,
        header="Test entity F1 (%, mean ± std over seeds) on whole test documents, sentences found by the "
               "pipeline's sentencizer; Δ = document reading minus sentence reading.",
    ))


if __name__ == "__main__":
    run_main(main)
