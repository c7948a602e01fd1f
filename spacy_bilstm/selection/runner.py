"""`select()`: rank unlabelled documents by how much the model would learn from them, and
write the top N as pre-annotated tasks.

Workers (the process engines: in this process, forked processes or Dask workers) run the
pipeline over partitions of the input and keep each partition's own top N (`TopN`); this
process merges them into the global top N. Only those candidates are ever held, each packed
as plain lists (pack_doc), so memory does not grow with the input."""
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, TextIO, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, Span, SpanGroup
from spacy.vocab import Vocab

from ..corpora.writers import write_docs
from ..loading import load_pipeline
from ..process.errors import ON_ERROR_CHOICES, BadRecordError, ProcessError
from ..process.input_records import iter_records, parse_raw_record, resolve_inputs
from ..process.local_engine import can_fork, map_partitions_in_processes, partitions
from ..process.records import Record, length_problem
from .heap import Candidate, TopN
from .scoring import STRATEGIES, duplicate_key, entity_score, random_score, uncertainty_score

ENGINES = ("local", "dask")
# Task formats: those of write_docs that can carry pre-annotations with their scores.
OUTPUT_FORMATS = ("jsonl", "labelstudio", "prodigy")


@dataclass(frozen=True)
class SelectionSettings:
    """What every worker needs to score a partition (picklable: it travels to the workers)."""

    n: int
    strategy: str
    seed: int
    dedupe: bool
    batch_size: int
    on_error: str
    component: Optional[str]


@dataclass
class SelectionSummary:
    """What a `select` run read, skipped, dropped and chose."""

    docs: int = 0
    empty: int = 0
    bad_records: int = 0
    first_bad_record: Optional[str] = None
    duplicates: int = 0
    chosen: int = 0
    min_score: Optional[float] = None
    max_score: Optional[float] = None
    chosen_min_score: Optional[float] = None
    chosen_max_score: Optional[float] = None
    seconds: float = 0.0

    def add_score(self, score: float) -> None:
        self.min_score = score if self.min_score is None else min(self.min_score, score)
        self.max_score = score if self.max_score is None else max(self.max_score, score)

    def merge(self, other: "SelectionSummary") -> None:
        """Add a partition's counts (in input order: the first bad record stays the first)."""
        self.docs += other.docs
        self.empty += other.empty
        self.bad_records += other.bad_records
        self.first_bad_record = self.first_bad_record or other.first_bad_record
        self.duplicates += other.duplicates
        for score in (other.min_score, other.max_score):
            if score is not None:
                self.add_score(score)

    def describe(self) -> str:
        text = (
            f"read {self.docs} docs ({self.empty} empty, skipped; {self.bad_records} bad records, skipped), "
            f"dropped {self.duplicates} duplicates, chose {self.chosen}"
        )
        if self.chosen:
            text += f" with scores {self.chosen_min_score:.4f} to {self.chosen_max_score:.4f}"
        if self.min_score is not None:
            text += f" (all docs: {self.min_score:.4f} to {self.max_score:.4f})"
        text += f" in {self.seconds:.1f}s"
        if self.first_bad_record:
            text += f"; first bad record: {self.first_bad_record}"
        return text


@dataclass
class PartitionResult:
    """A worker's answer for one partition: its own top N and its counts."""

    candidates: List[Candidate] = field(default_factory=list)
    summary: SelectionSummary = field(default_factory=SelectionSummary)
    # The span group holding the component's entity probabilities.
    scores_key: Optional[str] = None


def selection_component(nlp: Language, component: Optional[str]) -> str:
    """The name of the component whose probabilities rank the documents: `component`, or the
    pipeline's only one that gives its best path's probability (a bilstm_ner)."""
    names = [name for name, pipe in nlp.pipeline if hasattr(pipe, "predict_with_path_log_probs")]
    if component is not None:
        if component not in names:
            raise ProcessError(
                f"--component {component!r} is not a bilstm_ner component of the pipeline (those are: "
                f"{', '.join(names) or 'none'}; all components: {', '.join(nlp.pipe_names) or 'none'})."
            )
        return component
    if not names:
        raise ProcessError(
            f"The pipeline has no bilstm_ner component (its components: {', '.join(nlp.pipe_names) or 'none'}): "
            f"select ranks documents by the BiLSTM-CRF's probabilities. Give a pipeline trained with spacy-bilstm."
        )
    if len(names) > 1:
        raise ProcessError(f"The pipeline has several bilstm_ner components ({', '.join(names)}): choose one with --component.")
    return names[0]


def _pipe_input(nlp: Language, record: Record, problem: Optional[str]) -> Union[str, Doc]:
    if problem is not None:
        return ""
    if record.words is not None:
        return Doc(nlp.vocab, words=record.words, spaces=record.spaces)
    return record.text or ""


