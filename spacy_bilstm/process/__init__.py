"""Batch processing: `spacy-bilstm process` and its engines.

Modules: input_records (reading the records to process), outputs (writing them),
errors (error policy), resume (continuing an interrupted run), progress (progress bar and
summary), local_engine and dask_engine (running the pipeline), runner (`process()`)."""
from .errors import BadRecordError, ProcessError
from .progress import RunSummary
from .runner import process

__all__ = ["process", "ProcessError", "BadRecordError", "RunSummary"]
