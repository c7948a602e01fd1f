"""Reading input records lazily from .txt, .jsonl and .spacy files (and .gz versions),
a directory or a glob. Files are read in sorted order; records are numbered over all of
them so that `--resume` can skip exactly the records already done."""
import glob
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, List, Optional

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from .errors import ProcessError
from .records import RawLine, Record

FORMATS = ("txt", "jsonl", "spacy")
RESERVED_OUTPUT_FIELDS = ("id", "entities")
_GLOB_CHARS = set("*?[")
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class InputFile:
    path: Path
    # Stable name used in record ids and messages: relative to the directory or glob root.
    name: str
    format: str
    compressed: bool


def input_format(path: Path) -> Optional[InputFile]:
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    if compressed:
        suffixes = suffixes[:-1]
    if not suffixes or suffixes[-1][1:] not in FORMATS:
        return None
    return InputFile(path, path.name, suffixes[-1][1:], compressed)


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    static = []
    for part in parts:
        if _GLOB_CHARS & set(part):
            break
        static.append(part)
    return Path(*static) if static else Path(".")


def resolve_inputs(input_spec: str) -> List[InputFile]:
    """The input files in processing order. Unsupported files inside a directory or glob
    are refused rather than skipped, so that nothing is dropped silently."""
    path = Path(input_spec)
    if path.is_file():
        found = input_format(path)
        if found is None:
            raise ProcessError(
                f"Unsupported input file {path}: expected .txt, .jsonl or .spacy (optionally .gz)."
            )
        return [found]
    if path.is_dir():
        root = path
        candidates = [p for p in path.rglob("*") if p.is_file()]
    elif _GLOB_CHARS & set(input_spec):
        root = _glob_root(input_spec)
        candidates = [Path(p) for p in glob.glob(input_spec, recursive=True) if Path(p).is_file()]
    else:
        raise ProcessError(f"Input {input_spec} not found: give a file, a directory or a glob.")
    files = []
    unsupported = []
    for candidate in candidates:
        found = input_format(candidate)
        if found is None:
            unsupported.append(candidate)
            continue
        name = candidate.relative_to(root).as_posix() if candidate.is_relative_to(root) else str(candidate)
        files.append(InputFile(candidate, name, found.format, found.compressed))
    if unsupported:
        listed = ", ".join(str(p) for p in sorted(unsupported)[:5])
        raise ProcessError(
            f"Input {input_spec} contains {len(unsupported)} file(s) that are not .txt, .jsonl or .spacy "
            f"(optionally .gz): {listed}. Move them away or narrow the input with a glob."
        )
    if not files:
        raise ProcessError(f"Input {input_spec} contains no .txt, .jsonl or .spacy files.")
    return sorted(files, key=lambda f: f.name)


def _open(input_file: InputFile) -> IO[bytes]:
    if input_file.compressed:
        return gzip.open(input_file.path, "rb")
    return open(input_file.path, "rb")


def _read_error(input_file: InputFile, error: Exception) -> ProcessError:
    return ProcessError(f"Cannot read {input_file.path}: {error}. Check that the file is complete and of its format.")


def _lines(input_file: InputFile) -> Iterator[bytes]:
    # Binary iteration splits on b"\n" only; text mode would also split on a lone "\r".
    try:
        with _open(input_file) as stream:
            yield from stream
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise _read_error(input_file, error) from error


def _strip_newline(raw: bytes) -> bytes:
    if raw.endswith(b"\n"):
        raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
    return raw


def _parse_txt(record: Record, raw: bytes) -> Record:
    if record.line == 1 and raw.startswith(_UTF8_BOM):
        # The file's byte-order mark, not text: keeping it would shift every entity offset.
        raw = raw[len(_UTF8_BOM):]
    try:
        record.text = _strip_newline(raw).decode("utf8")
    except UnicodeDecodeError as error:
        record.error = f"line is not valid UTF-8 ({error})"
    return record


def _reject_constant(name: str) -> None:
    raise ProcessError(f"{name} is not valid JSON")


