"""Reading Label Studio's JSON export: a list of tasks, each with its text in `data` and
annotations whose `labels` results are character-offset spans. The latest annotation of a
task that was not cancelled is its gold; everything left out is counted."""
import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import List, NoReturn, Optional, Tuple

from spacy.tokens import Doc

from .errors import CorpusError
from .jsonl import check_text
from .offsets import build_doc, is_int, read_annotated_ranges, tokenized
from .summary import ConversionResult, summarise
from .text import blank_nlp

# Result types that label the whole task or link spans, not mark them: counted and left out.
SPANLESS_RESULT_TYPES = ("choices", "textarea", "relation", "rating", "taxonomy", "number", "datetime", "pairwise",
                         "ranker")
_WHITESPACE = " \t\r\n\ufeff"


def is_labelstudio_export(text: str) -> Optional[bool]:
    """True if `text` is a JSON list of objects that each have "data" and "annotations" or
    "predictions" (Label Studio's JSON export, or tasks to import); False for another JSON
    list; None if it is no JSON list."""
    if not text.lstrip(_WHITESPACE).startswith("["):
        return None
    try:
        tasks = json.loads(text.lstrip(_WHITESPACE))
    except (ValueError, RecursionError):
        return None
    return bool(tasks) and isinstance(tasks, list) and all(
        isinstance(task, dict) and "data" in task and ("annotations" in task or "predictions" in task)
        for task in tasks
    )


def read_labelstudio(path: Path, text: str, options: dict) -> ConversionResult:
    text_key = options.get("text_key") or "text"
    tokenizer = blank_nlp(options["lang"], options["vocab"]).tokenizer
    skipped: Counter = Counter()
    docs: List[Doc] = []
    adjusted = several = 0
    for index, (lineno, task) in enumerate(_tasks_with_lines(path, text)):
        where = f"task {index}" + (f" (id {task['id']})" if isinstance(task, dict) and "id" in task else "")

        def fail(problem: str, hint: str, span: Optional[int] = None, where: str = where, lineno: int = lineno) -> NoReturn:
            raise CorpusError(f"{where}: {problem}", path=path, line=lineno, hint=hint)

        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            fail('the task is not an object with a "data" object', "check that this is a Label Studio JSON export")
        task_text = task["data"].get(text_key)
        if not isinstance(task_text, str):
            keys = ", ".join(repr(k) for k in task["data"]) or "none"
            fail(f'data has no "{text_key}" string (its keys: {keys})', "pass --text-key with the key holding the text")
        check_text(task_text, path, lineno)
        annotation, older = _latest_annotation(task, skipped, fail)
        if annotation is None:
            skipped["tasks with only predictions" if task.get("predictions") else "tasks without an annotation"] += 1
            continue
        if older:
            several += 1
            skipped["older annotations of a task (the latest was read)"] += older
        spans = _spans(annotation, task_text, skipped, fail)
        annotated = read_annotated_ranges(task["data"].get("annotated"), len(task_text), fail)
        doc, moved = build_doc(options["vocab"], task_text, tokenized(tokenizer, task_text), spans, fail,
                               alignment=options["alignment"], annotated=annotated)
        adjusted += moved
        docs.append(doc)
    if not docs:
        raise CorpusError("the export has no task with an annotation that was not cancelled", path=path,
                          hint="annotate some tasks in Label Studio and export again")
    notes = []
    if several:
        notes.append(f"{several:,} task(s) have several annotations; the latest (by updated_at, created_at, id) was read")
    if adjusted:
        notes.append(f"moved {adjusted:,} span boundaries onto token boundaries (--alignment {options['alignment']})")
    summary = summarise(path, docs, "labelstudio", "n/a", adjusted, notes, skipped)
    summary.format_detail = f"Label Studio JSON, text from data.{text_key}"
    summary.scheme_detail = "character-offset spans"
    return ConversionResult(docs, summary)


