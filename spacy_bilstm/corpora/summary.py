"""What a conversion read: the counts and choices every reader reports the same way."""
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from spacy.tokens import Doc


@dataclass
class Summary:
    """What a conversion read: counts plus the format and scheme it used."""

    source: str
    format: str
    scheme: str
    documents: int = 0
    sentences: int = 0
    tokens: int = 0
    entities_per_label: Dict[str, int] = field(default_factory=dict)
    repairs: int = 0
    # Tokens whose entity tag is unknown (spaCy's missing value): the loss learns nothing there.
    missing_tokens: int = 0
    # What the reader read and left out, by what it was ("rejected answers": 2, ...).
    skipped: Dict[str, int] = field(default_factory=dict)
    format_detail: str = ""
    scheme_detail: str = ""
    notes: List[str] = field(default_factory=list)

    @property
    def entities(self) -> int:
        return sum(self.entities_per_label.values())

    def to_dict(self) -> Dict[str, object]:
        return {
            "source": self.source,
            "format": self.format,
            "scheme": self.scheme,
            "documents": self.documents,
            "sentences": self.sentences,
            "tokens": self.tokens,
            "entities": self.entities,
            "entities_per_label": dict(self.entities_per_label),
            "repairs": self.repairs,
            "unannotated_tokens": self.missing_tokens,
            "skipped": dict(self.skipped),
            "notes": list(self.notes),
        }

    def format_table(self) -> str:
        width = max([12] + [len(label) + 4 for label in self.entities_per_label])

        def row(name: str, value: object, indent: int = 2) -> str:
            shown = f"{value:,}" if isinstance(value, int) else str(value)
            return f"{' ' * indent}{name:<{width + 2 - indent}}{shown}"

        lines = [f"Read {self.source}"]
        lines.append(row("format", self.format + (f" ({self.format_detail})" if self.format_detail else "")))
        lines.append(row("scheme", self.scheme + (f" ({self.scheme_detail})" if self.scheme_detail else "")))
        for name in ("documents", "sentences", "tokens", "entities"):
            lines.append(row(name, getattr(self, name)))
        for label, count in sorted(self.entities_per_label.items()):
            lines.append(row(label, count, indent=4))
        lines.append(row("unannotated", self.missing_tokens))
        lines.append(row("repairs", self.repairs))
        if self.skipped:
            lines.append(row("skipped", sum(self.skipped.values())))
            lines.extend(f"    {what}: {count:,}" for what, count in self.skipped.items())
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format_table()


@dataclass
class ConversionResult:
    docs: List[Doc]
    summary: Summary



def summarise(
    path: Path, docs: Sequence[Doc], fmt: str, scheme: str, repairs: int, notes: List[str],
    skipped: Optional[Dict[str, int]] = None,
) -> Summary:
    labels: Counter = Counter(ent.label_ for doc in docs for ent in doc.ents)
    return Summary(
        source=str(path),
        format=fmt,
        scheme=scheme,
        documents=len(docs),
        sentences=sum(_count_sents(doc) for doc in docs),
        tokens=sum(len(doc) for doc in docs),
        entities_per_label=dict(sorted(labels.items())),
        repairs=repairs,
        missing_tokens=sum(1 for doc in docs for token in doc if token.ent_iob == 0),
        skipped={what: count for what, count in (skipped or {}).items() if count},
        notes=notes,
    )


def _count_sents(doc: Doc) -> int:
    if len(doc) == 0:
        return 0
    if doc.has_annotation("SENT_START"):
        return sum(1 for token in doc if token.is_sent_start)
    return 1