def annotated_docs(
    nlp: Language, component: str, records: Iterable[Record], batch_size: int
) -> Iterator[Tuple[Record, Optional[str], Doc, float]]:
    """(record, problem or None, doc, log P(best path)) per record, in order: the pipeline run
    over the records' texts, its component `component` through predict_with_path_log_probs."""
    names_from_component = nlp.pipe_names[nlp.pipe_names.index(component):]
    ner = nlp.get_pipe(component)
    later = [nlp.get_pipe(name) for name in names_from_component[1:]]
    for batch in partitions(records, batch_size):
        batch = [parse_raw_record(record) for record in batch]
        problems = [record.error or length_problem(record, nlp.max_length) for record in batch]
        inputs = [_pipe_input(nlp, record, problem) for record, problem in zip(batch, problems)]
        docs = list(nlp.pipe(inputs, batch_size=batch_size, disable=names_from_component))
        entities, log_probs = ner.predict_with_path_log_probs(docs)
        ner.set_annotations(docs, entities)
        for pipe in later:
            docs = list(pipe.pipe(docs)) if hasattr(pipe, "pipe") else [pipe(doc) for doc in docs]
        yield from zip(batch, problems, docs, log_probs)


def _score(settings: SelectionSettings, record: Record, doc: Doc, log_prob: float, spans_key: str) -> float:
    if settings.strategy == "random":
        return random_score(settings.seed, record.index)
    if settings.strategy == "entity":
        group = doc.spans[spans_key] if spans_key in doc.spans else None
        return entity_score(group.attrs.get("scores", []) if group is not None else [], log_prob)
    return uncertainty_score(log_prob, len(doc))


def select_partition(nlp: Language, records: List[Record], settings: SelectionSettings) -> PartitionResult:
    """Score a partition's documents and keep its own top N: the work of one worker task."""
    component = selection_component(nlp, settings.component)
    spans_key = nlp.get_pipe(component).spans_key
    top = TopN(settings.n)
    result = PartitionResult(scores_key=spans_key)
    summary = result.summary
    for record, problem, doc, log_prob in annotated_docs(nlp, component, records, settings.batch_size):
        summary.docs += 1
        if problem is not None:
            if settings.on_error == "raise":
                raise BadRecordError(record.source, record.line, problem)
            summary.bad_records += 1
            summary.first_bad_record = summary.first_bad_record or f"{record.source}, line {record.line}: {problem}"
            continue
        if len(doc) == 0:
            summary.empty += 1
            continue
        score = _score(settings, record, doc, log_prob, spans_key)
        summary.add_score(score)
        candidate = Candidate(score, record.index, duplicate_key(doc.text) if settings.dedupe else record.index)
        if top.admits(candidate):  # only a document that can enter is packed
            candidate = Candidate(score, record.index, candidate.key, (pack_doc(doc, spans_key), _record_meta(record)))
        top.offer(candidate)
    summary.duplicates = top.duplicates
    result.candidates = top.best_first()
    return result


def pack_doc(doc: Doc, spans_key: str) -> tuple:
    """What a task needs of a doc, as plain lists: words, spaces, sentence starts (None when the
    doc has none), doc.ents and the scored span group. Pickled, it is a fraction of the cost of
    Doc.to_bytes, whose msgpack encoder looks up its extensions on every call."""
    sent_starts = [bool(token.is_sent_start) for token in doc] if doc.has_annotation("SENT_START") else None
    group = doc.spans[spans_key] if spans_key in doc.spans else []
    scores = group.attrs.get("scores", []) if len(group) else []
    return (
        [token.text for token in doc], [bool(token.whitespace_) for token in doc], sent_starts,
        [(ent.start, ent.end, ent.label_) for ent in doc.ents],
        [(span.start, span.end, span.label_, float(score)) for span, score in zip(group, scores)],
    )


def unpack_doc(packed: tuple, vocab: Vocab, spans_key: str) -> Doc:
    """The Doc that pack_doc packed: tokens, sentences, entities and scored span group."""
    words, spaces, sent_starts, ents, spans = packed
    doc = Doc(vocab, words=words, spaces=spaces, sent_starts=sent_starts)
    doc.ents = [Span(doc, start, end, label=label) for start, end, label in ents]
    doc.spans[spans_key] = SpanGroup(
        doc, name=spans_key, spans=[Span(doc, start, end, label=label) for start, end, label, _ in spans],
        attrs={"scores": [score for *_, score in spans]},
    )
    return doc


def _record_meta(record: Record) -> Dict[str, Any]:
    meta: Dict[str, Any] = {"id": record.id, "file": record.source, "line": record.line}
    if record.carried:
        meta["fields"] = record.carried
    return meta


def _write_selection(
    docs: Sequence[Doc], path: Path, to: str, scores_key: Optional[str], meta: Sequence[Dict[str, Any]]
) -> None:
    """Write the chosen docs as pre-annotated tasks, each entity with its probability (from
    doc.spans[scores_key]) and each doc with its `meta`. All of select's output goes through here."""
    write_docs(docs, path, to, scores_key=scores_key, meta=meta)