# NaN and Infinity are not JSON: passed through, they would make the output invalid JSON.
# One decoder for all lines: json.loads with an argument builds a new decoder per call.
_JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _lone_surrogate(obj) -> Optional[str]:
    """Where a JSON string holds half of a surrogate pair (e.g. "\\ud800" alone), which no
    UTF-8 text can hold: the tokenizer and the output writer would fail on it."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf8")
    except UnicodeEncodeError as error:
        return f"a lone surrogate {error.object[error.start:error.end]!r} (half of a \\u escape pair), which is not valid Unicode"
    return None


def _parse_jsonl(record: Record, raw: bytes, text_key: str, id_key: str) -> Record:
    try:
        # Decoded as json.loads decodes bytes (UTF-8, -16 or -32, by the first bytes).
        obj = _JSON_DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        record.error = f"invalid JSON ({error})"
        return record
    # Only a \u escape can produce a lone surrogate; the full check is skipped for other lines.
    if b"\\ud" in raw or b"\\uD" in raw:
        surrogate = _lone_surrogate(obj)
        if surrogate is not None:
            record.error = f"the record holds {surrogate}"
            return record
    if not isinstance(obj, dict):
        record.error = f"expected a JSON object, got {type(obj).__name__}"
        return record
    if id_key in obj:
        record.id = obj[id_key]
    if text_key not in obj:
        record.error = f"missing text field {text_key!r} (set the field name with --text-key)"
        return record
    text = obj[text_key]
    if not isinstance(text, str):
        record.error = f"text field {text_key!r} is {type(text).__name__}, not a string"
        return record
    carried = {k: v for k, v in obj.items() if k not in (text_key, id_key)}
    clashing = [k for k in RESERVED_OUTPUT_FIELDS if k in carried]
    if clashing:
        record.error = (
            f"field(s) {', '.join(map(repr, clashing))} would be overwritten by the output's own; "
            f"rename them in the input"
        )
        return record
    record.text = text
    record.carried = carried
    return record


def _spacy_docs(input_file: InputFile) -> Iterator:
    # A DocBin is a single compressed blob: one file is loaded at a time.
    try:
        with _open(input_file) as stream:
            data = stream.read()
        doc_bin = DocBin().from_bytes(data)
    except Exception as error:  # msgpack/zlib raise many types for a corrupt file
        raise _read_error(input_file, error) from error
    return doc_bin.get_docs(Vocab())


def count_file_records(input_file: InputFile) -> int:
    if input_file.format == "spacy":
        return sum(1 for _ in _spacy_docs(input_file))
    return sum(1 for _ in _lines(input_file))


def parse_raw_record(record: Record) -> Record:
    """Fill in a record read with iter_records(parse=False) from its raw line."""
    raw = record.raw
    if raw is None:
        return record
    record.raw = None
    if raw.format == "txt":
        return _parse_txt(record, raw.data)
    return _parse_jsonl(record, raw.data, raw.text_key, raw.id_key)


def iter_records(
    files: List[InputFile], *, text_key: str = "text", id_key: str = "id", skip: int = 0, parse: bool = True
) -> Iterator[Record]:
    """Yield every record of `files` in order, one per line (per doc for .spacy),
    after the first `skip` records, which are counted but not parsed.

    With parse=False, .txt and .jsonl records carry their raw line instead (Record.raw),
    for parse_raw_record to parse where the record is processed: in worker processes,
    that takes the decoding off the process that reads the input."""
    index = 0
    for input_file in files:
        if input_file.format == "spacy":
            for line, doc in enumerate(_spacy_docs(input_file), 1):
                if index >= skip:
                    yield Record(
                        index,
                        input_file.name,
                        line,
                        f"{input_file.name}:{line}",
                        words=[t.text for t in doc],
                        spaces=[bool(t.whitespace_) for t in doc],
                    )
                index += 1
            continue
        for line, raw in enumerate(_lines(input_file), 1):
            if index >= skip:
                record = Record(index, input_file.name, line, f"{input_file.name}:{line}")
                record.raw = RawLine(raw, input_file.format, text_key, id_key)
                yield parse_raw_record(record) if parse else record
            index += 1
    if index < skip:
        raise ProcessError(
            f"--resume: the output already accounts for {skip} input records, but the input has only "
            f"{index}. Is this the same input as the interrupted run?"
        )
