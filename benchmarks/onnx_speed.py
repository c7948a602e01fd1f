"""Words/s of a bilstm_ner pipeline with backend "torch" against "onnxruntime" (fp32 and,
when given, int8), on one thread, and whether the ONNX Runtime backend tags as torch does.

Workload: the sentences of a CoNLL file (default: CoNLL-2003 test), tokens joined with spaces.
  batch 1     nlp(text) for each of the first --batch1-sentences sentences
  batch 1000  nlp.pipe(all sentences, batch_size=1000)
words/s = CoNLL tokens / seconds. Each backend first tags the whole workload once (one-time
costs, and the char CNN's cache of known words, which both backends keep alike). Then
--rounds rounds, each timing every backend in turn, the order rotated per round; the machine
is shared, so the table gives each backend's median and the median over rounds of its ratio to
torch in the same round. One thread: OMP_NUM_THREADS=1, SPACY_BILSTM_THREADS=1, ORT sessions
with intra_op_num_threads=1 (the backend's setting).

The check (skip with --no-check) tags the gold words of the same file with `evaluate` for each
backend: entity F1, documents whose entities differ from torch's, and the largest difference
of an entity probability where they agree.

    python -m benchmarks.onnx_speed --model EXPORTED [--int8-model EXPORTED_INT8] [--rounds 5]
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("SPACY_BILSTM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = (Path(os.environ.get("SPACY_BILSTM_SHARED_DATA") or REPO.parent / "shared")
                  / "corpora" / "conll2003" / "test.txt")
ONNXRUNTIME = {"components": {"bilstm_ner": {"backend": "onnxruntime"}}}
# Named, not left to the config: an export made with --backend onnxruntime defaults to it.
TORCH = {"components": {"bilstm_ner": {"backend": "torch"}}}


def conll_sentences(path: Path) -> List[List[str]]:
    sentences, tokens = [], []
    for line in path.read_text(encoding="utf8").splitlines() + [""]:
        line = line.strip()
        if not line:
            if tokens:
                sentences.append(tokens)
            tokens = []
        elif not line.startswith("-DOCSTART-"):
            tokens.append(line.split()[0])
    return sentences


def spans_and_scores(doc):
    group = doc.spans["bilstm_ner"]
    return [(span.start, span.end, span.label_) for span in group], list(group.attrs["scores"])


def check(pipelines: Dict, corpus: Path) -> None:
    from spacy_bilstm.evaluation import evaluate

    results = {name: evaluate(nlp, corpus, batch_size=1000) for name, nlp in pipelines.items()}
    reference = [spans_and_scores(eg.predicted) for eg in results["torch"].examples]
    print(f"\nCheck on {corpus.name} ({results['torch'].n_docs} docs, {results['torch'].n_words} words):\n")
    print("| backend | entity F1 | docs whose entities differ from torch | max score difference where equal |")
    print("|---|---|---|---|")
    for name, result in results.items():
        differing, max_difference = 0, 0.0
        for (spans, scores), example in zip(reference, result.examples):
            other_spans, other_scores = spans_and_scores(example.predicted)
            if other_spans != spans:
                differing += 1
            elif scores:
                max_difference = max(max_difference, max(abs(a - b) for a, b in zip(scores, other_scores)))
        print(f"| {name} | {100 * result.f_score:.2f} | {differing} | {max_difference:.2e} |")


def words_per_second(nlp, texts: List[str], n_words: int, batch_size: int) -> float:
    start = time.perf_counter()
    if batch_size == 1:
        for text in texts:
            nlp(text)
    else:
        for _ in nlp.pipe(texts, batch_size=batch_size):
            pass
    return n_words / (time.perf_counter() - start)


def tagger_words_per_second(nlp, texts: List[str], n_words: int) -> float:
    """words/s of the tagger layer alone (LSTM and emissions: what the graphs replace besides the
    char CNN), one sentence per call, on token features computed beforehand."""
    model = nlp.get_pipe("bilstm_ner").model
    tok2vec, tagger = model.get_ref("tok2vec"), model.get_ref("tagger")
    features = [tok2vec.predict([nlp.make_doc(text)])[0] for text in texts]
    start = time.perf_counter()
    for sentence_features in features:
        tagger.predict([sentence_features])
    return n_words / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="A pipeline written by `spacy-bilstm export --to onnx`.")
    parser.add_argument("--int8-model", type=Path, help="The same pipeline exported with --quantize int8.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="CoNLL file (default: CoNLL-2003 test).")
    parser.add_argument("--rounds", type=int, default=5, help="Timed rounds per backend and batch size.")
    parser.add_argument("--batch1-sentences", type=int, default=1000, help="Sentences tagged one at a time per round.")
    parser.add_argument("--no-check", action="store_true", help="Skip the accuracy and identity check.")
    parser.add_argument("--check-only", action="store_true", help="Run the check alone, no timing.")
    args = parser.parse_args()

    import spacy
    import torch

    torch.set_num_threads(1)
    pipelines = {"torch": spacy.load(args.model, config=TORCH), "onnxruntime": spacy.load(args.model, config=ONNXRUNTIME)}
    if args.int8_model is not None:
        pipelines["onnxruntime-int8"] = spacy.load(args.int8_model, config=ONNXRUNTIME)
    if not args.no_check:
        check(pipelines, args.corpus)
    if args.check_only:
        return

    sentences = conll_sentences(args.corpus)
    workloads = {
        1: ([" ".join(s) for s in sentences[: args.batch1_sentences]], sum(map(len, sentences[: args.batch1_sentences]))),
        1000: ([" ".join(s) for s in sentences], sum(map(len, sentences))),
    }
    for nlp in pipelines.values():
        for texts, n_words in workloads.values():
            words_per_second(nlp, texts, n_words, 1000)
    names = list(pipelines)
    columns = [1, 1000, "tagger"]
    speeds = {(name, column): [] for name in names for column in columns}
    for round_index in range(args.rounds):
        order = names[round_index % len(names):] + names[: round_index % len(names)]
        for batch, (texts, n_words) in workloads.items():
            for name in order:
                speeds[name, batch].append(words_per_second(pipelines[name], texts, n_words, batch))
        for name in order:
            speeds[name, "tagger"].append(tagger_words_per_second(pipelines[name], *workloads[1]))
    print(f"\nwords/s, one thread, {args.rounds} rounds: batch 1 = {len(workloads[1][0])} sentences "
          f"({workloads[1][1]} words) one nlp(text) each; batch 1000 = {len(workloads[1000][0])} sentences "
          f"({workloads[1000][1]} words) through nlp.pipe; tagger = the tagger layer alone (LSTM, emission "
          f"projection) on the batch-1 sentences, one per call\n")
    print("| backend | batch 1 words/s (median) | x torch (median of round ratios) | batch 1000 words/s (median) "
          "| x torch (median of round ratios) | tagger words/s (median) | x torch (median of round ratios) |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        cells = []
        for batch in columns:
            ratios = [a / b for a, b in zip(speeds[name, batch], speeds["torch", batch])]
            cells += [f"{statistics.median(speeds[name, batch]):,.0f}", f"{statistics.median(ratios):.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
