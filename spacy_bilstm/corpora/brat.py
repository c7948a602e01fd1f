"""Reading brat standoff: pairs of a text (`NAME.txt`) and its annotations (`NAME.ann`), whose
`T` lines are character-offset entities, `T1<TAB>LABEL START END<TAB>text`. brat has no way to
say "not annotated", so a brat document is complete: every token outside an entity is O."""
from collections import Counter
from pathlib import Path
from typing import List, NoReturn, Optional, Tuple

from spacy.tokens import Doc

from .errors import CorpusError
from .offsets import build_doc, tokenized
from .summary import ConversionResult, summarise
from .text import LINE_BREAK, blank_nlp, read_text

DISCONTINUOUS = ("error", "span", "drop")
OVERLAPS = ("error", "keep-longest", "keep-first")
# Annotation lines that carry no entity span: counted and left out.
_SPANLESS_LINES = {
    "R": "relations (R lines)", "E": "events (E lines)", "A": "attributes (A lines)", "M": "attributes (M lines)",
    "N": "normalizations (N lines)", "#": "notes (# lines)", "*": "equivalences (* lines)",
}


class _Entity:
    def __init__(self, ident: str, label: str, fragments: List[Tuple[int, int]], line: int) -> None:
        self.ident, self.label, self.fragments, self.line = ident, label, fragments, line

    @property
    def start(self) -> int:
        return self.fragments[0][0]

    @property
    def end(self) -> int:
        return self.fragments[-1][1]


def is_brat(path: Path) -> bool:
    """A `.ann` file, or a folder holding one (at any depth)."""
    if path.is_file():
        return path.suffix == ".ann"
    return path.is_dir() and any(not _hidden(p, path) for p in path.rglob("*.ann"))


def read_brat(path: Path, options: dict) -> ConversionResult:
    """Read one `.ann` file (or a `.txt` with its `.ann`) or a folder of `.txt`/`.ann` pairs."""
    discontinuous, overlaps = options.get("discontinuous", "error"), options.get("overlaps", "error")
    if discontinuous not in DISCONTINUOUS:
        raise CorpusError(f"unknown --discontinuous {discontinuous!r}; choose one of {', '.join(DISCONTINUOUS)}")
    if overlaps not in OVERLAPS:
        raise CorpusError(f"unknown --overlaps {overlaps!r}; choose one of {', '.join(OVERLAPS)}")
    skipped: Counter = Counter()
    notes: List[str] = []
    pairs = _pairs(path, skipped, notes)
    tokenizer = blank_nlp(options["lang"], options["vocab"]).tokenizer
    docs: List[Doc] = []
    adjusted = stretched = 0
    for txt, ann in pairs:
        text = read_text(txt, options["encoding"])
        entities = _entities(ann, text, options["encoding"], skipped)
        stretched += sum(len(e.fragments) > 1 for e in entities) if discontinuous == "span" else 0
        entities = _without_discontinuous(ann, entities, discontinuous, skipped)
        entities = _without_overlaps(ann, entities, overlaps, skipped)

        def fail(problem: str, hint: str, span: Optional[int] = None, ann: Path = ann,
                 entities: List[_Entity] = entities) -> NoReturn:
            line = entities[span].line if span is not None else None
            raise CorpusError(problem, path=ann, line=line, hint=hint)

        doc, moved = build_doc(options["vocab"], text, tokenized(tokenizer, text),
                               [(e.start, e.end, e.label) for e in entities], fail, alignment=options["alignment"])
        adjusted += moved
        docs.append(doc)
    if stretched:
        notes.append(f"read {stretched:,} discontinuous entities as one span from their first start to their last end "
                     "(--discontinuous span)")
    if adjusted:
        notes.append(f"moved {adjusted:,} span boundaries onto token boundaries (--alignment {options['alignment']})")
    summary = summarise(path, docs, "brat", "n/a", adjusted, notes, skipped)
    summary.format_detail = f"{len(pairs)} .txt/.ann pair(s)"
    summary.scheme_detail = "character-offset spans; brat documents are complete (no unannotated tokens)"
    return ConversionResult(docs, summary)


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts) if path != root else False


