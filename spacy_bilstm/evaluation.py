"""Entity scores for any pipeline that sets `doc.ents` (ours, or spaCy's own `ner`), computed
with spaCy's scorer, plus the predictions as CoNLL columns for external scorers."""
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.scorer import get_ner_prf
from spacy.tokens import Doc
from spacy.training import Example

from .corpora import CorpusError, read_corpus
from .errors import SpacyBilstmError
from .files import atomic_write
from .loading import pipeline_of
from .reachability import Reachability, unreachable_entities

PathLike = Union[str, Path]
# Tag written for a gold token whose entity annotation is missing (spaCy ignores predictions
# there; external scorers should skip it too).
MISSING_TAG = "-"
WARM_UP_DOCS = 8


class EvaluationError(SpacyBilstmError):
    """A model or data set a user got wrong: what, where, and what to do."""


@dataclass
class EvaluationResult:
    model: str
    data: str
    precision: float
    recall: float
    f_score: float
    per_type: Dict[str, Dict[str, float]]
    gold_counts: Dict[str, int]
    predicted_counts: Dict[str, int]
    n_docs: int
    n_words: int
    seconds: float
    entity_components: List[str]
    # Per component that reads in units (bilstm_ner): its reading, and the gold entities that
    # cross the edge of one of its units on this data, which it can never predict.
    reach: Dict[str, Tuple[str, Reachability]] = field(default_factory=dict)
    # Kept for reports built on the same predictions (e.g. calibration, threshold sweeps).
    examples: List[Example] = field(default_factory=list, repr=False)

    @property
    def words_per_second(self) -> float:
        return self.n_words / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> Dict[str, Any]:
        return {
            "model": self.model,
            "data": self.data,
            "ents_p": self.precision,
            "ents_r": self.recall,
            "ents_f": self.f_score,
            "ents_per_type": {
                label: {**scores, "support": self.gold_counts.get(label, 0), "predicted": self.predicted_counts.get(label, 0)}
                for label, scores in self.per_type.items()
            },
            "docs": self.n_docs,
            "words": self.n_words,
            "seconds": self.seconds,
            "words_per_second": self.words_per_second,
            "entity_components": self.entity_components,
            "unreachable_entities": {
                name: {"reading": reading, "entities": counts.entities, "unreachable": counts.unreachable}
                for name, (reading, counts) in self.reach.items()
            },
        }

    def format_table(self) -> str:
        rate = f"{self.words_per_second:,.0f}" if self.seconds > 0 else "n/a"
        # The first column fits the longest label, so that every row lines up.
        width = max([12] + [len(label) for label in self.per_type])
        lines = [
            f"Model   {self.model}  (entities from: {', '.join(self.entity_components)})",
            f"Data    {self.data}  ({self.n_docs:,} docs, {self.n_words:,} words)",
            f"Speed   {rate} words/s ({self.seconds:.2f} s)",
            *(
                f"Reach   {name} reads by {reading}: {counts.unreachable:,} of {counts.entities:,} gold entities "
                f"cross the edge of a {reading} and cannot be predicted"
                for name, (reading, counts) in self.reach.items()
            ),
            "",
            f"{'':<{width}} {'P':>7} {'R':>7} {'F':>7} {'gold':>7} {'pred':>7}",
            f"{'micro':<{width}} {100 * self.precision:>7.2f} {100 * self.recall:>7.2f} {100 * self.f_score:>7.2f} "
            f"{sum(self.gold_counts.values()):>7,} {sum(self.predicted_counts.values()):>7,}",
        ]
        for label in sorted(self.per_type):
            scores = self.per_type[label]
            lines.append(
                f"{label:<{width}} {100 * scores['p']:>7.2f} {100 * scores['r']:>7.2f} {100 * scores['f']:>7.2f} "
                f"{self.gold_counts.get(label, 0):>7,} {self.predicted_counts.get(label, 0):>7,}"
            )
        return "\n".join(lines)


def entity_components(nlp: Language) -> List[str]:
    """The enabled components that write doc.ents (our bilstm_ner, spaCy's ner, entity_ruler...)."""
    return [name for name in nlp.pipe_names if "doc.ents" in nlp.get_pipe_meta(name).assigns]


def reading_reach(nlp: Language, predicted: List[Doc], gold_docs: List[Doc]) -> Dict[str, Tuple[str, Reachability]]:
    """For each component that decodes in reading units (a `reading` attr on its model): its
    reading and how many gold entities no unit of the predicted docs (the pipeline's own
    sentence boundaries) holds."""
    reach = {}
    for name in entity_components(nlp):
        model = getattr(nlp.get_pipe(name), "model", None)
        reading = model.attrs.get("reading") if model is not None else None
        if reading is not None:
            reach[name] = (reading, unreachable_entities(predicted, reading, gold_docs))
    return reach


def unannotated_copies(gold_docs: List[Doc], nlp: Language) -> List[Doc]:
    """The gold docs' words and spaces alone, for the pipeline to annotate."""
    return [
        Doc(nlp.vocab, words=[token.text for token in doc], spaces=[bool(token.whitespace_) for token in doc])
        for doc in gold_docs
    ]


def load_gold_docs(data: PathLike, nlp: Language) -> List[Doc]:
    """The gold docs of `data` (.spacy, raw corpus, or a directory of either) in `nlp`'s vocab."""
    try:
        return read_corpus(data, vocab=nlp.vocab, lang=nlp.lang).docs
    except CorpusError as error:
        raise EvaluationError(str(error)) from None


