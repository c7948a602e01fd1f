"""Study 10: recall-leaning decoding, a bias on entity tags chosen on dev.

On WNUT-17 every system finds a fraction of the entities (recall 10-30) and is right more often
than it finds (precision 30-65), so F1 might gain from decoding that leans towards entities. This
study asks whether it does, without retraining: for every current study-1 model of a BiLSTM-CRF
system it adds a bias b to the emission score of every entity tag (B, I, L, U; not O) before the
CRF's Viterbi decoding, on dev and on test (the corpus's own sentences, as study 1 tests). Each
model gets the b of the grid with the best dev F1 (ties go to the b nearest 0), as a user would
choose it on their own dev set; the test F1 at that b is set against the test F1 at b = 0, the
model as shipped. The model runs once per split; only the decoding is repeated per b.

    python -m benchmarks.decoding       # writes results/decoding.json, prints the table
    python -m benchmarks.decoding --corpora wnut17 --systems bilstm_crf

A study-1 run measured before (same corpus, system, seed and training date) keeps its row;
--force measures the runs of the corpora and systems given again; the other rows stay.
"""
import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any, Dict, List, Sequence, Set, Tuple

from .arguments import add_study1_model_arguments, results_dir, run_main
from .datasets import CORPORA
from .fingerprints import measure_study1_models
from .overrides import BILSTM_CRF_CONFIGS
from .records import write_study
from .tables import add_mean_std, markdown_table

STUDY = "decoding"
SYSTEMS = BILSTM_CRF_CONFIGS
BIASES = (-0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
BATCH_SIZE = 1000

Entity = Tuple[int, int, int, str]  # (sentence, start, end, label)


class BiasedDecoder:
    """One split of a corpus, run once through a trained pipeline: the model's emissions and CRF
    scores per batch, and the gold entities, so that it can be decoded again under any bias."""

    def __init__(self, nlp, data_path: Path):
        from spacy.training import Corpus

        from spacy_bilstm import layers

        self.ner = nlp.get_pipe("bilstm_ner")
        examples = list(Corpus(data_path, gold_preproc=True)(nlp))
        self.gold: List[Set[Entity]] = [
            {(i, ent.start, ent.end, ent.label_) for ent in eg.reference.ents} for i, eg in enumerate(examples)
        ]
        docs = [eg.predicted for eg in examples]
        for name, component in nlp.pipeline:
            if name == self.ner.name:
                break
            docs = list(component.pipe(docs))
        self.outputs = []
        for first in range(0, len(docs), BATCH_SIZE):
            with layers.inference_mode():
                self.outputs.append((first, self.ner.model.predict(docs[first:first + BATCH_SIZE])))

    def scores(self, bias: float) -> Dict[str, float]:
        """Entity micro P/R/F (exact span and type) with `bias` added to every entity tag's
        emission (tag 0 is O, BiluoTags' convention), decoded as the component decodes."""
        from spacy_bilstm import layers

        tagger = self.ner.model.get_ref("tagger")
        predicted: Set[Entity] = set()
        for first, output in self.outputs:
            biased = dataclasses.replace(output, emissions=[_with_entity_bias(e, bias) for e in output.emissions])
            for (doc_index, offset, _), path in zip(output.units, layers.best_paths(tagger, biased)):
                for start, end, label in self.ner._tags.spans_from_ids(path):
                    predicted.add((first + doc_index, offset + start, offset + end, label))
        gold = set().union(*self.gold)
        correct = len(gold & predicted)
        precision = correct / len(predicted) if predicted else 0.0
        recall = correct / len(gold) if gold else 0.0
        f_score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"ents_p": precision, "ents_r": recall, "ents_f": f_score}


def _with_entity_bias(emissions, bias: float):
    biased = emissions.copy()
    biased[:, 1:] += bias
    return biased


def chosen_bias(dev_f: Dict[float, float], biases: Sequence[float]) -> float:
    """The bias with the best dev F1; among equals, the one nearest 0 (the model as trained)."""
    return max(biases, key=lambda bias: (round(dev_f[bias], 10), -abs(bias)))


def measure_model(run: Dict[str, Any]) -> Dict[str, Any]:
    """A study-1 model's F1 on dev and test under every bias, and the bias it chooses on dev."""
    import spacy

    nlp = spacy.load(run["model_dir"])
    by_split = {}
    for split in ("dev", "test"):
        decoder = BiasedDecoder(nlp, Path(run["data"][split]["path"]))
        by_split[split] = {bias: decoder.scores(bias) for bias in BIASES}
    bias = chosen_bias({b: s["ents_f"] for b, s in by_split["dev"].items()}, BIASES)
    row = {
        "chosen_bias": bias,
        "dev": {"shipped": by_split["dev"][0.0], "chosen": by_split["dev"][bias]},
        "test": {"shipped": by_split["test"][0.0], "chosen": by_split["test"][bias]},
        "dev_f_by_bias": {str(b): s["ents_f"] for b, s in by_split["dev"].items()},
        "test_f_by_bias": {str(b): s["ents_f"] for b, s in by_split["test"].items()},
    }
    print(f"{run['corpus']} / {run['system']} / seed {run['seed']}: bias {bias:g}, test F1 "
          f"{row['test']['shipped']['ents_f'] * 100:.2f} -> {row['test']['chosen']['ents_f'] * 100:.2f}",
          file=sys.stderr)
    return row


def summary_rows(measured: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for row in measured:
        groups.setdefault((row["corpus"], row["system"]), []).append(row)
    rows = []
    for (corpus, system), runs in sorted(groups.items()):
        row: Dict[str, Any] = {"corpus": corpus, "system": system, "seeds": len(runs),
                               "chosen bias": ", ".join(f"{r['chosen_bias']:g}" for r in runs)}
        for split in ("dev", "test"):
            for which, label in (("shipped", "b = 0"), ("chosen", "chosen b")):
                add_mean_std(row, f"{split} F1, {label}", (r[split][which]["ents_f"] for r in runs), scale=100)
        add_mean_std(row, "test Δ F1", (r["test"]["chosen"]["ents_f"] - r["test"]["shipped"]["ents_f"]
                                                for r in runs), scale=100)
        add_mean_std(row, "test R, chosen b", (r["test"]["chosen"]["ents_r"] for r in runs), scale=100)
        rows.append(row)
    return rows


SCORES = ["dev F1, b = 0", "dev F1, chosen b", "test F1, b = 0", "test F1, chosen b", "test Δ F1", "test R, chosen b"]
COLUMNS = ["corpus", "system", "seeds", "chosen bias"] + SCORES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_study1_model_arguments(parser, CORPORA, SYSTEMS)
    args = parser.parse_args()
    results = results_dir(args)
    measured = measure_study1_models(results, STUDY, SYSTEMS, args.corpora, args.systems, smoke=args.smoke,
                                     force=args.force, measure_model=measure_model)
    write_study(results, STUDY, measured, biases=list(BIASES))
    print(markdown_table(
        summary_rows(measured), COLUMNS,
        header="Entity F1 (%, mean ± std over seeds) on each corpus's sentences with a bias b added to every "
               "entity tag's emission before Viterbi decoding; b chosen per model on dev from "
               f"{', '.join(f'{b:g}' for b in BIASES)}; b = 0 is the model as shipped.",
    ))


if __name__ == "__main__":
    run_main(main)
