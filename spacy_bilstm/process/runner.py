"""`process()`: read, run an engine, apply the error policy, write, resume."""
import sys
import time
from pathlib import Path
from typing import Iterator, List, Optional, TextIO, Union

from ..loading import load_pipeline
from .errors import ON_ERROR_CHOICES, BadRecordError, ProcessError, errors_path_for
from .input_records import InputFile, count_file_records, iter_records, resolve_inputs
from .outputs import DocBinOutput, ErrorWriter, JsonlOutput, output_format
from .progress import Progress, RunSummary
from .records import Outcome, error_record
from .resume import find_resume_point

ENGINES = ("local", "dask")


def _known_total(files: List[InputFile]) -> Optional[int]:
    """Counting records is cheap only for uncompressed line-based files."""
    if all(f.format in ("txt", "jsonl") and not f.compressed for f in files):
        return sum(count_file_records(f) for f in files)
    return None


def _check_arguments(
    engine: str, on_error: str, batch_size: int, n_process: int, workers: Optional[int],
    scheduler: Optional[str], partition_size: int,
) -> None:
    if engine not in ENGINES:
        raise ProcessError(f"Unknown engine {engine!r}: choose one of {', '.join(ENGINES)}.")
    if on_error not in ON_ERROR_CHOICES:
        raise ProcessError(f"Unknown --on-error {on_error!r}: choose one of {', '.join(ON_ERROR_CHOICES)}.")
    if batch_size < 1:
        raise ProcessError(f"--batch-size must be at least 1, not {batch_size}.")
    if n_process < 1:
        raise ProcessError(f"--n-process must be at least 1, not {n_process}.")
    if partition_size < 1:
        raise ProcessError(f"--partition-size must be at least 1, not {partition_size}.")
    if engine == "dask" and n_process != 1:
        raise ProcessError("--n-process is for the local engine; with --engine dask, scale with --workers.")
    if engine == "local" and (workers or scheduler):
        raise ProcessError("--workers and --scheduler need --engine dask.")
    if workers is not None and workers < 1:
        raise ProcessError(f"--workers must be at least 1, not {workers}.")


def process(
    model: Union[str, Path],
    input_spec: Union[str, Path],
    output_path: Union[str, Path],
    *,
    text_key: str = "text",
    id_key: str = "id",
    batch_size: int = 1000,
    n_process: int = 1,
    gpu_id: int = -1,
    on_error: str = "raise",
    resume: bool = False,
    overwrite: bool = False,
    engine: str = "local",
    scheduler: Optional[str] = None,
    workers: Optional[int] = None,
    partition_size: int = 1000,
    quiet: bool = False,
    threads: Optional[int] = None,
    stderr: Optional[TextIO] = None,
) -> RunSummary:
    """Run the pipeline MODEL over every record of INPUT and write one output record per
    input record, in input order, to OUTPUT (.jsonl or .spacy). `threads` is the torch thread
    count of each worker process (--n-process > 1, Dask workers): None leaves them one each."""
    stderr = stderr if stderr is not None else sys.stderr
    _check_arguments(engine, on_error, batch_size, n_process, workers, scheduler, partition_size)
    model = str(model)
    output_path = Path(output_path)
    out_format = output_format(output_path)
    errors_path = errors_path_for(output_path)
    files = resolve_inputs(str(input_spec))
    input_paths = {f.path.resolve() for f in files}
    for path in (output_path, errors_path):
        if path.resolve() in input_paths:
            raise ProcessError(f"The output {path} is also an input; write the output elsewhere.")
    if not output_path.parent.is_dir():
        raise ProcessError(f"The output directory {output_path.parent} does not exist; create it first.")
    for path in (output_path, errors_path):
        if path.exists() and not (resume or overwrite):
            raise ProcessError(
                f"{path} already exists. Pass --resume to continue an interrupted run or "
                f"--overwrite to replace it."
            )

    # The pipeline is loaded before any file is opened or removed: a model that fails to load
    # must not leave an empty output behind, or truncate an existing one under --overwrite.
    nlp = None
    dask_engine = None
    if engine == "local":
        nlp = load_pipeline(model, gpu_id)
    else:
        from .dask_engine import DaskEngine

        dask_engine = DaskEngine(scheduler=scheduler, workers=workers)
        try:
            dask_engine.load_pipeline_on_workers(model, gpu_id, threads)
        except BaseException:
            dask_engine.close()
            raise

    summary = RunSummary()
    if resume:
        point = find_resume_point(output_path, out_format, errors_path)
        skip = summary.resumed_after = point.n_done
    else:
        point = None
        skip = 0
        if errors_path.exists():
            errors_path.unlink()

    show_progress = Progress.should_show(quiet, stderr)
    total = _known_total(files) if show_progress else None
    progress = Progress(total=None if total is None else max(total - skip, 0), enabled=show_progress, stream=stderr)

    if out_format == "jsonl":
        output = JsonlOutput(
            output_path,
            start_offset=point.output_offset if point else None,
            start_records=point.n_output_records if point else 0,
        )
    else:
        output = DocBinOutput(output_path, resume_from=point.doc_bin if point else None)
    error_writer: Optional[ErrorWriter] = None
    if on_error == "skip":
        resume_errors = point is not None and point.errors_offset is not None
        error_writer = ErrorWriter(
            errors_path,
            start_offset=point.errors_offset if resume_errors else None,
            start_records=point.n_error_records if resume_errors else 0,
        )

    # Parsing is left to process_records, which runs in the worker processes when there are any.
    records = iter_records(files, text_key=text_key, id_key=id_key, skip=skip, parse=False)
    keep_docs = out_format == "spacy"
    try:
        if dask_engine is not None:
            outcomes: Iterator[Outcome] = dask_engine.process(
                model, records, gpu_id=gpu_id, batch_size=batch_size,
                partition_size=partition_size, keep_docs=keep_docs, n_threads=threads,
            )
            start = progress.start = time.perf_counter()
        else:
            from .local_engine import can_fork, process_records, process_records_in_processes

            if n_process > 1 and can_fork():
                outcomes = process_records_in_processes(
                    nlp, records, batch_size=batch_size, n_process=n_process,
                    partition_size=partition_size, keep_docs=keep_docs, n_threads=threads,
                )
            else:
                outcomes = process_records(nlp, records, batch_size=batch_size, n_process=n_process, keep_docs=keep_docs)
            start = progress.start = time.perf_counter()
        for outcome in outcomes:
            if outcome.error is not None:
                if error_writer is None:
                    raise BadRecordError(outcome.record.source, outcome.record.line, outcome.error, errors_path)
                # Output before the error must not be lost if the run stops right after it.
                output.flush()
                error_writer.write(error_record(outcome))
                summary.errors += 1
            else:
                output.write(outcome)
                summary.docs += 1
                summary.words += outcome.n_words
                summary.entities += outcome.n_entities
            progress.update(outcome.n_words)
    finally:
        progress.close()
        try:
            # Also after an error or an interrupt: what was written is a complete prefix
            # of the output, from which --resume continues.
            output.close()
            if error_writer is not None:
                error_writer.close()
        finally:
            if dask_engine is not None:
                dask_engine.close()
    summary.seconds = time.perf_counter() - start
    if not quiet:
        stderr.write(f"Processed {summary.describe()}.\n")
        stderr.write(f"Output: {output_path}" + (f"; errors: {errors_path}" if summary.errors else "") + "\n")
    return summary
