"""The local engine: one `nlp.pipe` call over the whole record stream (with n_process > 1,
forked workers over partitions of it: `process_records_in_processes`, over
`map_partitions_in_processes`, which `select` uses too).

Every record goes through `nlp.pipe`, bad ones as an empty text, so the docs that come
out line up one-to-one with the records in a small queue (nlp.pipe keeps order, also with
n_process > 1) and memory stays bounded by nlp.pipe's own look-ahead. One call matters:
with n_process > 1 each call starts new processes."""
import itertools
import multiprocessing
from collections import deque
from typing import Any, Callable, Deque, Iterable, Iterator, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc

from .. import threads
from ..span_scores import score_span_keys
from .input_records import parse_raw_record
from .records import Outcome, Record, doc_entities, dumps_line, length_problem, output_record


def partitions(records: Iterable[Record], size: int) -> Iterator[List[Record]]:
    iterator = iter(records)
    while True:
        partition = list(itertools.islice(iterator, size))
        if not partition:
            return
        yield partition


# The pipeline the forked workers of map_partitions_in_processes inherit from the parent.
_PIPELINE_FOR_CHILDREN: Optional[Language] = None

# What a worker does with one partition: work(nlp, records, *args) -> a picklable result.
PartitionWork = Callable[..., Any]


def process_partition(nlp: Language, records: List[Record], batch_size: int, keep_docs: bool) -> List[Outcome]:
    """`process`'s work on one partition in a worker process: Docs as bytes, output lines
    serialised in the worker."""
    return list(
        process_records(
            nlp, records, batch_size=batch_size, keep_docs=keep_docs, docs_as_bytes=True, json_lines=not keep_docs,
        )
    )


def _work_in_child(work: PartitionWork, records: List[Record], args: Tuple) -> Any:
    return work(_PIPELINE_FOR_CHILDREN, records, *args)


def start_worker_process(n_threads: Optional[int]) -> None:
    """Run first in every worker process this package starts (a forked child here, a Dask
    worker): the thread policy gives a worker one torch thread unless --threads chose a count."""
    threads.mark_worker_process()
    if n_threads is not None:
        threads.set_threads(n_threads)


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def map_partitions_in_processes(
    nlp: Language,
    records: Iterable[Record],
    work: PartitionWork,
    *,
    n_process: int,
    partition_size: int,
    n_threads: Optional[int] = None,
    args: Tuple = (),
) -> Iterator[Any]:
    """work(nlp, partition, *args) for each partition of `records`, in n_process forked
    workers that share the parent's loaded pipeline; the results come back in input order,
    with at most 2 x n_process partitions in flight. Each child uses one torch thread, or
    `n_threads` (--threads) when given: see spacy_bilstm.threads."""
    global _PIPELINE_FOR_CHILDREN
    _PIPELINE_FOR_CHILDREN = nlp
    with multiprocessing.get_context("fork").Pool(
        n_process, initializer=start_worker_process, initargs=(n_threads,)
    ) as pool:
        in_flight: Deque = deque()
        for partition in partitions(records, partition_size):
            in_flight.append(pool.apply_async(_work_in_child, (work, partition, args)))
            if len(in_flight) >= 2 * n_process:
                yield in_flight.popleft().get()
        while in_flight:
            yield in_flight.popleft().get()


def process_records_in_processes(
    nlp: Language,
    records: Iterable[Record],
    *,
    batch_size: int,
    n_process: int,
    partition_size: int,
    keep_docs: bool = False,
    n_threads: Optional[int] = None,
) -> Iterator[Outcome]:
    """Like process_records with n_process workers, but each forked worker (which shares the
    parent's loaded pipeline) returns only the records' entities, not whole Docs: spaCy's
    nlp.pipe(n_process=...) ships every Doc back through a pipe and rebuilds it in the
    parent, which on a 2-core machine made two processes slower than one."""
    for outcomes in map_partitions_in_processes(
        nlp, records, process_partition, n_process=n_process, partition_size=partition_size,
        n_threads=n_threads, args=(batch_size, keep_docs),
    ):
        yield from outcomes


def _pipe_input(nlp: Language, record: Record, problem: Optional[str]) -> Union[str, Doc]:
    if problem is not None:
        return ""
    if record.words is not None:
        return Doc(nlp.vocab, words=record.words, spaces=record.spaces)
    return record.text


def process_records(
    nlp: Language,
    records: Iterable[Record],
    *,
    batch_size: int,
    n_process: int = 1,
    keep_docs: bool = False,
    docs_as_bytes: bool = False,
    json_lines: bool = False,
) -> Iterator[Outcome]:
    """Yield one Outcome per record, in order. Records read unparsed (Record.raw) are
    parsed here. With json_lines, each Outcome carries its .jsonl output line instead of
    its entities, so that a worker process, not the one writing the output, serialises it."""
    span_keys = score_span_keys(nlp)
    pending: Deque[Tuple[Record, Optional[str]]] = deque()

    def feed() -> Iterator[Union[str, Doc]]:
        for record in records:
            record = parse_raw_record(record)
            problem = record.error or length_problem(record, nlp.max_length)
            pending.append((record.without_content(), problem))
            yield _pipe_input(nlp, record, problem)

    for doc in nlp.pipe(feed(), batch_size=batch_size, n_process=n_process):
        record, problem = pending.popleft()
        if problem is not None:
            yield Outcome(record, error=problem)
            continue
        entities = doc_entities(doc, span_keys)
        outcome = Outcome(record, entities=entities, n_words=len(doc), n_entities=len(entities))
        if json_lines:
            outcome.json_line = dumps_line(output_record(outcome))
            outcome.entities = None
        if keep_docs:
            if docs_as_bytes:
                outcome.doc_bytes = doc.to_bytes(exclude=["user_data"])
            else:
                outcome.doc = doc
        yield outcome
    if pending:
        raise RuntimeError(f"nlp.pipe returned fewer docs than it was given ({len(pending)} missing)")
