"""The `bilstm_ner` component: a TrainablePipe that writes `doc.ents` (and a span group with
each entity's probability) from a BiLSTM-CRF tagger. spaCy glue only: every tensor operation
happens in `layers` and `nn`."""
from itertools import islice
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.pipeline.trainable_pipe import TrainablePipe
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from . import backends, layers
from .errors import ConfigError, LabelError
from .pipeline_io import UNTRAINED_LABELS_KEY, ComponentSerialization
from .rehearsal import DEFAULT_MIN_PROBABILITY, RehearsalTarget, open_tag_sets, rehearsal_gold, rehearsal_targets
from .tags import OUTSIDE, BiluoTags, UnknownLabelError

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
    """Create a BiLSTM-CRF named-entity recognizer, the `bilstm_ner` component.

    model (Model[List[Doc], TaggerOutput]): A BiLSTMCRF architecture: token features -> LSTM -> tag scores.
    spans_key (str): Key of doc.spans for all predicted entities, kept or not; probabilities in attrs["scores"].
    threshold (float): Entities whose probability is below it are left out of doc.ents.
    scorer (Optional[Callable]): The scoring method.
    backend (str): What a loaded pipeline predicts with: "torch", or "onnxruntime" (`spacy-bilstm export`).
    RETURNS (BiLSTMEntityRecognizer): The component.
    """
    return BiLSTMEntityRecognizer(nlp.vocab, model, name, spans_key=spans_key, threshold=threshold, scorer=scorer,
                                  backend=backend)