def evaluate(
    model: Union[PathLike, Language],
    data: PathLike,
    *,
    output: Optional[PathLike] = None,
    predictions: Optional[PathLike] = None,
    batch_size: int = 256,
    gpu_id: int = -1,
    log: Callable[[str], None] = lambda text: None,
) -> EvaluationResult:
    """Tag the words of `data` (raw corpus or .spacy) with `model` and score the entities
    against the gold ones, with spaCy's NER scorer (exact span and label match, micro average).
    Writes the scores as JSON to `output` and token/gold/predicted IOB2 columns to `predictions`."""
    nlp = pipeline_of(model, gpu_id)
    model_name = str(model) if not isinstance(model, Language) else nlp.meta.get("name", "pipeline")
    setters = entity_components(nlp)
    if not setters:
        raise EvaluationError(
            f"{model_name}: no component of this pipeline sets doc.ents (components: "
            f"{', '.join(nlp.pipe_names) or 'none'}), so there are no entities to score. Pass a pipeline "
            f"with bilstm_ner, ner or another entity recognizer."
        )
    for target in (output, predictions):
        if target is not None:
            try:
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise EvaluationError(
                    f"{target}: cannot create its folder ({error.strerror or error}). Choose another path."
                ) from None
    gold_docs = load_gold_docs(data, nlp)
    if not gold_docs:
        raise EvaluationError(f"{data}: the evaluation data holds no documents.")
    if not any(doc.ents for doc in gold_docs):
        log(f"Warning: {data} has no gold entities; precision counts every prediction as wrong and recall is 0.")
    words = unannotated_copies(gold_docs, nlp)
    # Warm up on copies first: the first call pays one-time costs (lazy imports, allocator)
    # that words/second should not include.
    list(nlp.pipe([doc.copy() for doc in words[:WARM_UP_DOCS]], batch_size=batch_size))
    start = time.perf_counter()
    predicted = list(nlp.pipe(words, batch_size=batch_size))
    seconds = time.perf_counter() - start
    examples = [Example(pred, gold) for pred, gold in zip(predicted, gold_docs)]
    scores = get_ner_prf(examples)
    result = EvaluationResult(
        model=model_name,
        data=str(data),
        precision=scores["ents_p"] or 0.0,
        recall=scores["ents_r"] or 0.0,
        f_score=scores["ents_f"] or 0.0,
        per_type=scores["ents_per_type"] or {},
        gold_counts=dict(Counter(ent.label_ for doc in gold_docs for ent in doc.ents)),
        predicted_counts=dict(Counter(ent.label_ for doc in predicted for ent in doc.ents)),
        n_docs=len(gold_docs),
        n_words=sum(len(doc) for doc in gold_docs),
        seconds=seconds,
        entity_components=setters,
        reach=reading_reach(nlp, predicted, gold_docs),
        examples=examples,
    )
    if output is not None:
        write_scores_json(output, result.to_dict())
    if predictions is not None:
        write_predictions(examples, Path(predictions))
    return result


def write_scores_json(path: PathLike, scores: Dict[str, Any]) -> None:
    """The scores as indented JSON; raises OutputWriteError when the file cannot be written."""
    text = json.dumps(scores, indent=2) + "\n"
    atomic_write(Path(path), lambda temp: temp.write_text(text, encoding="utf-8"))


def _iob_tags(doc: Doc) -> List[str]:
    tags = []
    for token in doc:
        if token.ent_iob_ == "":
            tags.append(MISSING_TAG)
        elif token.ent_iob_ == "O":
            tags.append("O")
        else:
            tags.append(f"{token.ent_iob_}-{token.ent_type_}")
    return tags


def _sentence_breaks(doc: Doc, others: List[Doc]) -> List[int]:
    """Token indices where a new sentence starts and no entity, gold or predicted, is cut:
    an entity split over two blocks would be scored as two by CoNLL scorers."""
    if not doc.has_annotation("SENT_START"):
        return []
    inside = set()
    for each in [doc, *others]:
        for ent in each.ents:
            inside.update(range(ent.start + 1, ent.end))
    return [sent.start for sent in doc.sents if sent.start > 0 and sent.start not in inside]


# Whitespace cannot appear inside a whitespace-separated column: such characters in a token (a
# spaCy whitespace token, a token with a non-breaking space) are written as these escapes, other
# whitespace as \uXXXX.
_WHITESPACE_ESCAPES = {" ": "\\s", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _cell(text: str) -> str:
    """A token as it is (a lone `\\` stays `\\`), except that whitespace inside it is escaped.
    Backslashes are not escaped: the column is for reading, scorers use only the tags, and a
    token that literally contains `\\s` is rarer than a `\\` token."""
    return "".join(_WHITESPACE_ESCAPES.get(char, f"\\u{ord(char):04x}") if char.isspace() else char for char in text)


def write_predictions(examples: List[Example], path: Path) -> None:
    """TOKEN GOLD PREDICTED per line in IOB2, a blank line between sentences and a
    `-DOCSTART- O O` line before each document: the input of conlleval and seqeval."""
    blocks: List[str] = []
    for example in examples:
        gold, pred = example.reference, example.predicted
        gold_tags, pred_tags = _iob_tags(gold), _iob_tags(pred)
        breaks = set(_sentence_breaks(gold, [pred]))
        lines = ["-DOCSTART- O O", ""]
        for i, token in enumerate(gold):
            if i in breaks:
                lines.append("")
            lines.append(f"{_cell(token.text)} {gold_tags[i]} {pred_tags[i]}")
        blocks.append("\n".join(lines) + "\n")
    text = "\n".join(blocks)
    atomic_write(path, lambda temp: temp.write_text(text, encoding="utf-8"))
