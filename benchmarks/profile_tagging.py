"""Where a token's microseconds go when a trained pipeline tags text, stage by stage.

Each stage's forward function is wrapped in a perf_counter clock (monkeypatched here, on the
loaded pipeline's objects; the package is not changed), and the text is tagged at batch size 1
(`nlp(text)` per sentence, the tokenizer included) and at a larger batch size (`nlp.pipe(texts,
batch_size=...)`), after one untimed warm-up pass over the same texts (which also fills the char
CNN's cache, as on a long run). Stages are exclusive: a stage's time excludes the stages inside
it. The table gives the median over --repeats passes of microseconds per token and their share.
With --cprofile, the functions that take the most time of their own at each batch size
(cProfile, one pass), for the Python call overhead that the stage clocks do not show.

    OMP_NUM_THREADS=1 python -m benchmarks.profile_tagging MODEL_DIR TEST.spacy --limit 1000 --cprofile
"""
import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List

# (stage, the stage that contains it) in the order the table lists them.
STAGES = [
    ("spaCy's pipe loop", None), ("tokenizer", "spaCy's pipe loop"), ("sentencizer", "spaCy's pipe loop"),
    ("bilstm_ner, rest", "spaCy's pipe loop"), ("predict, rest", "bilstm_ner, rest"),
    ("reading units and windows", "predict, rest"), ("tok2vec, rest", "reading units and windows"),
    ("hash embeddings", "tok2vec, rest"), ("char CNN (and its cache)", "tok2vec, rest"),
    ("tagger: thinc/torch conversion", "reading units and windows"), ("LSTM", "tagger: thinc/torch conversion"),
    ("emissions (projection)", "tagger: thinc/torch conversion"), ("Viterbi", "predict, rest"),
    ("entity probabilities (forward-backward)", "predict, rest"),
    ("set_annotations and span groups", "bilstm_ner, rest"),
]


class StageClock:
    def __init__(self) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)

    def wrap(self, stage: str, function: Callable) -> Callable:
        seconds = self.seconds

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[stage] += time.perf_counter() - start

        return timed


class _TimedComponent:
    def __init__(self, component, timed_call: Callable, timed_pipe: Callable):
        self._component, self.__call__, self.pipe = component, timed_call, timed_pipe

    def __call__(self, doc):  # instance attribute calls are not looked up by the call syntax
        return self.__dict__["__call__"](doc)

    def __getattr__(self, name):
        return getattr(self._component, name)


def instrument(nlp, clock: StageClock) -> None:
    import spacy_bilstm.layers as layers

    nlp.make_doc = clock.wrap("tokenizer", nlp.make_doc)
    for index, (name, component) in enumerate(nlp._components):
        stage = "sentencizer" if name == "sentencizer" else "bilstm_ner, rest"
        if hasattr(component, "model") and "tagger" in getattr(component.model, "_refs", {}):
            component.predict = clock.wrap("predict, rest", component.predict)
            component.set_annotations = clock.wrap("set_annotations and span groups", component.set_annotations)
            _instrument_model(component.model, clock)
        nlp._components[index] = (name, _TimedComponent(component, clock.wrap(stage, component.__call__),
                                                        _timed_pipe(clock.wrap(stage, _listed(component.pipe)))))
    layers.best_paths = clock.wrap("Viterbi", layers.best_paths)
    layers.span_probabilities = clock.wrap("entity probabilities (forward-backward)", layers.span_probabilities)


def _listed(pipe: Callable) -> Callable:
    return lambda docs, **kwargs: list(pipe(docs, **kwargs))


def _timed_pipe(listed_pipe: Callable) -> Callable:
    """A component's pipe whose time is its own: the upstream stages run (on their own clocks)
    before it starts, not inside its generator."""

    def pipe(stream, **kwargs):
        yield from listed_pipe(list(stream), **kwargs)

    return pipe


def _instrument_model(model, clock: StageClock) -> None:
    tok2vec, tagger = model.get_ref("tok2vec"), model.get_ref("tagger")
    model._func = clock.wrap("reading units and windows", model._func)
    tok2vec._func = clock.wrap("tok2vec, rest", tok2vec._func)
    for node in tok2vec.walk():
        if any(layer.name == "char_cnn" for layer in node.layers):
            words, chars = node.layers[0], node.layers[-1]
            words._func = clock.wrap("hash embeddings", words._func)
            chars._func = clock.wrap("char CNN (and its cache)", chars._func)
    tagger._func = clock.wrap("tagger: thinc/torch conversion", tagger._func)
    module = tagger.shims[0]._model
    module.encoder.forward = clock.wrap("LSTM", module.encoder.forward)
    module._project = clock.wrap("emissions (projection)", module._project)