def _check_arguments(
    n: int, strategy: str, to: str, engine: str, n_process: int, batch_size: int, partition_size: int,
    on_error: str, workers: Optional[int], scheduler: Optional[str],
) -> None:
    if n < 1:
        raise ProcessError(f"--n must be at least 1, not {n}.")
    if strategy not in STRATEGIES:
        raise ProcessError(f"Unknown --strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}.")
    if to not in OUTPUT_FORMATS:
        # Checked before any document is read, not after hours of scoring.
        raise ProcessError(f"Unknown --to {to!r}: choose one of {', '.join(OUTPUT_FORMATS)}.")
    if engine not in ENGINES:
        raise ProcessError(f"Unknown --engine {engine!r}: choose one of {', '.join(ENGINES)}.")
    if on_error not in ON_ERROR_CHOICES:
        raise ProcessError(f"Unknown --on-error {on_error!r}: choose one of {', '.join(ON_ERROR_CHOICES)}.")
    for name, value in (("--batch-size", batch_size), ("--n-process", n_process), ("--partition-size", partition_size)):
        if value < 1:
            raise ProcessError(f"{name} must be at least 1, not {value}.")
    if engine == "dask" and n_process != 1:
        raise ProcessError("--n-process is for the local engine; with --engine dask, scale with --workers.")
    if engine == "local" and (workers or scheduler):
        raise ProcessError("--workers and --scheduler need --engine dask.")


def select(
    model: Union[str, Path],
    input_spec: Union[str, Path],
    output_path: Union[str, Path],
    *,
    n: int,
    strategy: str = "uncertainty",
    to: str = "jsonl",
    engine: str = "local",
    n_process: int = 1,
    batch_size: int = 256,
    partition_size: int = 1000,
    seed: int = 0,
    dedupe: bool = True,
    component: Optional[str] = None,
    text_key: str = "text",
    id_key: str = "id",
    on_error: str = "raise",
    overwrite: bool = False,
    gpu_id: int = -1,
    scheduler: Optional[str] = None,
    workers: Optional[int] = None,
    threads: Optional[int] = None,
    quiet: bool = False,
    stderr: Optional[TextIO] = None,
) -> SelectionSummary:
    """Score every document of INPUT (what `process` reads) with the pipeline MODEL and write
    the `n` highest-scoring ones, best first, to OUTPUT as pre-annotated tasks: each entity with
    its probability, each doc with its meta (score, strategy, rank, id, file, line). At most one
    doc per duplicate key (scoring.normalised_text) is chosen when `dedupe`. Strategies: see
    scoring.py. Memory holds at most `n` candidates per partition in flight, whatever the input
    size. `threads`: torch threads of each worker process (--n-process > 1, Dask workers)."""
    stderr = stderr if stderr is not None else sys.stderr
    _check_arguments(n, strategy, to, engine, n_process, batch_size, partition_size, on_error, workers, scheduler)
    model, output_path = str(model), Path(output_path)
    files = resolve_inputs(str(input_spec))
    if output_path.resolve() in {f.path.resolve() for f in files}:
        raise ProcessError(f"The output {output_path} is also an input; write the output elsewhere.")
    if output_path.exists() and not overwrite:
        raise ProcessError(f"{output_path} already exists. Pass --overwrite to replace it.")
    settings = SelectionSettings(n, strategy, seed, dedupe, batch_size, on_error, component)
    records = iter_records(files, text_key=text_key, id_key=id_key, parse=False)
    start = time.perf_counter()
    top = TopN(n)
    summary = SelectionSummary()
    scores_key: Optional[str] = None
    dask_engine = None
    try:
        if engine == "dask":
            from ..process.dask_engine import DaskEngine

            dask_engine = DaskEngine(scheduler=scheduler, workers=workers)
            dask_engine.load_pipeline_on_workers(model, gpu_id, threads)
            results: Iterator[PartitionResult] = dask_engine.map_partitions(
                select_partition, model, records, gpu_id=gpu_id, partition_size=partition_size,
                n_threads=threads, args=(settings,), name="select",
            )
        else:
            nlp = load_pipeline(model, gpu_id)
            selection_component(nlp, component)  # a pipeline without one fails before any reading
            if n_process > 1 and can_fork():
                results = map_partitions_in_processes(
                    nlp, records, select_partition, n_process=n_process, partition_size=partition_size,
                    n_threads=threads, args=(settings,),
                )
            else:
                results = (select_partition(nlp, partition, settings) for partition in partitions(records, partition_size))
        for result in results:
            summary.merge(result.summary)
            scores_key = scores_key or result.scores_key
            for candidate in result.candidates:
                top.offer(candidate)
    finally:
        if dask_engine is not None:
            dask_engine.close()
    summary.duplicates += top.duplicates
    chosen = top.best_first()
    vocab = Vocab()
    docs = [unpack_doc(candidate.payload[0], vocab, scores_key) for candidate in chosen]
    meta = [
        {"score": candidate.score, "strategy": strategy, "rank": rank, **candidate.payload[1]}
        for rank, candidate in enumerate(chosen, 1)
    ]
    _write_selection(docs, output_path, to, scores_key, meta)
    summary.chosen = len(chosen)
    if chosen:
        summary.chosen_min_score, summary.chosen_max_score = chosen[-1].score, chosen[0].score
    summary.seconds = time.perf_counter() - start
    if not quiet:
        stderr.write(f"Selected: {summary.describe()}.\nOutput: {output_path}\n")
    return summary