def _pairs(path: Path, skipped: Counter, notes: List[str]) -> List[Tuple[Path, Path]]:
    if path.is_file():
        ann, txt = path.with_suffix(".ann"), path.with_suffix(".txt")
        if not ann.is_file():
            raise CorpusError("there is no .ann file beside the text", path=path,
                              hint=f"create {ann.name} (empty for a document without entities)")
        if not txt.is_file():
            raise CorpusError(f"there is no {txt.name} beside the annotations", path=ann,
                              hint="brat needs the text of each .ann in a .txt file of the same name")
        return [(txt, ann)]
    files = [p for p in sorted(path.rglob("*")) if p.is_file() and not _hidden(p, path)]
    anns = [p for p in files if p.suffix == ".ann"]
    texts = {p for p in files if p.suffix == ".txt"}
    for ann in anns:
        if ann.with_suffix(".txt") not in texts:
            raise CorpusError(f"there is no {ann.with_suffix('.txt').name} beside the annotations", path=ann,
                              hint="brat needs the text of each .ann in a .txt file of the same name")
    lone = sorted(texts - {ann.with_suffix(".txt") for ann in anns})
    if lone:
        skipped["text files without an .ann"] += len(lone)
        shown = ", ".join(str(p.relative_to(path)) for p in lone[:5]) + (", ..." if len(lone) > 5 else "")
        notes.append(f"left out {len(lone):,} .txt file(s) without an .ann ({shown}); create an empty .ann to read "
                     "one as a document without entities")
    others = [p for p in files if p.suffix not in (".ann", ".txt")]
    notes.extend(f"skipped {p.relative_to(path)} (not a .txt or .ann file)" for p in others)
    return [(ann.with_suffix(".txt"), ann) for ann in anns]


def _entities(ann: Path, text: str, encoding: str, skipped: Counter) -> List[_Entity]:
    content = read_text(ann, encoding) if ann.read_bytes().strip() else ""
    entities = []
    for lineno, line in enumerate(LINE_BREAK.split(content), 1):
        if not line.strip():
            continue
        kind = line.lstrip("\ufeff")[:1]
        if kind in _SPANLESS_LINES:
            skipped[_SPANLESS_LINES[kind]] += 1
            continue
        if kind != "T":
            raise CorpusError(f"the line starts with {kind!r}, which is no brat annotation (T, R, E, A, M, N, # or *)",
                              path=ann, line=lineno, hint="fix or remove the line")
        entities.append(_entity(ann, lineno, line.lstrip("\ufeff"), text))
    return entities


def _entity(ann: Path, lineno: int, line: str, text: str) -> _Entity:
    fields = line.split("\t", 2)
    head = fields[1].split(" ", 1) if len(fields) == 3 else []
    fragments = []
    for fragment in head[1].split(";") if len(head) == 2 else []:
        bounds = fragment.split()
        if len(bounds) != 2 or not all(b.isdigit() for b in bounds):
            fragments = []
            break
        fragments.append((int(bounds[0]), int(bounds[1])))
    if not fragments:
        raise CorpusError("the T line is not 'ID<TAB>LABEL START END<TAB>text'", path=ann, line=lineno,
                          hint="fix the line (several fragments are written 'START END;START END')")
    for start, end in fragments:
        if not 0 <= start < end <= len(text):
            raise CorpusError(f"the offsets {start} {end} are empty or outside the text (length {len(text)})",
                              path=ann, line=lineno, hint="fix the offsets to match the .txt file")
    covered = " ".join(text[start:end] for start, end in fragments)
    if covered != fields[2]:
        raise CorpusError(f"the line says its text is {fields[2]!r} but the .txt has {covered!r} at those offsets",
                          path=ann, line=lineno,
                          hint="the .ann does not match its .txt: fix the offsets, or check that the .txt was not "
                          "edited (or its line ends changed) after annotating")
    return _Entity(fields[0], head[0], fragments, lineno)


def _without_discontinuous(ann: Path, entities: List[_Entity], mode: str, skipped: Counter) -> List[_Entity]:
    kept = []
    for entity in entities:
        if len(entity.fragments) > 1:
            if mode == "error":
                raise CorpusError(
                    f"{entity.ident} ({entity.label}) is discontinuous ({len(entity.fragments)} fragments); an entity "
                    "tag sequence cannot hold it", path=ann, line=entity.line,
                    hint="pass --discontinuous span (one entity from its first start to its last end) or "
                    "--discontinuous drop (leave it out, counted)",
                )
            if mode == "drop":
                skipped["discontinuous entities (--discontinuous drop)"] += 1
                continue
        kept.append(entity)
    return kept


def _without_overlaps(ann: Path, entities: List[_Entity], mode: str, skipped: Counter) -> List[_Entity]:
    if mode == "error":  # name the later line of the first clash
        ranked = sorted(entities, key=lambda e: e.line)
    elif mode == "keep-longest":
        ranked = sorted(entities, key=lambda e: (-(e.end - e.start), e.start, e.line))
    else:
        ranked = sorted(entities, key=lambda e: (e.start, -(e.end - e.start), e.line))
    kept: List[_Entity] = []
    for entity in ranked:
        clash = next((k for k in kept if k.start < entity.end and entity.start < k.end), None)
        if clash is None:
            kept.append(entity)
            continue
        if mode == "error":
            raise CorpusError(
                f"{entity.ident} ({entity.label}, {entity.start}-{entity.end}) overlaps {clash.ident} ({clash.label}, "
                f"{clash.start}-{clash.end}, line {clash.line}); entities in a tag sequence cannot overlap",
                path=ann, line=entity.line,
                hint="remove one of them, or pass --overlaps keep-longest or --overlaps keep-first (counted)",
            )
        skipped[f"overlapping entities (--overlaps {mode})"] += 1
    return sorted(kept, key=lambda e: (e.start, e.line))