def tag(nlp, texts: List[str], batch_size: int) -> int:
    if batch_size == 1:
        return sum(len(nlp(text)) for text in texts)
    return sum(len(doc) for doc in nlp.pipe(texts, batch_size=batch_size))


def exclusive_microseconds(clock: StageClock, wall: float, n_tokens: int) -> Dict[str, float]:
    inclusive = dict(clock.seconds, **{"spaCy's pipe loop": wall})
    exclusive = {stage: inclusive.get(stage, 0.0) for stage, _ in STAGES}
    for stage, parent in STAGES:
        if parent is not None:
            exclusive[parent] -= inclusive.get(stage, 0.0)
    return {stage: 1e6 * seconds / n_tokens for stage, seconds in exclusive.items()}


def profile_stages(nlp, clock: StageClock, texts: List[str], batch_size: int, repeats: int) -> Dict[str, float]:
    tag(nlp, texts, batch_size)
    runs = []
    for _ in range(repeats):
        clock.seconds.clear()
        start = time.perf_counter()
        n_tokens = tag(nlp, texts, batch_size)
        runs.append(exclusive_microseconds(clock, time.perf_counter() - start, n_tokens))
    medians = {stage: statistics.median(run[stage] for run in runs) for stage, _ in STAGES}
    medians["total"] = statistics.median(sum(run.values()) for run in runs)
    return medians


def stage_table(by_batch: Dict[int, Dict[str, float]]) -> str:
    sizes = list(by_batch)
    lines = ["| stage | " + " | ".join(f"batch {s}: µs/token | share" for s in sizes) + " |",
             "|---|" + "---|---|" * len(sizes)]
    for stage, _ in STAGES + [("total", None)]:
        cells = [f"{by_batch[s][stage]:.2f} | {100 * by_batch[s][stage] / by_batch[s]['total']:.1f}%" for s in sizes]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines.append("| words/s | " + " | ".join(f"{1e6 / by_batch[s]['total']:,.0f} | " for s in sizes) + " |")
    return "\n".join(lines)


def _short(filename: str) -> str:
    for marker in ("site-packages" + os.sep, "spacy_bilstm" + os.sep):
        if marker in filename:
            return (filename.split(marker, 1)[1] if marker.startswith("site") else "spacy_bilstm/"
                    + filename.split(marker, 1)[1])
    return os.path.basename(filename) if filename.startswith(os.sep) else filename


def cprofile_table(nlp, texts: List[str], batch_size: int, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    n_tokens = tag(nlp, texts, batch_size)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO()).stats
    rows = sorted(stats.items(), key=lambda item: -item[1][2])[:top]
    lines = [f"| function, batch {batch_size} | calls per sentence | own µs/token | with callees µs/token |",
             "|---|---|---|---|"]
    for (filename, line, name), (_, n_calls, own, cumulative, _) in rows:
        lines.append(f"| {_short(filename)}:{line}({name}) | {n_calls / len(texts):.1f} | "
                     f"{1e6 * own / n_tokens:.2f} | {1e6 * cumulative / n_tokens:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="A trained pipeline directory with a bilstm_ner component.")
    parser.add_argument("data", type=Path, help="A .spacy file; its sentences, joined by spaces, are the texts.")
    parser.add_argument("--limit", type=int, default=1000, help="Sentences to tag (default 1000).")
    parser.add_argument("--repeats", type=int, default=5, help="Timed passes per batch size (default 5).")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 1000])
    parser.add_argument("--cprofile", action="store_true", help="Also list the costliest functions at each batch size.")
    parser.add_argument("--top", type=int, default=25, help="Functions in the cProfile table (default 25).")
    args = parser.parse_args()

    import spacy
    import torch
    from spacy.tokens import DocBin

    import spacy_bilstm  # noqa: F401

    torch.set_num_threads(1)
    nlp = spacy.load(args.model)
    texts = [sentence.text for doc in DocBin().from_disk(args.data).get_docs(nlp.vocab) for sentence in doc.sents]
    texts = texts[: args.limit]
    clock, clock_nlp = StageClock(), spacy.load(args.model)
    instrument(clock_nlp, clock)
    by_batch = {size: profile_stages(clock_nlp, clock, texts, size, args.repeats) for size in args.batch_sizes}
    print(f"{len(texts)} sentences, medians of {args.repeats} passes, torch threads {torch.get_num_threads()}\n")
    print(stage_table(by_batch))
    for batch_size in args.batch_sizes if args.cprofile else []:
        tag(nlp, texts, batch_size)
        print(f"\ncProfile, batch size {batch_size}, one pass (the {args.top} functions with the most time of "
              f"their own):\n")
        print(cprofile_table(nlp, texts, batch_size, args.top))


if __name__ == "__main__":
    sys.exit(main())
