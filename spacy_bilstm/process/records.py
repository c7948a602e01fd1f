"""The unit of work (`Record`), its result (`Outcome`) and the one JSON serialiser
that both engines use, so that their output is identical byte for byte."""
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from spacy.tokens import Doc

from ..span_scores import span_scores

@dataclass(frozen=True)
class RawLine:
    """An unparsed .txt or .jsonl line and how to parse it."""

    data: bytes
    format: str
    text_key: str
    id_key: str


@dataclass
class Record:
    """One input record. `index` counts records over all input files (0-based, in
    processing order) and is what `--resume` counts; `line` is 1-based within `source`
    (the document number for .spacy files)."""

    index: int
    source: str
    line: int
    id: Any
    text: Optional[str] = None
    # Set for .spacy input, so that its tokenisation is kept.
    words: Optional[List[str]] = None
    spaces: Optional[List[bool]] = None
    carried: Dict[str, Any] = field(default_factory=dict)
    # Why the record cannot be processed, found while reading it (e.g. invalid JSON).
    error: Optional[str] = None
    # The line as read, while its parsing is left to whoever processes the record (a worker
    # process): see inputs.parse_raw_record.
    raw: Optional[RawLine] = None

    def n_chars(self) -> int:
        if self.text is not None:
            return len(self.text)
        if self.words is not None and self.spaces is not None:
            return sum(len(w) for w in self.words) + sum(self.spaces)
        return 0

    def without_content(self) -> "Record":
        """The record's metadata only: what an output record needs besides the entities."""
        return Record(self.index, self.source, self.line, self.id, carried=self.carried, error=self.error)


@dataclass
class Outcome:
    """The result for one record: entities, or the reason it could not be processed."""

    record: Record
    entities: Optional[List[Dict[str, Any]]] = None
    n_words: int = 0
    n_entities: int = 0
    error: Optional[str] = None
    # Only kept when the output is .spacy.
    doc: Optional[Doc] = None
    doc_bytes: Optional[bytes] = None
    # The .jsonl output line, when a worker process serialised it (dumps_line(output_record)).
    json_line: Optional[bytes] = None


def length_problem(record: Record, max_length: int) -> Optional[str]:
    n_chars = record.n_chars()
    if n_chars > max_length:
        return (
            f"document has {n_chars} characters, more than the pipeline's nlp.max_length "
            f"({max_length}); split it, or raise nlp.max_length if memory allows"
        )
    return None


def doc_entities(doc: Doc, span_keys: Sequence[str]) -> List[Dict[str, Any]]:
    scores = span_scores(doc, span_keys) if span_keys else {}
    entities = []
    for ent in doc.ents:
        entity: Dict[str, Any] = {
            "start": ent.start_char,
            "end": ent.end_char,
            "label": ent.label_,
            "text": ent.text,
        }
        score = scores.get((ent.start_char, ent.end_char, ent.label_))
        if score is not None:
            entity["score"] = score
        entities.append(entity)
    return entities


def output_record(outcome: Outcome) -> Dict[str, Any]:
    record = outcome.record
    return {"id": record.id, **record.carried, "entities": outcome.entities}


def error_record(outcome: Outcome) -> Dict[str, Any]:
    record = outcome.record
    return {
        "index": record.index,
        "file": record.source,
        "line": record.line,
        "id": record.id,
        "reason": outcome.error,
    }


def dumps_line(obj: Dict[str, Any]) -> bytes:
    """The one serialiser for output lines (both engines, output and errors files)."""
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf8")
