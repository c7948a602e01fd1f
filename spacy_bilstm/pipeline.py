"""The `bilstm_ner` component: a TrainablePipe that writes `doc.ents` (and a span group with
each entity's probability) from a BiLSTM-CRF tagger. spaCy glue only: every tensor operation
happens in `layers` and `nn`."""
import warnings
from itertools import islice
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import srsly
from spacy import util
from spacy.language import Language
from spacy.pipeline.trainable_pipe import TrainablePipe
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from . import backends, layers
from .architectures import READING_ATTRS
from .errors import ModelLoadError
from .tags import PREFIXES, BiluoTags, UnknownLabelError

DEFAULT_MODEL_CONFIG_STR = """
[model]
@architectures = "spacy-bilstm.BiLSTMCRF.v3"
hidden_width = 128
depth = 1
dropout = 0.3
bidirectional = true
output = "crf"
reading = "document"
context = "sentence"
window = 200

[model.tok2vec]
@architectures = "spacy-bilstm.WordCharEmbed.v3"
width = 96
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [20000, 2000, 5000, 2500]
include_static_vectors = false
include_char_cnn = true
char_embed_width = 32
char_filters = 64
char_window = 3
char_rows = 1024
max_chars = 20
identity_dropout = 0.5
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_MODEL_CONFIG_STR)["model"]
DEFAULT_SPANS_KEY = "bilstm_ner"

# One predicted entity: (start token, end token exclusive, label, probability).
Entity = Tuple[int, int, str, float]


@Language.factory(
    "bilstm_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
    default_config={
        "model": DEFAULT_MODEL,
        "spans_key": DEFAULT_SPANS_KEY,
        "threshold": 0.0,
        "scorer": {"@scorers": "spacy.ner_scorer.v1"},
        "backend": backends.DEFAULT_BACKEND,
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_bilstm_ner(
    nlp: Language, name: str, model: Model, spans_key: str, threshold: float, scorer: Optional[Callable],
    backend: str = backends.DEFAULT_BACKEND,
) -> "BiLSTMEntityRecognizer":
    """A BiLSTM-CRF named-entity recognizer.

    model: a BiLSTMCRF architecture (token features -> LSTM -> tag emission scores).
    spans_key: every predicted entity also goes to doc.spans[spans_key], with its probability
        in attrs["scores"], whether or not it clears the threshold.
    threshold: entities whose probability is below it are left out of doc.ents.
    backend: what a loaded pipeline predicts with: "torch", or "onnxruntime" (`spacy-bilstm export`).
    """
    return BiLSTMEntityRecognizer(nlp.vocab, model, name, spans_key=spans_key, threshold=threshold, scorer=scorer,
                                  backend=backend)


class BiLSTMEntityRecognizer(TrainablePipe):
    """Named entities from a BiLSTM-CRF tagger over BILUO tags, with each entity's probability.

    DOCS: README.md, "Using the component".
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "bilstm_ner",
        *,
        spans_key: str = DEFAULT_SPANS_KEY,
        threshold: float = 0.0,
        scorer: Optional[Callable] = None,
        backend: str = backends.DEFAULT_BACKEND,
    ):
        """Initialize the entity recognizer.

        vocab (Vocab): The shared vocabulary.
        model (Model[List[Doc], TaggerOutput]): A BiLSTMCRF architecture.
        name (str): The component instance name, used to add entries to the losses during training.
        spans_key (str): Key of doc.spans where every predicted entity goes, with its probability.
        threshold (float): Entities whose probability is below it are left out of doc.ents.
        scorer (Optional[Callable]): The scoring method (default: spacy.ner_scorer.v1).
        backend (str): What from_disk makes the model predict with: "torch", or "onnxruntime" (the
            ONNX graphs `spacy-bilstm export` writes into the component's directory; see backends.py).
        """
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"[components.{name}] threshold must be between 0 and 1, got {threshold}.")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.backend = backends.check_backend(backend, name)
        # temperature: divides the model's scores when entity probabilities are computed
        # (fitted on dev data for calibration; decoding is unaffected). Stored with the model.
        self.cfg: Dict = {"labels": [], "spans_key": spans_key, "threshold": threshold, "temperature": 1.0}
        # spans_key and threshold are settings of the pipeline's config: on loading, the values the
        # component was built with (config.cfg, plus any override given to spacy.load) win over the
        # copies saved in cfg, so that a config override is obeyed.
        self._configured_settings: Dict = {"spans_key": spans_key, "threshold": threshold}
        self._tags = BiluoTags([])

    @property
    def labels(self) -> Tuple[str, ...]:
        """RETURNS (Tuple[str]): The entity labels, in the order of the output layer's tags."""
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        """RETURNS (List[str]): The labels, for [initialize.components.NAME.labels]."""
        return list(self.labels)

    @property
    def spans_key(self) -> str:
        """RETURNS (str): The key of doc.spans that holds every predicted entity and its probability."""
        return self.cfg["spans_key"]

    @property
    def threshold(self) -> float:
        """RETURNS (float): The least probability an entity needs to enter doc.ents."""
        return self.cfg["threshold"]

    @property
    def temperature(self) -> float:
        """RETURNS (float): What the model's scores are divided by for entity probabilities
        (fitted by `spacy-bilstm calibrate`; 1.0 = as trained). Decoding does not depend on it."""
        return self.cfg.get("temperature", 1.0)

    @property
    def _tagger(self) -> Model:
        return self.model.get_ref("tagger")

    @staticmethod
    def _check_label(label: str) -> None:
        if not isinstance(label, str) or not label:
            raise ValueError(f"Entity labels must be non-empty strings, got {label!r}.")

    def add_label(self, label: str) -> int:
        """Add an entity label before the component is initialized.

        label (str): The label to add.
        RETURNS (int): 0 if the label was already present, otherwise 1.
        """
        self._check_label(label)
        if label in self.labels:
            return 0
        if layers.is_configured(self._tagger):
            raise ValueError(
                f"Cannot add the label {label!r} to '{self.name}' after it was initialized: its output layer "
                f"is sized for {list(self.labels)}. Add every label before nlp.initialize(), or list them in "
                f"[initialize.components.{self.name}.labels], and initialize again (which retrains from scratch)."
            )
        self.cfg["labels"].append(label)
        return 1

    def _add_labels_for_initialize(self, labels: Iterable[str]) -> None:
        # initialize rebuilds the output layer, so here a label may be added to a configured model.
        for label in labels:
            self._check_label(label)
            if label not in self.labels:
                self.cfg["labels"].append(label)

    def _configure_tags(self) -> None:
        self._tags = BiluoTags(self.labels)
        layers.configure_tags(
            self._tagger, self._tags.allowed_start, self._tags.allowed_end, self._tags.allowed_transitions
        )
        # Saved with the weights, so that loading can tell a cfg whose labels were renamed or
        # reordered: the weights predict tags by position.
        self._tagger.attrs["labels"] = list(self.labels)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Add the labels in `labels`, or else those of the examples' entities, to any labels
        added before (add_label), then build the output layer and initialize the model on a
        sample of the examples. Initializing again starts the model afresh.

        get_examples (Callable[[], Iterable[Example]]): Function that returns the training examples.
        nlp (Language): The current nlp object the component is part of.
        labels (Optional[Sequence[str]]): The labels to add, e.g. from [initialize.components.NAME.labels].
        """
        validate_get_examples(get_examples, "BiLSTMEntityRecognizer.initialize")
        if labels is None:
            labels = sorted({ent.label_ for eg in get_examples() for ent in eg.reference.ents})
        self._add_labels_for_initialize(labels)
        if not self.labels:
            raise ValueError(
                f"'{self.name}' found no entity labels: the training examples have no entities and no labels "
                f"were given. Check the training data, or list the labels in "
                f"[initialize.components.{self.name}.labels]."
            )
        self._configure_tags()
        doc_sample = [eg.predicted for eg in islice(get_examples(), 10)]
        self.model.initialize(X=doc_sample)

    def predict(self, docs: Iterable[Doc]) -> List[List[Entity]]:
        """Apply the model to a batch of docs, without modifying them.

        docs (Iterable[Doc]): The documents to predict.
        RETURNS (List[List[Tuple[int, int, str, float]]]): Each doc's entities as (start token,
            end token, label, probability): the CRF's best valid tag path gives the entities, and
            each gets the probability of its exact tag sub-path.
        """
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            return [[] for _ in docs]
        with layers.inference_mode():
            output = self.model.predict(docs)
        paths = layers.best_paths(self._tagger, output)
        flat = [
            (segment_index, span)
            for segment_index, path in enumerate(paths)
            for span in self._tags.spans_from_ids(path)
        ]
        probabilities = layers.span_probabilities(
            output,
            [segment_index for segment_index, _ in flat],
            [span[0] for _, span in flat],
            [self._tags.span_tag_ids(span) for _, span in flat],
            self.temperature,
        )
        entities: List[List[Entity]] = [[] for _ in docs]
        for (segment_index, (start, end, label)), probability in zip(flat, probabilities):
            doc_index, offset, _ = output.units[segment_index]
            entities[doc_index].append((offset + start, offset + end, label, float(probability)))
        return entities

    def set_annotations(self, docs: Iterable[Doc], entities: List[List[Entity]]) -> None:
        """Modify a batch of docs with the predicted entities. Every predicted entity goes to
        doc.spans[spans_key] with its probability. doc.ents keeps the entities a component before
        this one set (an entity_ruler, say) and adds the predicted entities that reach the
        threshold and overlap none of them, as spaCy's `ner` respects existing entities.

        docs (Iterable[Doc]): The documents to modify.
        entities (List[List[Tuple[int, int, str, float]]]): The output of `predict`.
        """
        for doc, doc_entities in zip(docs, entities):
            spans = [Span(doc, start, end, label=label) for start, end, label, _ in doc_entities]
            scores = [score for *_, score in doc_entities]
            doc.spans[self.spans_key] = SpanGroup(doc, name=self.spans_key, spans=spans, attrs={"scores": scores})
            existing = list(doc.ents)
            taken = {i for ent in existing for i in range(ent.start, ent.end)}
            kept = [
                span
                for span, score in zip(spans, scores)
                if score >= self.threshold and taken.isdisjoint(range(span.start, span.end))
            ]
            doc.set_ents(existing + kept, default="outside")

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from a batch of examples: validate, set the dropout, predict, compute the loss
        and its gradient (get_loss), backpropagate, and apply the optimizer.

        examples (Iterable[Example]): A batch of examples to learn from.
        drop (float): The dropout rate.
        sgd (Optional[Optimizer]): The optimizer.
        losses (Optional[Dict[str, float]]): Optional record of the loss during training.
        RETURNS (Dict[str, float]): The updated losses dictionary.
        """
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "BiLSTMEntityRecognizer.update")
        if not any(len(eg.predicted) for eg in examples):
            return losses
        set_dropout_rate(self.model, drop)
        output, backprop = self.model.begin_update([eg.predicted for eg in examples])
        loss, d_output = self.get_loss(examples, output)
        backprop(d_output)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], output: "layers.TaggerOutput") -> Tuple[float, "layers.TaggerGradient"]:
        """The CRF negative log-likelihood of the gold tags, and its gradient with respect to
        the model's output (the emissions and the CRF's scores). Tokens whose gold tag is
        unknown (misaligned or unannotated) are marginalised. Nothing in the model changes:
        the gradient reaches the weights through the model's backprop.

        examples (Iterable[Example]): The batch of examples.
        output (TaggerOutput): The model's output for the examples' predicted docs.
        RETURNS (Tuple[float, TaggerGradient]): The loss and the gradient.
        """
        validate_examples(examples, "BiLSTMEntityRecognizer.get_loss")
        examples = list(examples)
        gold_of_docs = [self._gold_tag_ids(eg) for eg in examples]
        gold = [self._tags.cut_to_segment(gold_of_docs[doc_index], start, end) for doc_index, start, end in output.units]
        return layers.tagger_loss(self._tagger, output, gold)

    def _gold_tag_ids(self, example: Example):
        try:
            return self._tags.ids_from_biluo(example.get_aligned_ner())
        except UnknownLabelError as error:
            text = example.reference.text
            excerpt = text if len(text) <= 60 else text[:57] + "..."
            raise UnknownLabelError(
                f"'{self.name}': the training example {excerpt!r} has an entity label it was not initialized "
                f"with. {error} The labels are fixed by nlp.initialize(): list every label of the training "
                f"data in [initialize.components.{self.name}.labels] (or leave that setting out, to take the "
                f"labels from the training data) and initialize again."
            ) from None

    # Serialization: TrainablePipe's, except that the output layer is built for the saved labels
    # before the weights are loaded into it, the config's spans_key and threshold win over the
    # saved copies, and a damaged or mismatched file gets an error that names it.

    def _update_cfg(self, cfg, source: str) -> None:
        labels = cfg.get("labels") if isinstance(cfg, dict) else None
        if not (
            isinstance(labels, list)
            and all(isinstance(label, str) and label for label in labels)
            and len(set(labels)) == len(labels)
        ):
            raise ModelLoadError(
                f"Component '{self.name}': {source} must be a JSON object whose \"labels\" is a list of distinct, "
                f"non-empty strings. Restore it from a good copy of the pipeline, or retrain."
            )
        self.cfg.update(cfg)
        self.cfg.update(self._configured_settings)

    def _load_model(self, data: bytes, source: str) -> None:
        if self.labels:
            self._configure_tags()
            # The output width and labels the weights were trained for are read with them, to
            # be compared with the cfg's labels below.
            self._tagger.set_dim("nO", None, force=True)
            self._tagger.attrs.pop("labels", None)
        configured_reading = {key: self.model.attrs[key] for key in READING_ATTRS if key in self.model.attrs}
        try:
            self.model.from_bytes(data)
        except Exception as error:  # msgpack, thinc and torch raise several types for a damaged file
            self._check_trained_labels(source)
            if isinstance(error, ModelLoadError):
                raise ModelLoadError(f"Component '{self.name}' ({source}): {error}") from None
            raise ModelLoadError(
                f"Component '{self.name}' could not load its model from {source}: {type(error).__name__}: "
                f"{error}. The file is truncated or corrupted, or it was saved from a different config. Restore "
                f"the pipeline directory from a good copy, or retrain."
            ) from None
        self._check_trained_labels(source)
        self._tagger.attrs["labels"] = list(self.labels)
        # thinc restores the attrs saved with the weights; the config this pipeline was loaded
        # with decides how it reads, as it decides the threshold.
        self.model.attrs.update(configured_reading)

    def _check_trained_labels(self, source: str) -> None:
        """The weights predict tags by position: a cfg whose labels were renamed, reordered,
        added or dropped would give entities the wrong labels, or fail with a shape error."""
        if not self.labels:
            return
        trained = self._tagger.attrs.get("labels")
        if trained is not None and list(trained) != list(self.labels):
            raise ModelLoadError(
                f"Component '{self.name}': the weights in {source} were trained for the labels {list(trained)}, "
                f"but its cfg lists {list(self.labels)}, so entities would get the wrong labels. Restore the cfg "
                f"saved with these weights, or retrain."
            )
        n_tags = self._tagger.get_dim("nO") if self._tagger.has_dim("nO") is True else None
        if trained is None and n_tags is not None and n_tags != len(self._tags):
            raise ModelLoadError(
                f"Component '{self.name}': the weights in {source} were trained for {(n_tags - 1) // len(PREFIXES)} "
                f"entity label(s) ({n_tags} BILUO tags), but its cfg lists {len(self.labels)}: {list(self.labels)}. "
                f"Restore the cfg saved with these weights, or retrain."
            )

    def _warn_about_unsaved_settings(self) -> None:
        for key, configured in self._configured_settings.items():
            value = self.cfg[key]
            if value != configured:
                warnings.warn(
                    f"'{self.name}': cfg[{key!r}] was changed to {value!r} at runtime, but the pipeline's config "
                    f"says {configured!r}, and a loaded pipeline follows its config. To keep {value!r}, set it in "
                    f"[components.{self.name}] of the saved config.cfg, or when loading: spacy.load(path, "
                    f"config={{'components': {{'{self.name}': {{'{key}': {value!r}}}}}}}).",
                    stacklevel=3,
                )

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        self._warn_about_unsaved_settings()
        return super().to_bytes(exclude=exclude)

    def to_disk(self, path, *, exclude: Iterable[str] = tuple()) -> None:
        self._warn_about_unsaved_settings()
        super().to_disk(path, exclude=exclude)
        backends.save_graphs(self.model, Path(path))

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "BiLSTMEntityRecognizer":
        self._validate_serialization_attrs()
        source = "the bytes"
        deserializers = {
            "cfg": lambda data: self._update_cfg(_json(data, f"the cfg in {source}", self.name), f"the cfg in {source}"),
            "vocab": lambda data: self.vocab.from_bytes(data, exclude=exclude),
            "model": lambda data: self._load_model(data, f"the model in {source}"),
        }
        util.from_bytes(bytes_data, deserializers, exclude)
        return self

    def from_disk(self, path, *, exclude: Iterable[str] = tuple()) -> "BiLSTMEntityRecognizer":
        self._validate_serialization_attrs()
        deserializers = {
            "vocab": lambda p: self.vocab.from_disk(p, exclude=exclude),
            "cfg": lambda p: self._update_cfg(_json(self._read(p, "cfg file"), str(p), self.name), str(p)),
            "model": lambda p: self._load_model(self._read(p, "weights"), str(p)),
        }
        util.from_disk(Path(path), deserializers, exclude)
        if self.backend == "onnxruntime" and "model" not in exclude:
            backends.load_graphs(self.model, Path(path), self.name)
        return self

    def _read(self, path: Path, what: str) -> bytes:
        if not path.is_file():
            raise ModelLoadError(
                f"Component '{self.name}' has no {what} at {path}: the pipeline directory is incomplete"
                + ("" if path.parent.is_dir() else f" (the component's directory {path.parent} is missing)")
                + ". Copy the whole pipeline directory again, or retrain."
            )
        return path.read_bytes()


def _json(data: bytes, source: str, name: str):
    try:
        return srsly.json_loads(data)
    except ValueError as error:
        raise ModelLoadError(
            f"Component '{name}': {source} is not valid JSON ({error}); the file is corrupted. Restore it from a "
            f"good copy of the pipeline, or retrain."
        ) from None
