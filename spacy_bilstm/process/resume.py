"""Working out where an interrupted run stopped.

Every input record ends up as exactly one output record or (with `--on-error skip`) one
error record carrying its input `index`. Output records are in input order, so the k-th
output record belongs to the k-th input index that is not in the errors file. Errors are
flushed as they happen, so every error before the last complete output record is on
disk; errors after it are dropped and met again when processing resumes. A torn last
line (a crash mid-write) is not a complete record and is cut off."""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from spacy.tokens import DocBin

from .errors import ProcessError

_CHUNK = 1 << 20


@dataclass
class ResumePoint:
    # Input records already accounted for: processing starts at this input index.
    n_done: int
    n_output_records: int
    # Byte offset after the last complete output record (.jsonl); None for .spacy.
    output_offset: Optional[int]
    # Output kept so far, for .spacy.
    doc_bin: Optional[DocBin]
    n_error_records: int
    # Byte offset after the last kept error record; None when there is no errors file.
    errors_offset: Optional[int]


def complete_lines(path: Path) -> (int, int):
    """(number of complete lines, byte offset after the last of them)."""
    n_lines = 0
    offset = 0
    position = 0
    with open(path, "rb") as stream:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            n_lines += chunk.count(b"\n")
            last = chunk.rfind(b"\n")
            if last >= 0:
                offset = position + last + 1
            position += len(chunk)
    return n_lines, offset


def _error_lines(path: Path) -> List[tuple]:
    """[(input index, byte offset after the line)] for each complete error record."""
    entries = []
    offset = 0
    with open(path, "rb") as stream:
        for line_number, raw in enumerate(stream, 1):
            if not raw.endswith(b"\n"):
                break
            offset += len(raw)
            try:
                index = json.loads(raw)["index"]
            except (ValueError, KeyError, TypeError) as error:
                raise ProcessError(
                    f"--resume: cannot read the input index on line {line_number} of {path} ({error}). "
                    f"This file must be the errors file written by `spacy-bilstm process`."
                ) from error
            entries.append((index, offset))
    return entries


def last_output_index(n_output_records: int, error_indices: List[int]) -> int:
    """Input index of the last output record (-1 if none), skipping the error indices."""
    last = n_output_records - 1
    if n_output_records == 0:
        return -1
    for index in sorted(error_indices):
        if index <= last:
            last += 1
        else:
            break
    return last


def find_resume_point(output_path: Path, output_format: str, errors_path: Path) -> ResumePoint:
    output_offset = None
    doc_bin = None
    if output_format == "jsonl":
        n_output, output_offset = complete_lines(output_path) if output_path.exists() else (0, 0)
    else:
        if output_path.exists():
            try:
                doc_bin = DocBin(store_user_data=False).from_disk(output_path)
            except Exception as error:
                raise ProcessError(
                    f"--resume: cannot read {output_path} ({error}); it is not a complete .spacy file."
                ) from error
        n_output = len(doc_bin) if doc_bin is not None else 0
    errors = _error_lines(errors_path) if errors_path.exists() else []
    n_done = last_output_index(n_output, [index for index, _ in errors]) + 1
    kept_errors = [(index, offset) for index, offset in errors if index < n_done]
    errors_offset = None
    if errors_path.exists():
        errors_offset = kept_errors[-1][1] if kept_errors else 0
    return ResumePoint(
        n_done=n_done,
        n_output_records=n_output,
        output_offset=output_offset,
        doc_bin=doc_bin,
        n_error_records=len(kept_errors),
        errors_offset=errors_offset,
    )
