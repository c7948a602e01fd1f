"""Docs as annotation-tool data: JSONL/Prodigy lines, Label Studio tasks and brat `.ann` text,
with each entity's probability where the tool keeps a score, per-document metadata where it
keeps task metadata, and the annotated ranges of a partly annotated Doc."""
from typing import List, Optional

from spacy.tokens import Doc

from .errors import CorpusError
from .offsets import annotated_ranges

# Label Studio's NER labeling config: <Labels name="label" toName="text"> over <Text name="text">.
LABELSTUDIO_FROM_NAME, LABELSTUDIO_TO_NAME = "label", "text"


def entity_scores(doc: Doc, scores_key: Optional[str], doc_index: int = 0) -> List[Optional[float]]:
    """The probability of each of `doc.ents`, from the span group `scores_key` whose
    attrs["scores"] follow its spans (None for an entity the group does not hold)."""
    if scores_key is None:
        return [None] * len(doc.ents)
    if scores_key not in doc.spans:
        raise CorpusError(f"document {doc_index + 1} has no span group {scores_key!r} holding entity scores",
                          hint="pass the spans_key the entity recognizer wrote, or no scores key")
    group = doc.spans[scores_key]
    scores = group.attrs.get("scores")
    if scores is None or len(scores) != len(group):
        raise CorpusError(f"document {doc_index + 1}: span group {scores_key!r} has no attrs['scores'] with one "
                          "score per span", hint="pass the spans_key the entity recognizer wrote")
    by_span = {(span.start, span.end, span.label_): float(score) for span, score in zip(group, scores)}
    return [by_span.get((ent.start, ent.end, ent.label_)) for ent in doc.ents]


def jsonl_record(doc: Doc, scores: List[Optional[float]], meta: Optional[dict]) -> dict:
    """Our JSONL line (also Prodigy's task shape): text, tokens, spans (with "score" where
    known), sentences, "annotated" ranges when some tokens are not annotated, and "meta"."""
    record = {
        "text": doc.text,
        "tokens": [
            {"text": t.text, "start": t.idx, "end": t.idx + len(t.text), "id": t.i, "ws": bool(t.whitespace_)}
            for t in doc
        ],
        "spans": [],
    }
    for ent, score in zip(doc.ents, scores):
        span = {"start": ent.start_char, "end": ent.end_char, "label": ent.label_, "token_start": ent.start,
                "token_end": ent.end - 1}
        if score is not None:
            span["score"] = score
        record["spans"].append(span)
    if doc.has_annotation("SENT_START"):
        record["sentences"] = [{"start": s.start_char, "end": s.end_char} for s in doc.sents]
    ranges = annotated_ranges(doc)
    if ranges is not None:
        record["annotated"] = ranges
    if meta is not None:
        record["meta"] = meta
    return record


def prodigy_record(doc: Doc, scores: List[Optional[float]], meta: Optional[dict], *, gold: bool) -> dict:
    """A Prodigy task: gold entities are an accepted answer; predictions go out without an
    answer, to be annotated, with the document's meta["score"] shown by Prodigy's UI."""
    record = jsonl_record(doc, scores, meta)
    record.pop("sentences", None)
    if gold:
        record["answer"] = "accept"
    return record


def labelstudio_task(doc: Doc, scores: List[Optional[float]], meta: Optional[dict], *, gold: bool,
                     model_version: str) -> dict:
    """A Label Studio task: gold entities as an annotation, predictions (each result with its
    "score", the prediction with meta["score"]) to pre-annotate."""
    data: dict = {"text": doc.text}
    ranges = annotated_ranges(doc)
    if ranges is not None:
        data["annotated"] = ranges
    if meta is not None:
        data["meta"] = meta
    results = []
    for n, (ent, score) in enumerate(zip(doc.ents, scores)):
        result = {
            "id": f"ent{n}", "from_name": LABELSTUDIO_FROM_NAME, "to_name": LABELSTUDIO_TO_NAME, "type": "labels",
            "value": {"start": ent.start_char, "end": ent.end_char, "text": ent.text, "labels": [ent.label_]},
        }
        if score is not None:
            result["score"] = score
        results.append(result)
    if gold:
        return {"data": data, "annotations": [{"result": results, "was_cancelled": False}]}
    prediction: dict = {"model_version": model_version, "result": results}
    if meta is not None and "score" in meta:
        prediction["score"] = meta["score"]
    return {"data": data, "predictions": [prediction]}


def brat_annotations(doc: Doc, scores: List[Optional[float]], doc_index: int = 0) -> str:
    """The `.ann` text of `doc`: one T line per entity, and each score as an AnnotatorNotes
    line (brat has no score field)."""
    if any(token.ent_iob == 0 for token in doc):
        raise CorpusError(
            f"document {doc_index + 1} has tokens with no entity annotation; brat cannot say 'not annotated'",
            hint="write --to jsonl, prodigy, labelstudio or spacy instead, which keep them",
        )
    lines = []
    for n, (ent, score) in enumerate(zip(doc.ents, scores), 1):
        if any(c in ent.text for c in "\t\n\r"):
            raise CorpusError(f"document {doc_index + 1}: entity {ent.text!r} holds a tab or line break, which a "
                              "brat T line cannot hold", hint="write --to jsonl or labelstudio instead")
        lines.append(f"T{n}\t{ent.label_} {ent.start_char} {ent.end_char}\t{ent.text}\n")
        if score is not None:
            lines.append(f"#{n}\tAnnotatorNotes T{n}\tscore={score:.4f}\n")
    return "".join(lines)