class BiLSTMEntityRecognizer(ComponentSerialization, TrainablePipe):
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
            raise ConfigError(f"[components.{name}] threshold must be between 0 and 1, got {threshold}.")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.backend = backends.use_backend(model, backend, name)
        # temperature: divides the model's scores when entity probabilities are computed
        # (fitted on dev data for calibration; decoding is unaffected). Stored with the model.
        self.cfg: Dict = {"labels": [], "spans_key": spans_key, "threshold": threshold, "temperature": 1.0}
        # spans_key and threshold are settings of the pipeline's config: on loading, the values the
        # component was built with (config.cfg, plus any override given to spacy.load) win over the
        # copies saved in cfg, so that a config override is obeyed.
        self._configured_settings: Dict = {"spans_key": spans_key, "threshold": threshold}
        self._tags = BiluoTags([])
        # A frozen copy of the model as it was when training resumed (nlp.resume_training(), which
        # `spacy train` calls for a sourced component): what `rehearse` keeps the model close to.
        self._rehearsal_model: Optional[Model] = None
        self._resized_since_last_step = False

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
            raise LabelError(f"Entity labels must be non-empty strings, got {label!r}.")

    def add_label(self, label: str) -> int:
        """Add an entity label. Before initialization, it joins the labels the output layer is
        built for. On an initialized (trained) component, the output layer and the CRF grow by
        the label's four tags, appended after the others, whose ids and weights do not change;
        the new tags are held out of predictions until the next update trains them, so until
        then every prediction, probabilities included, is exactly what it was.

        label (str): The label to add.
        RETURNS (int): 0 if the label was already present, otherwise 1.
        """
        self._check_label(label)
        if label in self.labels:
            return 0
        self.cfg["labels"].append(label)
        if layers.is_configured(self._tagger):
            self._tags = BiluoTags(self.labels)
            layers.add_tags(self._tagger, self._tags.allowed_start, self._tags.allowed_end, self._tags.allowed_transitions)
            self._tagger.attrs["labels"] = list(self.labels)
            self.cfg[UNTRAINED_LABELS_KEY] = [*self.cfg.get(UNTRAINED_LABELS_KEY, []), label]
            self._resized_since_last_step = True
        return 1

    def _train_every_label(self) -> None:
        # Before any update: the labels added since the last one enter the output, to be trained.
        if self.cfg.pop(UNTRAINED_LABELS_KEY, None):
            layers.release_held_out_tags(self._tagger)

    def _add_labels_of(self, examples: List[Example]) -> None:
        """A component resumed from a trained pipeline (nlp.resume_training(), as `spacy train`
        does for a sourced component) is never initialized again: the labels that only the new
        training data has are added (grown into the model) as their first examples arrive, as
        spaCy's own `ner` does."""
        if self._rehearsal_model is None or not layers.is_configured(self._tagger):
            return
        for label in sorted({ent.label_ for eg in examples for ent in eg.reference.ents} - set(self.labels)):
            self.add_label(label)

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
        sample of the examples. Initializing again starts the model afresh. (`spacy train` does not
        initialize a sourced component: it resumes it, and labels only the new data has are
        added as they come; see `_add_labels_of`. To start afresh, remove `source`.)

        get_examples (Callable[[], Iterable[Example]]): Function that returns the training examples.
        nlp (Language): The current nlp object the component is part of.
        labels (Optional[Sequence[str]]): The labels to add, e.g. from [initialize.components.NAME.labels].
        """
        validate_get_examples(get_examples, "BiLSTMEntityRecognizer.initialize")
        if labels is None:
            labels = sorted({ent.label_ for eg in get_examples() for ent in eg.reference.ents})
        self._add_labels_for_initialize(labels)
        if not self.labels:
            raise LabelError(
                f"'{self.name}' found no entity labels: the training examples have no entities and no labels "
                f"were given. Check the training data, or list the labels in "
                f"[initialize.components.{self.name}.labels]."
            )
        self.cfg.pop(UNTRAINED_LABELS_KEY, None)  # every weight starts afresh
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
        return self._predict(self.model, self._tags, list(docs))[0]

    def predict_with_path_log_probs(self, docs: Iterable[Doc]) -> Tuple[List[List[Entity]], List[float]]:
        """`predict`, and each doc's log probability of its best tag path at the component's
        temperature (0 for an empty doc): what `spacy-bilstm select` ranks documents by."""
        return self._predict(self.model, self._tags, list(docs), with_path_log_probs=True)[:2]

    def _predict(
        self, model: Model, tags: BiluoTags, docs: List[Doc], with_path_log_probs: bool = False
    ) -> Tuple[List[List[Entity]], List[float], Optional["layers.TaggerOutput"]]:
        # `predict` of a model: this component's, or the frozen copy that rehearsal learns from.
        if not any(len(doc) for doc in docs):
            return [[] for _ in docs], [0.0] * len(docs), None
        with layers.inference_mode():
            output = model.predict(docs)
        paths = layers.best_paths(model.get_ref("tagger"), output)
        flat = [
            (segment_index, span)
            for segment_index, path in enumerate(paths)
            for span in tags.spans_from_ids(path)
        ]
        probabilities = layers.span_probabilities(
            output,
            [segment_index for segment_index, _ in flat],
            [span[0] for _, span in flat],
            [tags.span_tag_ids(span) for _, span in flat],
            self.temperature,
        )
        entities: List[List[Entity]] = [[] for _ in docs]
        for (segment_index, (start, end, label)), probability in zip(flat, probabilities):
            doc_index, offset, _ = output.units[segment_index]
            entities[doc_index].append((offset + start, offset + end, label, float(probability)))
        if not with_path_log_probs:
            return entities, [], output
        path_log_probs = layers.path_log_probabilities(output, paths, self.temperature)
        return entities, layers.doc_log_probabilities(output, path_log_probs, len(docs)).tolist(), output

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
        self._add_labels_of(examples)
        self._train_every_label()
        set_dropout_rate(self.model, drop)
        output, backprop = self.model.begin_update([eg.predicted for eg in examples])
        loss, d_output = self.get_loss(examples, output)
        backprop(d_output)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def rehearse(
        self, examples: Iterable[Example], *, drop: float = 0.0, sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None, min_probability: float = DEFAULT_MIN_PROBABILITY,
        outside: bool = True,
    ) -> Dict[str, float]:
        """A rehearsal update (against forgetting, spaCy's protocol): on the examples' raw
        docs, teach the model what the frozen copy of the model as it was when training resumed
        (nlp.resume_training()) knows there. Nothing happens without that copy. Not the copy's
        best path, which tags the entities of labels added since O: its confident entities and,
        with `outside`, "none of the old labels" where it is sure of O (rehearsal.rehearsal_gold).

        examples (Iterable[Example]): A batch of examples; only their predicted docs are read.
        drop (float): The dropout rate.
        sgd (Optional[Optimizer]): The optimizer.
        losses (Optional[Dict[str, float]]): Optional record of the loss during training.
        min_probability (float): The least probability of what the copy knows, to be rehearsed.
        outside (bool): Whether to rehearse where the copy is sure there is no old entity.
        RETURNS (Dict[str, float]): The updated losses dictionary.
        """
        examples = list(examples)
        validate_examples(examples, "BiLSTMEntityRecognizer.rehearse")
        docs = [eg.predicted for eg in examples]
        targets = self.rehearsal_targets(docs, min_probability=min_probability, outside=outside)
        return self.rehearse_targets(docs, targets, drop=drop, sgd=sgd, losses=losses)

    def rehearsal_targets(
        self, docs: Iterable[Doc], *, min_probability: float = DEFAULT_MIN_PROBABILITY, outside: bool = True
    ) -> List[RehearsalTarget]:
        """What the frozen copy knows of each doc (see `rehearse`); none without the copy. It
        never changes, so a text's target may be kept and rehearsed again."""
        if self._rehearsal_model is None:
            return []
        docs = list(docs)
        frozen_tags = BiluoTags(self._rehearsal_model.get_ref("tagger").attrs.get("labels", self.labels))
        entities, _, output = self._predict(self._rehearsal_model, frozen_tags, docs)
        lengths = [len(doc) for doc in docs]  # output is None only when every doc is empty
        outside_probabilities = (layers.token_tag_probabilities(output, frozen_tags.ids[OUTSIDE], lengths, self.temperature)
                                 if outside and output is not None else None)
        return rehearsal_targets(entities, outside_probabilities, frozen_tags.labels, min_probability)

    def rehearse_targets(
        self, docs: Sequence[Doc], targets: Sequence[RehearsalTarget], *, drop: float = 0.0,
        sgd: Optional[Optimizer] = None, losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """A rehearsal update towards the given targets (from `rehearsal_targets`) of the docs."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        if not targets or not any(len(doc) for doc in docs):
            return losses
        gold_of_docs = [rehearsal_gold(self._tags, len(doc), target) for doc, target in zip(docs, targets)]
        self._train_every_label()
        set_dropout_rate(self.model, drop)
        output, backprop = self.model.begin_update(list(docs))
        gold = [self._tags.cut_to_segment(gold_of_docs[doc_index], start, end) for doc_index, start, end in output.units]
        loss, d_output = layers.tagger_loss(self._tagger, output, gold, open_tag_sets(self._tags, targets[0].labels))
        backprop(d_output)
        if sgd not in (None, False):
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def finish_update(self, sgd: Optimizer) -> None:
        """Update the weights with the gradients of the last updates. After the output layer
        grew, the optimizer's state for the weights that grew is dropped (it has their old size)."""
        if self._resized_since_last_step and isinstance(sgd, Optimizer):
            layers.forget_resized_weights(self._tagger, sgd)
        self._resized_since_last_step = False
        super().finish_update(sgd)

    def get_loss(self, examples: Iterable[Example], output: "layers.TaggerOutput") -> Tuple[float, "layers.TaggerGradient"]:
        """The CRF negative log-likelihood of the gold tags, and its gradient with respect to
        the model's output (the emissions and the CRF's scores). Tokens whose gold tag is
        unknown (misaligned or unannotated) are marginalised. Nothing in the model changes:
        the gradient reaches the weights through the model's backprop.

        examples (Iterable[Example]): The batch of examples.
        output (TaggerOutput): The model's output for the examples' predicted docs.
        RETURNS (Tuple[float, TaggerGradient]): The loss and the gradient.
        """
        examples = list(examples)  # first: spaCy's validator iterates, and would empty a generator
        validate_examples(examples, "BiLSTMEntityRecognizer.get_loss")
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
                f"labels from the training data) and initialize again, or add it to the trained component with "
                f"add_label() (which keeps what it learned)."
            ) from None
