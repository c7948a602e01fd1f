"""Writing output records. A JSONL output only ever holds complete records: lines are
written whole from our own buffer, and if a write fails (e.g. the disk is full) the file
is cut back to the end of the last complete record before the error is raised."""
import errno
from pathlib import Path
from typing import Any, BinaryIO, Dict, Optional

from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..errors import OutputWriteError
from ..files import atomic_write
from .errors import ProcessError
from .records import Outcome, dumps_line, output_record

OUTPUT_FORMATS = ("jsonl", "spacy")
_FLUSH_BYTES = 1 << 20


def open_binary(path: Path, mode: str) -> BinaryIO:
    """Unbuffered, so that a failed write leaves no bytes in a hidden buffer.
    (Tests replace this to simulate a full disk.)"""
    return open(path, mode, buffering=0)


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()[1:]
    if suffix not in OUTPUT_FORMATS:
        raise ProcessError(f"Unsupported output {path}: the name must end in .jsonl or .spacy.")
    return suffix


class JsonlWriter:
    """Append-only writer of whole JSON lines.

    start_offset: None to create (or replace) the file, else the byte offset of the end of
    the last complete record of an existing file, which is kept; anything after it is cut.
    """

    def __init__(
        self,
        path: Path,
        *,
        start_offset: Optional[int] = None,
        start_records: int = 0,
        flush_bytes: Optional[int] = None,
    ):
        self.path = path
        if start_offset is None:
            self._file = open_binary(path, "wb")
            start_offset = 0
        else:
            self._file = open_binary(path, "r+b")
            self._file.truncate(start_offset)
            self._file.seek(start_offset)
        self._committed_offset = start_offset
        self.committed_records = start_records
        self._buffer = bytearray()
        self._buffered_records = 0
        self._flush_bytes = flush_bytes if flush_bytes is not None else _FLUSH_BYTES

    def write(self, obj: Dict[str, Any]) -> None:
        self.write_line(dumps_line(obj))

    def write_line(self, line: bytes) -> None:
        """Write one record already serialised by dumps_line."""
        self._buffer += line
        self._buffered_records += 1
        if len(self._buffer) >= self._flush_bytes:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        view = memoryview(bytes(self._buffer))
        try:
            while view:
                written = self._file.write(view)
                if written is None:  # non-blocking stream with nothing written: try again
                    continue
                view = view[written:]
            self._file.flush()
        except OSError as error:
            self._file.truncate(self._committed_offset)
            self._file.seek(self._committed_offset)
            self._buffer.clear()
            self._buffered_records = 0
            what = "the disk is full" if error.errno == errno.ENOSPC else str(error)
            raise ProcessError(
                f"Writing {self.path} failed: {what}. The file holds {self.committed_records} complete "
                f"records; free space (or fix the problem) and rerun with --resume to continue."
            ) from error
        self._committed_offset += len(self._buffer)
        self.committed_records += self._buffered_records
        self._buffer.clear()
        self._buffered_records = 0

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._file.close()


class ErrorWriter(JsonlWriter):
    """Bad records go to disk at once: `--resume` relies on every error before the last
    output record being on disk (see resume.py)."""

    def write(self, obj: Dict[str, Any]) -> None:
        super().write(obj)
        self.flush()


class JsonlOutput:
    def __init__(self, path: Path, *, start_offset: Optional[int], start_records: int):
        self._writer = JsonlWriter(path, start_offset=start_offset, start_records=start_records)

    def write(self, outcome: Outcome) -> None:
        if outcome.json_line is not None:
            self._writer.write_line(outcome.json_line)
        else:
            self._writer.write(output_record(outcome))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class DocBinOutput:
    """A .spacy file is one compressed blob, so it is written once, at the end, through a
    temporary file: an interrupted run leaves the previous file intact. The DocBin holds
    compact token arrays, not Docs, but it does grow with the output; use .jsonl output for
    jobs too large for memory."""

    def __init__(self, path: Path, *, resume_from: Optional[DocBin] = None):
        self.path = path
        self._doc_bin = resume_from if resume_from is not None else DocBin(store_user_data=False)
        self._vocab = Vocab()

    def write(self, outcome: Outcome) -> None:
        doc = outcome.doc
        if doc is None and outcome.doc_bytes is not None:
            doc = Doc(self._vocab).from_bytes(outcome.doc_bytes)
        if doc is None:
            raise RuntimeError("a .spacy output needs the processed Doc of each record")
        self._doc_bin.add(doc)

    def flush(self) -> None:
        """Nothing is written before close(); see the class docstring."""

    def close(self) -> None:
        try:
            atomic_write(self.path, lambda temporary: temporary.write_bytes(self._doc_bin.to_bytes()))
        except OutputWriteError as error:
            raise ProcessError(str(error)) from error