def _tasks_with_lines(path: Path, text: str) -> List[Tuple[int, object]]:
    """The tasks of the export with the line each starts on, for errors that name the line."""
    decoder = json.JSONDecoder()
    position = len(text) - len(text.lstrip(_WHITESPACE))
    if not text.startswith("[", position):
        raise CorpusError("the file is not a JSON list of tasks", path=path, line=1,
                          hint="export the project from Label Studio as JSON, or pass another --format")
    tasks = []
    counted, line = 0, 1  # lines are counted once, from where the last count stopped

    def line_at(offset: int) -> int:
        nonlocal counted, line
        line += text.count("\n", counted, offset)
        counted = offset
        return line

    position += 1
    while True:
        position = _skip_space(text, position)
        if text.startswith("]", position):
            return tasks
        try:
            task, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as err:
            raise CorpusError(f"invalid JSON ({err.msg}, column {err.colno})", path=path, line=err.lineno,
                              hint="export the project again, or fix the file by hand") from None
        except RecursionError:
            raise CorpusError("invalid JSON (nested too deep)", path=path, line=line_at(position),
                              hint="export the project again") from None
        tasks.append((line_at(position), task))
        position = _skip_space(text, end)
        if text.startswith(",", position):
            position += 1
        elif not text.startswith("]", position):
            raise CorpusError("expected ',' or ']' after a task", path=path, line=line_at(position),
                              hint="export the project again, or fix the file by hand")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in _WHITESPACE:
        position += 1
    return position


def _latest_annotation(task: dict, skipped: Counter, fail) -> Tuple[Optional[dict], int]:
    """The task's latest annotation that was not cancelled, and how many others there are."""
    annotations = task.get("annotations") or []
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        fail('"annotations" must be a list of objects', "check that this is a Label Studio JSON export")
    kept = []
    for annotation in annotations:
        if annotation.get("was_cancelled"):
            skipped["cancelled annotations"] += 1
        else:
            kept.append(annotation)
    if not kept:
        return None, 0
    kept.sort(key=lambda annotation: _recency(annotation, fail))
    return kept[-1], len(kept) - 1


def _recency(annotation: dict, fail) -> Tuple[datetime, int]:
    stamp = annotation.get("updated_at") or annotation.get("created_at")
    when = datetime.min.replace(tzinfo=timezone.utc)
    if stamp is not None:
        try:
            when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            fail(f"annotation {annotation.get('id')!r} has the time {stamp!r}, which is not an ISO 8601 time",
                 "export the project again, or fix the time")
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    identifier = annotation.get("id")
    return when, identifier if is_int(identifier) else -1


def _spans(annotation: dict, text: str, skipped: Counter, fail) -> List[Tuple[int, int, str]]:
    results = annotation.get("result") or []
    if not isinstance(results, list):
        fail(f'annotation {annotation.get("id")!r}: "result" must be a list', "export the project again")
    spans = []
    for i, result in enumerate(results):
        kind = result.get("type") if isinstance(result, dict) else None
        if kind in SPANLESS_RESULT_TYPES:
            skipped[f"{kind!r} results (they mark no span)"] += 1
            continue
        if kind != "labels":
            fail(f"result {i} has the type {kind!r}, which this reader does not know",
                 f"NER spans are results of type 'labels'; types {', '.join(SPANLESS_RESULT_TYPES)} are counted and "
                 "left out; remove other results or use a labeling config with <Labels> over <Text>")
        value = result.get("value") or {}
        start, end, labels = value.get("start"), value.get("end"), value.get("labels")
        if not (is_int(start) and is_int(end) and 0 <= start < end <= len(text)):
            fail(f"result {i} has the offsets {start!r}, {end!r}, not a span inside the text (length {len(text)})",
                 "fix the offsets")
        if not (isinstance(labels, list) and labels and all(isinstance(label, str) and label for label in labels)):
            fail(f"result {i} ({start}, {end}) has no label", 'give the span one label in "labels"')
        if len(labels) > 1:
            fail(f"result {i} ({start}, {end}) = {text[start:end]!r} has {len(labels)} labels ({', '.join(labels)}); "
                 "an entity has one", "keep one label on the span (in the labeling config, drop choice=\"multiple\")")
        shown = value.get("text")
        if shown is not None and shown != text[start:end]:
            hint = "fix the offsets or the text"
            if any(ord(c) > 0xFFFF for c in text):
                hint = ("the text holds characters outside the Basic Multilingual Plane (e.g. emoji), which "
                        "JavaScript counts as two; " + hint)
            fail(f"result {i} says its text is {shown!r} but the text at {start}:{end} is {text[start:end]!r}", hint)
        spans.append((start, end, labels[0]))
    return spans

